#include "storage/lease.h"

#include <algorithm>

#include "common/log.h"

namespace tandem::storage {

result<std::unique_ptr<lease>> lease::create(file_system& fs, lease_options options, clock& clk) {
  if (auto e = validate(options)) return e;
  return std::unique_ptr<lease>(new lease(fs, std::move(options), clk));
}

lease::lease(file_system& fs, lease_options options, clock& clk) : clk_(clk), sm_(fs, std::move(options), clk) {}

lease::~lease() { stop(); }

void lease::start(std::function<void(epoch_t)> on_acquired, std::function<void(std::string)> on_lost) {
  std::lock_guard lk(mu_);
  if (thread_.joinable() || stopping_) return;
  on_acquired_ = std::move(on_acquired);
  on_lost_ = std::move(on_lost);
  thread_ = std::thread([this] { run(); });
}

void lease::run() {
  for (;;) {
    {
      std::lock_guard lk(mu_);
      if (stopping_) return;
    }
    std::vector<lease_event> events;
    clock::time_point next;
    {
      std::lock_guard g(sm_mu_);
      events = sm_.tick();
      next = sm_.next_tick_at();
    }
    for (auto& ev : events) {
      {
        std::lock_guard lk(mu_);
        if (stopping_) return;
      }
      if (ev.what == lease_event::kind::acquired) {
        if (on_acquired_) on_acquired_(ev.epoch);
      } else if (on_lost_) {
        on_lost_(std::move(ev.reason));
      }
    }
    // Sleep on the real clock, never longer than a poll interval: with a manual clock (tests)
    // the distance to `next` is not real time, and a short nap keeps the loop responsive.
    auto delay = std::clamp<clock::duration>(next - clk_.now(), clock::duration::zero(), sm_.options().poll_interval);
    std::unique_lock lk(mu_);
    cv_.wait_for(lk, delay, [this] { return stopping_ || wake_; });
    wake_ = false;
  }
}

status lease::release() {
  status s;
  {
    std::lock_guard g(sm_mu_);
    s = sm_.release();
  }
  std::lock_guard lk(mu_);
  wake_ = true;
  cv_.notify_all();
  return s;
}

void lease::holder_presumed_dead(epoch_t epoch) {
  sm_.holder_presumed_dead(epoch);
  std::lock_guard lk(mu_);
  wake_ = true;
  cv_.notify_all();
}

void lease::stop() {
  sm_.revoke();  // at once, even if the lease thread is stuck in a storage call
  std::thread t;
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
    cv_.notify_all();
    // From a callback (on the lease thread): the loop sees stopping_ and returns by itself;
    // the destructor joins it later.
    if (thread_.joinable() && thread_.get_id() == std::this_thread::get_id()) return;
    t = std::move(thread_);
  }
  if (t.joinable()) t.join();
  std::lock_guard g(sm_mu_);
  sm_.abandon();
}

}  // namespace tandem::storage
