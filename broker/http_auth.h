#pragma once
// Who is making an HTTP request and whether they may (broker/ADMIN_API.md, "Authentication
// and roles"): HTTP Basic for tools and Prometheus, a session cookie for the console, the
// roles viewer and admin, and the X-Tandem-Request guard against cross-site requests.
//
//   - No user configured: HTTP is open; every request acts as admin.
//   - Otherwise a request carries Basic credentials or the `tandem_session` cookie from
//     POST /api/v1/login. Missing or wrong: 401. Role too low: 403 naming what was refused.
//     A password that could not be checked (login_throttle.h): 429 or 503 with Retry-After.
//   - Every request that changes anything must carry `X-Tandem-Request` and come from this
//     node's own origin, whatever its credentials: http_origin.h, applied before routing.
//
// decide() is the whole policy as a pure function (unit-tested); http_auth adds the stateful
// parts: checking passwords through auth::user_directory (tens of milliseconds the first time:
// called on the HTTP threads, never on the broker's event loop) within the limits of
// login_throttle, and the session store.
//
// Threading: every member of http_auth and session_store may be called from any thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "auth/user_directory.h"
#include "broker/login_throttle.h"
#include "broker/stomp_security.h"

namespace tandem::broker {

// The one who makes a request, once admitted.
struct principal {
  std::string user;  // empty in open mode (no users configured)
  auth::http_role role = auth::http_role::none;
  const auth::user* account = nullptr;  // null in open mode
  bool via_cookie = false;

  // Destination read permission for browsing (admins and open mode may browse anything).
  bool may_read(std::string_view destination) const { return !account || account->may_read(destination); }
};

// What a request presented, after checking it.
struct credential_check {
  enum class kind { none, basic, cookie } from = kind::none;
  const auth::user* user = nullptr;  // set when the credentials were right
  std::string claimed;               // the user name given with Basic ("" for a cookie)
  // The password was not checked at all: 429 (this client failed too often lately) or 503
  // (too many checks at once), to be retried after `retry_after_s`.
  int throttled = 0;
  std::int64_t retry_after_s = 0;
};

struct auth_outcome {
  int status = 0;          // 0: admitted; else 401, 403, 429 or 503
  std::string error;       // the sentence for the JSON error
  bool challenge = false;  // 401 with WWW-Authenticate: Basic (not for the console's own requests)
  std::int64_t retry_after_s = 0;  // for Retry-After (429, 503)
  principal who;           // when admitted

  bool admitted() const { return status == 0; }
};

// The policy. `tandem_header`: the request carries X-Tandem-Request (the console's scripts:
// no Basic challenge then). `action` words the refusal: "user 'ops' (viewer) may not <action>:
// needs admin".
auth_outcome decide(bool open, const credential_check& c, bool tandem_header, auth::http_role needed,
                    std::string_view action);

// Login sessions of the console: random 32-byte tokens (hex in the cookie), in memory only,
// expiring `ttl` after login; at most `max_sessions` in all (the oldest goes first) and at most
// `max_per_user` for one user (that user's oldest goes first, so one user logging in again and
// again never signs the others out). The store keeps SHA-256 digests of the tokens, not the
// tokens.
class session_store {
 public:
  explicit session_store(std::size_t max_sessions = 1000, std::chrono::seconds ttl = std::chrono::hours(12),
                         std::size_t max_per_user = 20);
  session_store(const session_store&) = delete;
  session_store& operator=(const session_store&) = delete;

  // A new session for `user` (which must outlive the store); returns its token.
  std::string create(const auth::user& user);
  // The user of a live session, or null (unknown or expired token).
  const auth::user* find(std::string_view token);
  void end(std::string_view token);
  std::size_t size();
  std::chrono::seconds ttl() const { return ttl_; }

 private:
  struct session {
    const auth::user* user;
    std::chrono::steady_clock::time_point expires;
    std::uint64_t created;  // order of creation, to evict the oldest
  };
  void evict_locked(std::chrono::steady_clock::time_point now);
  void evict_oldest_of_locked(const auth::user& user);

  std::size_t max_;
  std::size_t max_per_user_;
  std::chrono::seconds ttl_;
  std::mutex mu_;
  std::unordered_map<std::string, session> by_digest_;
  std::map<std::uint64_t, std::string> by_age_;  // created -> digest
  std::uint64_t next_ = 0;
};

// The parts of a request http_auth looks at (kept apart from cpp-httplib so it can be tested).
struct request_credentials {
  std::string authorization;  // the Authorization header, "" if none
  std::string session_token;  // the tandem_session cookie, "" if none
  std::string peer;           // "address:port", for the log and the throttle (the address)
};

// "Basic dXNlcjpwYXNz" -> ("user", "pass"); nullopt for another scheme or bad base64.
std::optional<std::pair<std::string, std::string>> parse_basic(std::string_view header);
// The value of cookie `name` in a Cookie header ("a=1; tandem_session=abc"), "" if absent.
std::string cookie_value(std::string_view header, std::string_view name);

class http_auth {
 public:
  // Failed logins are counted in `stats.http_auth_failures`; both must outlive this object.
  // `node_name` names the session cookie (tandem_session_<node>): browsers keep cookies per
  // host name, not per port, so two nodes reached under one name must not share a cookie, or
  // signing in to one console would sign the other out.
  http_auth(auth::user_directory& users, security_stats& stats, const std::string& node_name,
            throttle_options limits = {});
  http_auth(const http_auth&) = delete;
  http_auth& operator=(const http_auth&) = delete;

  bool open() const { return users_.empty(); }
  const std::string& cookie_name() const { return cookie_name_; }

  // Checks what the request presented. A wrong Basic password is logged (peer and user) and
  // counted as a failed login.
  credential_check check(const request_credentials& r);

  // POST /api/v1/login: the user and a new session token, or null when the name or password
  // is wrong (logged and counted) or could not be checked (`throttled`, as in credential_check).
  struct login_result {
    const auth::user* user = nullptr;
    std::string token;
    int throttled = 0;
    std::int64_t retry_after_s = 0;
  };
  login_result login(std::string_view name, std::string_view password, const std::string& peer);
  void logout(std::string_view token) { sessions_.end(token); }
  session_store& sessions() { return sessions_; }

 private:
  void failed(const std::string& peer, std::string_view user, std::string_view how);
  // Checks a name and password within the throttle's limits (credential_check's fields).
  struct verified {
    const auth::user* user = nullptr;
    int throttled = 0;
    std::int64_t retry_after_s = 0;
  };
  verified verify(std::string_view name, std::string_view password, const std::string& peer, std::string_view how);

  std::string cookie_name_;

  auth::user_directory& users_;
  security_stats& stats_;
  session_store sessions_;
  login_throttle throttle_;
};

// The address part of "address:port" ("::1" of "::1:5000").
std::string peer_address(std::string_view peer);

}  // namespace tandem::broker
