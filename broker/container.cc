#include "broker/container.h"

#include <algorithm>

#include "broker/broker.h"

namespace tandem::broker {

container::container(broker& owner, std::string name, container_kind kind)
    : owner_(owner), name_(std::move(name)), kind_(kind) {}

void container::enqueue(queued q) {
  ++enqueued_;
  requeue(std::move(q));
}

void container::requeue(queued q) {
  auto& lane = lanes_[std::min<std::uint8_t>(q.msg->priority, 9)];
  auto order = q.order;
  if (q.msg->expires_ms) ++expiring_;
  lane.emplace(order, std::move(q));
  ++depth_;
}

std::vector<queued> container::remove_if(const std::function<bool(const queued&)>& pred) {
  std::vector<queued> removed;
  for (auto& lane : lanes_) {
    for (auto it = lane.begin(); it != lane.end();) {
      if (pred(it->second)) {
        if (it->second.msg->expires_ms) --expiring_;
        removed.push_back(std::move(it->second));
        it = lane.erase(it);
        --depth_;
      } else {
        ++it;
      }
    }
  }
  return removed;
}

std::int64_t container::oldest_timestamp_ms(std::int64_t unknown_ms) const {
  // The head of each lane is its oldest entry (requeued entries keep their original place).
  std::int64_t oldest = 0;
  for (const auto& lane : lanes_) {
    if (lane.empty()) continue;
    const message& m = *lane.begin()->second.msg;
    std::int64_t t = m.timestamp_ms ? m.timestamp_ms : unknown_ms;
    if (oldest == 0 || t < oldest) oldest = t;
  }
  return oldest;
}

std::size_t container::inflight() const {
  std::size_t n = 0;
  for (const subscription* s : consumers_)
    for (const auto& d : s->unacked()) n += d.source == this;
  return n;
}

void container::add_consumer(subscription* s) {
  consumers_.push_back(s);
  s->attach(this);
}

void container::remove_consumer(subscription* s) {
  std::erase(consumers_, s);
  if (next_consumer_ >= consumers_.size()) next_consumer_ = 0;
}

void container::dispatch() {
  if (owner_.stopped()) return;
  // Delivering can call back into dispatch (an auto-ack frees credit, a failed load
  // dead-letters): flatten that into another pass instead of recursing.
  if (dispatching_) {
    dispatch_again_ = true;
    return;
  }
  dispatching_ = true;
  do {
    dispatch_again_ = false;
    dispatch_once();
  } while (dispatch_again_);
  dispatching_ = false;
}

subscription* container::pick_consumer(const message& m, bool& any_credit) {
  // Round robin over consumers with credit whose selector accepts the message.
  any_credit = false;
  const std::size_t n = consumers_.size();
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t idx = (next_consumer_ + i) % n;
    subscription* s = consumers_[idx];
    if (!s->has_credit()) continue;
    any_credit = true;
    if (s->matches(m)) {
      next_consumer_ = (idx + 1) % n;
      return s;
    }
  }
  return nullptr;
}

void container::dispatch_once() {
  if (consumers_.empty() || depth_ == 0) return;
  // Highest priority first, oldest first within a priority. A message no consumer with
  // credit accepts (selectors) is skipped, so it stays for others; the pass ends when no
  // consumer has credit left.
  for (int p = 9; p >= 0; --p) {
    auto& lane = lanes_[p];
    for (auto it = lane.begin(); it != lane.end();) {
      message& m = *it->second.msg;
      if (!m.loaded && std::none_of(consumers_.begin(), consumers_.end(), [](auto* s) { return s->has_credit(); }))
        return;  // read nothing back from the journal that nobody can take now
      if (!m.loaded && !owner_.ensure_loaded(m)) {
        // Unreadable from the journal (reported by the store): drop it rather than wedge the queue.
        queued bad = std::move(it->second);
        it = lane.erase(it);
        --depth_;
        if (bad.msg->expires_ms) --expiring_;
        owner_.discard(*this, std::move(bad), "unreadable from the journal");
        continue;
      }
      bool any_credit = false;
      subscription* target = pick_consumer(m, any_credit);
      if (!any_credit) return;  // nobody can take anything more now
      if (!target) {
        ++it;
        continue;
      }
      queued entry = std::move(it->second);
      it = lane.erase(it);
      --depth_;
      if (entry.msg->expires_ms) --expiring_;
      owner_.deliver(*this, *target, std::move(entry));
      if (consumers_.empty()) return;  // the delivery closed the last consumer
    }
  }
}

}  // namespace tandem::broker
