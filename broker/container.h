#pragma once
// A container holds messages pending delivery, in priority order (9 first) and FIFO within a
// priority, and dispatches them to the subscriptions attached to it.
//
// Kinds: a queue ("/queue/x"; competing consumers), a durable topic subscription
// ("durable:<client-id>:<name>"; kept while its client is away) and a non-durable topic
// subscription (memory only, lives as long as its subscriber).
// Single-threaded: used only on the broker's event loop.

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "broker/message.h"
#include "broker/subscription.h"
#include "broker/traffic.h"

namespace tandem::broker {

class broker;

enum class container_kind { queue, durable, topic };

class container {
 public:
  container(broker& owner, std::string name, container_kind kind);
  container(const container&) = delete;
  container& operator=(const container&) = delete;

  const std::string& name() const { return name_; }
  container_kind kind() const { return kind_; }
  // A dead-letter queue keeps its messages whatever their expiry time.
  bool dead_letter() const { return dead_letter_; }
  void set_dead_letter() { dead_letter_ = true; }
  bool expires(const message& m, std::int64_t now) const { return !dead_letter_ && m.expired(now); }
  // True when persistent messages in this container are referenced in the journal.
  bool journaled() const { return kind_ != container_kind::topic; }

  void enqueue(queued q);  // new message: behind others of its priority
  void requeue(queued q);  // back to its original place, ahead of newer messages
  // Removes every pending entry for which `pred` is true; returns them.
  std::vector<queued> remove_if(const std::function<bool(const queued&)>& pred);

  void add_consumer(subscription* s);
  void remove_consumer(subscription* s);
  const std::vector<subscription*>& consumers() const { return consumers_; }

  // Delivers pending messages to consumers with credit. Safe to call re-entrantly.
  void dispatch();

  std::size_t depth() const { return depth_; }
  // True if some pending message has an expiry time (worth sweeping).
  bool has_expiring() const { return expiring_ > 0 && !dead_letter_; }
  std::uint64_t enqueued() const { return enqueued_; }
  std::uint64_t dequeued() const { return dequeued_; }
  void count_dequeue() {
    ++dequeued_;
    if (destination_dequeued_) ++*destination_dequeued_;
  }
  // A topic subscription's container also counts its dequeues into its topic's counter
  // (which outlives the subscription).
  void count_dequeues_into(std::uint64_t* topic_counter) { destination_dequeued_ = topic_counter; }
  // A queue's producers and rates (unused for topic subscriptions: their topic has its own).
  class traffic& traffic() { return traffic_; }
  const class traffic& traffic() const { return traffic_; }

  // Calls `f(const queued&)` for every pending entry in delivery order (priority 9 first,
  // FIFO within a priority) until it returns false. Changes nothing.
  template <typename F>
  void for_each_pending(F&& f) const {
    for (int p = 9; p >= 0; --p)
      for (const auto& [order, q] : lanes_[p])
        if (!f(q)) return;
  }
  // The timestamp of the oldest pending message, or 0 when none is pending. A recovered
  // message whose headers were not read back yet has no timestamp in memory: it counts as
  // `unknown_ms` (when the node recovered it: a lower bound of its age).
  std::int64_t oldest_timestamp_ms(std::int64_t unknown_ms) const;
  // Deliveries from this container not yet acknowledged by its consumers.
  std::size_t inflight() const;

  // Topic subscription containers remember their topic and selector (durable ones too).
  std::string topic;
  std::optional<selector> filter;
  std::string client_id;  // durable: owner client-id
  bool active = false;    // durable: a subscriber is attached

 private:
  void dispatch_once();
  // A consumer with credit that accepts `m`, or null; `any_credit` says whether any had credit.
  subscription* pick_consumer(const message& m, bool& any_credit);

  broker& owner_;
  std::string name_;
  container_kind kind_;
  std::array<std::map<std::uint64_t, queued>, 10> lanes_;  // index = priority
  std::vector<subscription*> consumers_;
  std::size_t next_consumer_ = 0;
  std::size_t depth_ = 0;
  std::size_t expiring_ = 0;  // pending entries with an expiry time
  std::uint64_t enqueued_ = 0;
  std::uint64_t dequeued_ = 0;
  std::uint64_t* destination_dequeued_ = nullptr;
  class traffic traffic_;
  bool dead_letter_ = false;
  bool dispatching_ = false;
  bool dispatch_again_ = false;
};

}  // namespace tandem::broker
