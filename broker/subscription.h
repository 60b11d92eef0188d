#pragma once
// A subscription: one consumer attached to one container, owned by a protocol session.

#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "broker/message.h"
#include "broker/selector.h"

namespace tandem::broker {

class container;
class subscription;

enum class ack_mode { auto_ack, client, client_individual };

// Implemented by a protocol session (STOMP today): where deliveries go.
class delivery_sink {
 public:
  virtual ~delivery_sink() = default;
  // False while the session's outbound buffer is above its high-water mark.
  virtual bool writable() const = 0;
  // Writes one message to the client. `ack_id` identifies it in a later ack.
  virtual void deliver(subscription& sub, const queued& q, std::uint64_t ack_id) = 0;
  // The subscription was ended by the broker (its destination was deleted by an
  // administrator): tell the client why. The subscription is already detached.
  virtual void subscription_ended(subscription& sub, const std::string& reason) = 0;
};

struct inflight {
  std::uint64_t ack_id;
  queued entry;
  container* source;  // where it came from (requeued there if not acknowledged)
};

class subscription {
 public:
  subscription(delivery_sink& sink, std::string id, ack_mode mode, std::uint32_t prefetch,
               std::optional<selector> sel)
      : sink_(sink), id_(std::move(id)), mode_(mode), prefetch_(prefetch), selector_(std::move(sel)) {}
  subscription(const subscription&) = delete;
  subscription& operator=(const subscription&) = delete;

  const std::string& id() const { return id_; }
  ack_mode mode() const { return mode_; }
  delivery_sink& sink() { return sink_; }
  container* source() const { return source_; }
  void attach(container* c) { source_ = c; }

  // May another message be delivered now? (prefetch window and the session's buffer)
  bool has_credit() const {
    if (!sink_.writable()) return false;
    return mode_ == ack_mode::auto_ack || inflight_.size() < prefetch_;
  }
  bool matches(const message& m) const;
  const std::optional<selector>& filter() const { return selector_; }

  std::uint32_t prefetch() const { return prefetch_; }
  std::deque<inflight>& unacked() { return inflight_; }
  const std::deque<inflight>& unacked() const { return inflight_; }
  std::uint64_t delivered_count() const { return delivered_; }
  void count_delivery() { ++delivered_; }

 private:
  delivery_sink& sink_;
  std::string id_;
  ack_mode mode_;
  std::uint32_t prefetch_;
  std::optional<selector> selector_;
  container* source_ = nullptr;
  std::deque<inflight> inflight_;  // in delivery order
  std::uint64_t delivered_ = 0;
};

// Header lookup used by selectors; maps a name to the message's value.
std::optional<std::string_view> message_property(const message& m, std::string_view name);

}  // namespace tandem::broker
