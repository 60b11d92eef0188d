#pragma once
// The lease's only source of time: a monotonic clock. Wall clocks are never read by the
// lease, so a wall-clock jump (NTP step, operator `date -s`) changes nothing; clocks of two
// hosts are never compared.
//
// `clock::steady()` is the process's real monotonic clock (std::chrono::steady_clock).
// `manual_clock` is for tests: time moves only when the test moves it, so a state machine
// driven by it is deterministic. Both are safe to read from any thread.

#include <atomic>
#include <chrono>

namespace tandem::storage {

class clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  using duration = std::chrono::steady_clock::duration;

  virtual ~clock() = default;
  virtual time_point now() const = 0;

  // The process-wide real monotonic clock. Lives for the whole program.
  static clock& steady();
};

class steady_clock_source final : public clock {
 public:
  time_point now() const override { return std::chrono::steady_clock::now(); }
};

inline clock& clock::steady() {
  static steady_clock_source instance;
  return instance;
}

// Starts far from zero (and far from the real steady clock's value) so a test that mixed the
// two domains up would see absurd numbers rather than plausible ones.
class manual_clock final : public clock {
 public:
  explicit manual_clock(time_point start = time_point{} + std::chrono::hours(24 * 365))
      : now_(start.time_since_epoch().count()) {}

  time_point now() const override { return time_point{duration{now_.load()}}; }
  void advance(duration d) { now_.fetch_add(d.count()); }
  void set(time_point t) { now_.store(t.time_since_epoch().count()); }

 private:
  std::atomic<duration::rep> now_;
};

}  // namespace tandem::storage
