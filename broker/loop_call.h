#pragma once
// Waiting on another thread (the HTTP threads) for work posted to the node's event loop.
//
// The caller posts an operation that receives a `loop_done` and calls it once, on the loop,
// now or later (e.g. after a journal write became durable). The caller waits for that with a
// bound. Three ways the wait ends early:
//   - every copy of the loop_done was destroyed without being called (the core that was to
//     finish the operation was destroyed by a fence or a switchover, or the loop stopped):
//     `abandoned`, at once rather than at the timeout;
//   - the node closed the gate (it is stopping): `closed`, so a shutdown never waits for
//     HTTP requests that wait for the loop it is stopping.
//
// Threading: loop_done may be called and destroyed on any thread; loop_gate::close() too.

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>

namespace tandem::broker {

enum class loop_outcome { done, timed_out, abandoned, closed };

struct loop_gate {
  std::mutex mu;
  std::condition_variable cv;
  bool closed = false;

  void close() {
    std::lock_guard lock(mu);
    closed = true;
    cv.notify_all();
  }
};

class loop_done {
 public:
  struct state {
    std::shared_ptr<loop_gate> gate;
    bool done = false;
    bool abandoned = false;
  };

  explicit loop_done(std::shared_ptr<state> s) : token_(std::make_shared<token>(std::move(s))) {}

  // Marks the operation finished (whatever it wrote for the caller is visible to it after
  // the wait returns: the gate's mutex orders them).
  void operator()() const {
    auto& s = *token_->s;
    std::lock_guard lock(s.gate->mu);
    s.done = true;
    s.gate->cv.notify_all();
  }

 private:
  // Shared by the copies of one loop_done; the last copy to go without a call abandons it.
  struct token {
    explicit token(std::shared_ptr<state> st) : s(std::move(st)) {}
    ~token() {
      std::lock_guard lock(s->gate->mu);
      if (!s->done) s->abandoned = true;
      s->gate->cv.notify_all();
    }
    token(const token&) = delete;
    token& operator=(const token&) = delete;
    std::shared_ptr<state> s;
  };
  std::shared_ptr<token> token_;
};

// Waits until `s` is done or abandoned, the gate closes, or `timeout` passes.
inline loop_outcome wait_for(loop_done::state& s, std::chrono::milliseconds timeout) {
  std::unique_lock lock(s.gate->mu);
  s.gate->cv.wait_for(lock, timeout, [&] { return s.done || s.abandoned || s.gate->closed; });
  if (s.done) return loop_outcome::done;
  if (s.abandoned) return loop_outcome::abandoned;
  if (s.gate->closed) return loop_outcome::closed;
  return loop_outcome::timed_out;
}

}  // namespace tandem::broker
