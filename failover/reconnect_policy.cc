#include "failover/reconnect_policy.h"

#include <algorithm>
#include <cmath>

namespace tandem::failover {

reconnect_policy::reconnect_policy(const failover_options& options, std::function<double()> uniform01)
    : options_(options), uniform01_(std::move(uniform01)) {}

bool reconnect_policy::is_priority(std::size_t endpoint) const {
  const auto& ep = options_.endpoints[endpoint];
  return std::any_of(options_.priority_uris.begin(), options_.priority_uris.end(),
                     [&](const auto& p) { return p.same_address(ep); });
}

void reconnect_policy::begin(std::optional<std::size_t> lost) {
  demoted_.clear();
  if (lost) demoted_.push_back(*lost);
  pass_ = 0;
  position_ = 0;
  order_.clear();
  // ActiveMQ's rule: startupMaxReconnectAttempts=-1 (the default) leaves the first connection to
  // maxReconnectAttempts, so maxReconnectAttempts=3 alone also bounds the start.
  int limit = options_.max_reconnect_attempts;
  if (!lost && options_.startup_max_reconnect_attempts != -1) limit = options_.startup_max_reconnect_attempts;
  pass_limit_ = limit < 0 ? -1 : static_cast<long long>(limit) + 1;
}

milliseconds reconnect_policy::base_delay(int failed_passes) const {
  double ms = static_cast<double>(options_.initial_reconnect_delay.count());
  if (options_.use_exponential_backoff && failed_passes > 1)
    ms *= std::pow(options_.back_off_multiplier, failed_passes - 1);
  ms = std::min(ms, static_cast<double>(options_.max_reconnect_delay.count()));
  return milliseconds(static_cast<long long>(ms));
}

void reconnect_policy::plan_pass() {
  order_.clear();
  position_ = 0;
  std::vector<std::size_t> rest;
  for (const auto& p : options_.priority_uris)
    for (std::size_t i = 0; i < options_.endpoints.size(); ++i)
      if (options_.endpoints[i].same_address(p) && std::find(order_.begin(), order_.end(), i) == order_.end())
        order_.push_back(i);
  for (std::size_t i = 0; i < options_.endpoints.size(); ++i)
    if (std::find(order_.begin(), order_.end(), i) == order_.end()) rest.push_back(i);
  if (options_.randomize) {
    // Fisher-Yates with the injected source, so tests can predict the order.
    for (std::size_t i = rest.size(); i > 1; --i) {
      auto j = static_cast<std::size_t>(uniform01_() * static_cast<double>(i));
      std::swap(rest[i - 1], rest[std::min(j, i - 1)]);
    }
  }
  order_.insert(order_.end(), rest.begin(), rest.end());
  for (std::size_t d : demoted_) {
    auto it = std::find(order_.begin(), order_.end(), d);
    if (it != order_.end()) std::rotate(it, it + 1, order_.end());
  }
}

void reconnect_policy::demote(std::size_t endpoint) {
  if (std::find(demoted_.begin(), demoted_.end(), endpoint) == demoted_.end()) demoted_.push_back(endpoint);
}

std::optional<reconnect_policy::attempt> reconnect_policy::next() {
  milliseconds delay{0};
  if (position_ >= order_.size()) {
    if (pass_limit_ >= 0 && pass_ >= pass_limit_) return std::nullopt;
    if (pass_ > 0) {
      const double base = static_cast<double>(base_delay(pass_).count());
      delay = milliseconds(static_cast<long long>(base * (1.0 - options_.reconnect_jitter * uniform01_())));
    }
    ++pass_;
    plan_pass();
  }
  return attempt{order_[position_++], delay};
}

}  // namespace tandem::failover
