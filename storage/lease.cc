#include "storage/lease.h"

#include <algorithm>

#include "common/log.h"

namespace tandem::storage {

result<std::unique_ptr<lease>> lease::create(file_system& fs, lease_options options, clock& clk) {
  if (auto e = validate(options)) return e;
  return std::unique_ptr<lease>(new lease(fs, std::move(options), clk));
}

lease::lease(file_system& fs, lease_options options, clock& clk) : clk_(clk), sm_(fs, std::move(options), clk) {}

lease::~lease() {
  stop();
  // stop() from a callback left the threads to finish on their own; join them here.
  if (thread_.joinable()) thread_.join();
  if (watchdog_.joinable()) watchdog_.join();
}

void lease::start(std::function<void(epoch_t)> on_acquired, std::function<void(std::string)> on_lost) {
  std::lock_guard lk(mu_);
  if (thread_.joinable() || stopping_) return;
  on_acquired_ = std::move(on_acquired);
  on_lost_ = std::move(on_lost);
  thread_ = std::thread([this] { run(); });
  watchdog_ = std::thread([this] { watch(); });
}

void lease::run() {
  for (;;) {
    if (stopping()) return;
    std::vector<lease_event> events;
    clock::time_point next;
    {
      std::lock_guard g(sm_mu_);
      events = sm_.tick();
      next = sm_.next_tick_at();
    }
    for (auto& ev : events) {
      std::lock_guard cb(callback_mu_);
      if (stopping()) return;
      if (ev.what == lease_event::kind::acquired) {
        if (on_acquired_) on_acquired_(ev.epoch);
        dispatched_epoch_ = ev.epoch;
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

// Wakes at valid_until (at least every poll interval) and ends a lease the lease thread has
// not renewed in time. In the normal case the lease thread notices first (its tick is due at
// valid_until too) and this finds nothing to do; it matters when that thread is blocked in a
// storage call on a hung server.
void lease::watch() {
  const auto poll = sm_.options().poll_interval;
  for (;;) {
    auto until = sm_.valid_until();
    auto now = clk_.now();
    if (until != clock::time_point::min() && now >= until) {
      std::lock_guard cb(callback_mu_);
      if (stopping()) return;
      // Only an epoch whose on_acquired already ran: otherwise the lease thread is not stuck
      // (it is about to dispatch) and reports the loss itself, in order.
      if (sm_.held_epoch() == dispatched_epoch_) {
        if (auto ev = sm_.expire_if_past(clk_.now()); ev && on_lost_) on_lost_(std::move(ev->reason));
      }
    }
    auto delay = until == clock::time_point::min() || now >= until
                     ? clock::duration(poll)
                     : std::clamp<clock::duration>(until - now, clock::duration::zero(), poll);
    std::unique_lock lk(mu_);
    if (cv_.wait_for(lk, delay, [this] { return stopping_; })) return;
  }
}

status lease::release() {
  // Not holding (or already ended by the watchdog): nothing to give up, and no reason to wait
  // for a storage call the lease thread may be stuck in.
  if (!sm_.holding()) return {};
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
  std::thread t, w;
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
    cv_.notify_all();
    // From a callback (on the lease or watchdog thread): the loops see stopping_ and return by
    // themselves; the destructor joins them later.
    auto self = std::this_thread::get_id();
    if ((thread_.joinable() && thread_.get_id() == self) || (watchdog_.joinable() && watchdog_.get_id() == self)) {
      return;
    }
    t = std::move(thread_);
    w = std::move(watchdog_);
  }
  if (t.joinable()) t.join();
  if (w.joinable()) w.join();
  std::lock_guard g(sm_mu_);
  sm_.abandon();
}

}  // namespace tandem::storage
