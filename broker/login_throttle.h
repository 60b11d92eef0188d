#pragma once
// Limits on checking HTTP passwords (broker/ADMIN_API.md, "Authentication and roles").
//
// A password check is a PBKDF2 of tens of milliseconds, and every HTTP thread could run one:
// a client sending wrong passwords as fast as it can would keep every core busy. Three limits:
//
//   - at most `max_concurrent` checks run at once (a semaphore); a request that cannot get a
//     slot within `slot_wait` is answered 503 with Retry-After instead of waiting longer;
//   - a client address with `max_failures` failed checks within `failure_window` is answered
//     429 with Retry-After (until the oldest of those failures is that old) before its
//     password is looked at, right or wrong, so guessing goes no faster than that;
//   - failed logins are logged at most `log_lines` per `log_window`; the next line logged
//     says how many were left out.
//
// Cookie sessions never reach this class: only checks of a name and password do. Addresses
// are remembered for `failure_window` after their last failure, at most `max_clients` of them
// (past that, the one idle longest is forgotten).
//
// Threading: every member may be called from any thread at once.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <semaphore>
#include <string>
#include <unordered_map>

namespace tandem::broker {

struct throttle_options {
  std::ptrdiff_t max_concurrent = 2;
  std::chrono::milliseconds slot_wait{1000};
  std::size_t max_failures = 5;
  std::chrono::seconds failure_window{60};
  std::size_t max_clients = 10000;
  std::size_t log_lines = 10;
  std::chrono::seconds log_window{60};
};

class login_throttle {
 public:
  using clock = std::chrono::steady_clock;

  explicit login_throttle(throttle_options options = {});
  login_throttle(const login_throttle&) = delete;
  login_throttle& operator=(const login_throttle&) = delete;

  const throttle_options& options() const { return options_; }

  // Whole seconds until `client` may try a password again, or nullopt when it may now.
  std::optional<std::int64_t> backing_off(const std::string& client, clock::time_point now = clock::now());
  // Records a failed check from `client`.
  void failed(const std::string& client, clock::time_point now = clock::now());

  // A slot for one password check, released when the permit goes; empty when none came free
  // within slot_wait.
  class permit {
   public:
    permit() = default;
    explicit permit(login_throttle* owner) : owner_(owner) {}
    permit(permit&& o) noexcept : owner_(o.owner_) { o.owner_ = nullptr; }
    permit& operator=(permit&&) = delete;
    ~permit() {
      if (owner_) owner_->slots_.release();
    }
    explicit operator bool() const { return owner_ != nullptr; }

   private:
    login_throttle* owner_ = nullptr;
  };
  permit acquire();

  // Whether a failed login may be logged now: `log` (then `left_out` is the number of failed
  // logins not logged since the last line, 0 usually), `quiet` (not), or `announce_quiet` for
  // the first one left out (log that the next ones are not logged, and when that ends).
  enum class log_decision { log, announce_quiet, quiet };
  log_decision may_log(std::uint64_t& left_out, clock::time_point now = clock::now());

 private:
  void forget_idle_locked(clock::time_point now);

  throttle_options options_;
  std::counting_semaphore<> slots_;
  std::mutex mu_;
  std::unordered_map<std::string, std::deque<clock::time_point>> failures_;  // client -> times, oldest first
  clock::time_point log_window_start_{};
  std::size_t logged_in_window_ = 0;
  std::uint64_t left_out_ = 0;
};

}  // namespace tandem::broker
