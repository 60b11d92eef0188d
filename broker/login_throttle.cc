#include "broker/login_throttle.h"

#include <algorithm>

namespace tandem::broker {

login_throttle::login_throttle(throttle_options options)
    : options_(options), slots_(std::max<std::ptrdiff_t>(1, options.max_concurrent)) {}

std::optional<std::int64_t> login_throttle::backing_off(const std::string& client, clock::time_point now) {
  std::lock_guard lock(mu_);
  auto it = failures_.find(client);
  if (it == failures_.end()) return std::nullopt;
  auto& times = it->second;
  while (!times.empty() && times.front() + options_.failure_window <= now) times.pop_front();
  if (times.empty()) {
    failures_.erase(it);
    return std::nullopt;
  }
  if (times.size() < options_.max_failures) return std::nullopt;
  // Free again when enough of the failures are older than the window.
  auto until = times[times.size() - options_.max_failures] + options_.failure_window;
  auto wait = std::chrono::ceil<std::chrono::seconds>(until - now).count();
  return std::max<std::int64_t>(1, wait);
}

void login_throttle::failed(const std::string& client, clock::time_point now) {
  std::lock_guard lock(mu_);
  if (failures_.size() >= options_.max_clients && !failures_.contains(client)) forget_idle_locked(now);
  auto& times = failures_[client];
  times.push_back(now);
  // More than max_failures are never needed to answer backing_off().
  while (times.size() > options_.max_failures) times.pop_front();
}

void login_throttle::forget_idle_locked(clock::time_point now) {
  std::erase_if(failures_, [&](const auto& kv) {
    return kv.second.empty() || kv.second.back() + options_.failure_window <= now;
  });
  if (failures_.size() < options_.max_clients) return;
  // Every one failed recently (many addresses at once): forget the one idle longest.
  auto idlest = std::min_element(failures_.begin(), failures_.end(),
                                 [](const auto& a, const auto& b) { return a.second.back() < b.second.back(); });
  failures_.erase(idlest);
}

login_throttle::permit login_throttle::acquire() {
  if (!slots_.try_acquire_for(options_.slot_wait)) return permit();
  return permit(this);
}

login_throttle::log_decision login_throttle::may_log(std::uint64_t& left_out, clock::time_point now) {
  std::lock_guard lock(mu_);
  if (log_window_start_ == clock::time_point{} || now - log_window_start_ >= options_.log_window) {
    log_window_start_ = now;
    logged_in_window_ = 0;
  }
  if (logged_in_window_ >= options_.log_lines) {
    ++left_out_;
    return left_out_ == 1 ? log_decision::announce_quiet : log_decision::quiet;
  }
  ++logged_in_window_;
  left_out = left_out_;
  left_out_ = 0;
  return log_decision::log;
}

}  // namespace tandem::broker
