#pragma once
// The configured users (`security.users`) and the one place a name and password are checked,
// for HTTP (Basic and the console's login) and STOMP CONNECT alike.
//
// Thread-safe: authenticate() may be called from any thread at once. The first check of a
// (name, password) pair runs PBKDF2 (tens of milliseconds; never call it on the broker's event
// loop); a pair that matched is then remembered for `cache_ttl` as a keyed hash (HMAC-SHA256
// under a per-process random key, not the password), so reconnect storms and HTTP Basic on
// every request stay cheap. Wrong passwords are not cached: every guess pays the full cost.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tandem::auth {

enum class http_role { none, viewer, admin };
std::string_view to_string(http_role r);

struct user {
  std::string name;
  std::string password_hash;  // pbkdf2-sha256$... (auth/password.h), validated by the config
  http_role role = http_role::none;  // what the user may do over HTTP; admin may also do anything over STOMP
  std::vector<std::string> read;     // destination patterns (auth/permissions.h) for SUBSCRIBE / browse
  std::vector<std::string> write;    // ... for SEND

  bool may_read(std::string_view destination) const;
  bool may_write(std::string_view destination) const;
};

class user_directory {
 public:
  explicit user_directory(std::vector<user> users,
                          std::chrono::seconds cache_ttl = std::chrono::minutes(10));
  user_directory(const user_directory&) = delete;
  user_directory& operator=(const user_directory&) = delete;

  bool empty() const { return users_.empty(); }
  const std::vector<user>& users() const { return users_; }
  const user* find(std::string_view name) const;

  // The user when `password` is theirs, else null (unknown name or wrong password look the
  // same to the caller, and cost the same). Any thread; may take tens of milliseconds.
  const user* authenticate(std::string_view name, std::string_view password);

  // The user when this (name, password) pair was verified within `cache_ttl`, else null:
  // no PBKDF2, so it is cheap enough for an event loop (one HMAC). Null means "not known to be
  // good" (a wrong password is never cached): call authenticate() off the loop to decide.
  const user* authenticate_cached(std::string_view name, std::string_view password);

 private:
  std::string cache_key(std::string_view name, std::string_view password) const;
  // `u` when `key` is cached and fresh; drops a stale entry.
  const user* cached(const user* u, const std::string& key, std::chrono::steady_clock::time_point now);

  std::vector<user> users_;
  std::chrono::seconds cache_ttl_;
  std::string hmac_key_;  // random per process
  std::string dummy_hash_;  // checked for unknown names so they cost what a wrong password costs
  std::mutex mu_;
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> verified_;  // key -> expiry
};

}  // namespace tandem::auth
