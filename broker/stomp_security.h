#pragma once
// STOMP authentication and authorisation (broker/ADMIN_API.md, "Authentication and roles").
//
// With `security.enabled`, a CONNECT must carry the login and passcode of a user of
// `security.users`, and every SEND and SUBSCRIBE is checked against that user's write and read
// patterns (auth/user_directory.h). Without it nothing is checked and no thread is started.
//
// Checking a password costs a PBKDF2 (tens of milliseconds), which must never run on the
// event loop: with 10,000 clients reconnecting after a failover it would stall every other
// client. So stomp_security owns a small worker pool that runs the full check and posts the
// answer back to the session's executor. A pair verified before is answered from the user
// directory's cache on the loop (one HMAC), so a reconnect storm with known credentials costs
// one PBKDF2, not one per client.
//
// Ownership and threading: the node owns one stomp_security for its whole life (sessions of
// every activation use it) and the security_stats it counts into; both outlive every session.
// check_login()'s answer arrives on the executor given to it, through a handler that holds
// only what the caller put in it (sessions capture a weak_ptr: one closed meanwhile is skipped).
// stop() abandons checks that have not started and waits for the one running; answers it
// would still post go to a loop that is stopping. Every other member runs on the event loop,
// except stats(), whose counters any thread may read.

#include <asio/any_io_executor.hpp>
#include <asio/thread_pool.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "auth/user_directory.h"

namespace tandem::broker {

// Counters for the metrics (tandem_auth_failures_total{protocol="stomp"|"http"}) and the status.
// Any thread may read them.
struct security_stats {
  std::atomic<std::uint64_t> stomp_logins{0};         // CONNECTs accepted for a configured user
  std::atomic<std::uint64_t> stomp_auth_failures{0};  // CONNECTs refused: no login, unknown user or wrong passcode
  std::atomic<std::uint64_t> stomp_denials{0};        // SENDs and SUBSCRIBEs refused by permissions
  std::atomic<std::uint64_t> http_auth_failures{0};   // wrong HTTP Basic credentials, failed console logins
};

// A user name as a client sent it (STOMP login, HTTP Basic, the console's login), for logs and
// ERROR frames: at most 128 bytes, control characters shown as '?'. Configured names (1-128
// characters of A-Z a-z 0-9 . _ - @) pass unchanged.
std::string printable(std::string_view login);

class stomp_security {
 public:
  using login_done = std::function<void(const auth::user*)>;  // null: refused

  // `users` and `stats` must outlive this object.
  stomp_security(bool enabled, auth::user_directory& users, security_stats& stats);
  ~stomp_security();
  stomp_security(const stomp_security&) = delete;
  stomp_security& operator=(const stomp_security&) = delete;

  bool enabled() const { return enabled_; }

  // The user when this login/passcode pair was verified recently (no PBKDF2), else null: then
  // check_login() decides.
  const auth::user* cached_login(std::string_view login, std::string_view passcode);
  // Runs the full check on the worker pool; `done` runs on `reply_to` with the user, or null
  // when the login is unknown or the passcode wrong. REQUIRES: enabled().
  void check_login(std::string login, std::string passcode, asio::any_io_executor reply_to, login_done done);

  // Counts and logs (at info, with the peer and the user; never the passcode) a refused CONNECT
  // and returns the ERROR message the client gets: the same whether the user is unknown or the
  // passcode wrong ("login failed for user 'x'"), or "login required" without a login.
  std::string refuse_login(std::string_view login, std::string_view peer);
  void accepted_login(std::string_view login, std::string_view peer);
  // Counts and logs a SEND (write) or SUBSCRIBE (read) refused by permissions and returns the
  // ERROR message: "user 'x' may not write to /queue/y" / "... may not read from ...".
  std::string deny(const auth::user& u, bool write, std::string_view destination, std::string_view peer);

  // Abandons checks not started, waits for a running one. Idempotent.
  void stop();

  const security_stats& stats() const { return stats_; }

 private:
  const bool enabled_;
  auth::user_directory& users_;
  security_stats& stats_;
  std::unique_ptr<asio::thread_pool> workers_;  // only when enabled
};

}  // namespace tandem::broker
