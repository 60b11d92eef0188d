#pragma once
// The broker core: destinations, subscriptions, dispatch, acknowledgements, transactions,
// redelivery and dead-lettering, on top of the message store. Protocol-neutral: the STOMP
// session (and later MQTT, AMQP) translate their frames into these calls.
//
// Threading: single-threaded on the event loop given to the constructor. Store completions
// arrive on the journal's writer thread and are posted back to that loop.
//
// Durability: a persistent message is handed to consumers only after its record is durable,
// and the `done` callback of send()/commit() (which a session turns into a RECEIPT) runs only
// then. Acknowledgements remove references in the journal; their `done` also waits for it.

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "broker/admin_views.h"
#include "broker/config.h"
#include "broker/connection_registry.h"
#include "broker/container.h"
#include "broker/message.h"
#include "broker/resident_durables.h"
#include "broker/subscription.h"
#include "common/result.h"
#include "storage/store.h"

namespace tandem::broker {

using done_fn = std::function<void(const tandem::error&)>;

// A message on its way in, with the producer identity used for duplicate detection.
struct outgoing {
  message_ptr msg;
  std::string producer_id;  // empty: not deduplicated
  std::uint64_t producer_seq = 0;
  std::uint64_t connection = 0;  // the sender's connection id (0: none), for producer counts
};

// Work a client has done inside a transaction, applied at commit, discarded at abort.
// An open transaction is registered with the broker (broker::begin) until commit() or abort():
// while it is open, the containers its acknowledgements came from are alive (one that is
// deleted takes its acknowledgements out of every open transaction first).
struct transaction {
  std::vector<outgoing> sends;
  struct ack {
    std::string subscription_id;  // to give it back on abort if the subscription still exists
    subscription* sub;
    std::string source_name;  // its container, for a commit whose write fails (it may be gone by then)
    inflight delivery;        // delivery.source is alive while the transaction is open
  };
  std::vector<ack> acks;
};

struct broker_stats {
  std::uint64_t messages_in = 0;
  std::uint64_t messages_out = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t dead_lettered = 0;
  std::uint64_t expired = 0;
};

class broker {
 public:
  broker(asio::io_context& io, const config& cfg, storage::store& store);
  broker(const broker&) = delete;
  broker& operator=(const broker&) = delete;

  // Rebuilds queues and durable subscriptions from the store's recovered state.
  void recover();
  // Starts the once-a-second housekeeping (expiry of waiting messages, returning freed
  // memory to the OS); stop() cancels it.
  void start();
  // Stops housekeeping and all dispatch: while sessions close during a shutdown or a fence,
  // requeued messages stay where they are.
  void stop();
  bool stopped() const { return stopped_; }

  // Routes a message to its destination. For a persistent message `done` runs once it is
  // durable (or with the error that refused it, e.g. the store limit). A message whose
  // (producer_id, producer_seq) was already stored is not stored again; `done` reports
  // success so the client gets its receipt.
  // `connection` is the sender's (connection_registry id; 0 for none), counted as a producer
  // of the destination.
  void send(message_ptr msg, const std::string& producer_id, std::uint64_t producer_seq, done_fn done,
            std::uint64_t connection = 0);

  // Attaches `sub` to a destination. Durable topic subscriptions need a client id.
  // `done` runs once a new durable subscription is journaled.
  tandem::error subscribe(subscription& sub, const std::string& destination,
                          const std::string& client_id, const std::string& durable_name, done_fn done);
  // Detaches; unacknowledged messages go back for redelivery. `destroy_durable` deletes a
  // durable subscription and its pending messages.
  // `done` runs once the change is durable (a deleted durable subscription must stay deleted).
  void unsubscribe(subscription& sub, bool destroy_durable, done_fn done = nullptr);
  // Deletes an inactive durable subscription by client id and name (UNSUBSCRIBE of a
  // subscription that is not attached). Returns false if there is none.
  bool destroy_durable(const std::string& client_id, const std::string& name, done_fn done = nullptr);

  // Acknowledges the delivery `ack_id` (and, if cumulative, every earlier one of `sub`).
  // Inside a transaction the acknowledgement is held until commit. False if unknown.
  bool acknowledge(subscription& sub, std::uint64_t ack_id, bool cumulative, transaction* tx, done_fn done);
  // Gives a delivery back for redelivery (or to the dead-letter queue past the limit).
  bool reject(subscription& sub, std::uint64_t ack_id, done_fn done);

  // Registers an open transaction. REQUIRES: `tx` stays at its address until commit() or
  // abort() (a session keeps it in a map), and one of them is called before it is destroyed
  // (a closing session aborts its transactions).
  void begin(transaction& tx) { open_transactions_.insert(&tx); }
  // Both take the work out of `tx` (left empty) and unregister it before they return.
  void commit(transaction& tx, done_fn done);
  // `find_sub` resolves a subscription id of the session; null if it was closed.
  void abort(transaction& tx, const std::function<subscription*(const std::string&)>& find_sub);

  // --- called by containers during dispatch ---
  // Delivers one entry to `sub`; false if the message could not be delivered (expired or
  // unreadable; it has been dealt with).
  bool deliver(container& from, subscription& sub, queued entry);
  // Reads a recovered message's headers and body back from the journal.
  bool ensure_loaded(message& m);
  // Removes an entry for good without delivering it (logged with `why`).
  void discard(container& from, queued entry, const char* why);

  // Fencing: `valid` says whether this process still holds its lease. Nothing may be
  // acknowledged or delivered once it returns false (sessions check may_serve() before
  // every write).
  void set_fence(std::function<bool()> valid) { fence_ = std::move(valid); }
  bool may_serve() const { return !fence_ || fence_(); }
  // Called once, on the event loop, when the store has failed (a journal write or sync error,
  // e.g. an NFS call that timed out): before the failed operation's `done` runs and before
  // any write is refused for it, so the node can close its listeners and connections first.
  // A client then sees its connection closed (and re-sends to the node that takes over)
  // rather than an ERROR from a node that can no longer store anything.
  void on_store_failure(std::function<void(const tandem::error&)> f) { on_store_failure_ = std::move(f); }

  // --- administration (broker_admin.cc), for the admin API and the metrics ---
  // Every open client connection (sessions register themselves).
  connection_registry& connections() { return connections_; }
  // Every queue and topic, by name.
  std::vector<destination_view> destination_views() const;
  std::optional<destination_view> queue_view(const std::string& queue) const;
  // A page of a queue's messages, in-flight ones first, then pending ones in delivery order,
  // without consuming, reordering or marking anything. Messages recovered from the journal and
  // not read back yet are read for the page without being kept, within a budget
  // (browse_max_journal_reads, browse_max_journal_bytes): past it the page ends early, with
  // fewer than `limit` messages. nullopt for an unknown queue.
  std::optional<browse_page> browse(const std::string& queue, std::size_t offset, std::size_t limit);
  // Removes every pending (not in-flight) message of `queue`; `done` runs with how many once
  // the removals are durable. False (and no call) for an unknown queue.
  using count_fn = std::function<void(const tandem::error&, std::size_t)>;
  bool purge(const std::string& queue, count_fn done);
  // Purges `queue` and its in-flight messages, ends its consumers' subscriptions (their
  // clients are told `reason`) and forgets it. False for an unknown queue.
  bool delete_queue(const std::string& queue, const std::string& reason, count_fn done);
  // Ends every subscription of `topic` (clients told `reason`), deletes its durable
  // subscriptions and their messages, and forgets it; `done` gets the number of durable
  // subscriptions deleted. False for an unknown topic.
  bool delete_topic(const std::string& topic, const std::string& reason, count_fn done);
  std::vector<durable_view> durable_views() const;
  enum class durable_removal { removed, unknown, attached };
  // Deletes an inactive durable subscription and its messages (destroy_durable), saying why not.
  durable_removal remove_durable(const std::string& client_id, const std::string& name, done_fn done);

  container* find_container(const std::string& name);
  const std::map<std::string, std::unique_ptr<container>>& containers() const { return containers_; }
  const broker_stats& stats() const { return stats_; }
  const config& cfg() const { return cfg_; }
  std::string next_message_id();

 private:
  container& queue_container(const std::string& name);
  void route_to_topic(const outgoing& o, done_fn done);
  // Subscription containers of a topic that take `m` (selectors applied).
  std::vector<container*> topic_targets(const message& m);
  struct topic_state;
  std::vector<container*> topic_targets(const message& m, const topic_state& t);
  // A re-sent duplicate is receipted once everything written before it is durable.
  void acknowledge_duplicate(const outgoing& o, done_fn done);
  static storage::message_record record_of(const message& m, std::vector<std::string> containers,
                                          const std::string& producer_id, std::uint64_t producer_seq);
  void enqueue_new(container& c, const message_ptr& msg);
  // Counts a send from `connection` to the queue `c` and enqueues it there.
  void accept_into_queue(container& c, const message_ptr& msg, std::uint64_t connection);
  // Removes a delivery for good (acknowledged, expired, dropped): journal + counters.
  void settle(container& from, const queued& entry, storage::batch& b);
  // A delivery came back unacknowledged: requeue, or dead-letter past the redelivery limit.
  void give_back(container& from, queued entry, storage::batch& b);
  void dead_letter(container& from, queued entry, storage::batch& b, const char* why);
  void expire(container& from, queued entry, storage::batch& b);
  // Journals `b` (if not empty) and calls `done` on the event loop once durable.
  void journal(storage::batch& b, done_fn done);
  // Writes `b`; `then` runs on the event loop once it is durable, or with why not. A write
  // refused because the store is full is retried once after a checkpoint reclaimed space.
  void write_durably(std::shared_ptr<storage::batch> b, done_fn then, bool may_reclaim = true);
  // The store's explanation of why it refused a write (e.g. the store size limit).
  tandem::error refusal(std::error_code ec) const;
  // Runs the on_store_failure callback once the store has failed.
  void note_store_failure(std::error_code ec);
  void destroy_container(container& c);
  // Takes the acknowledgements of `c`'s messages out of every open transaction, before `c` is
  // destroyed; with `b`, their journal references are removed into it (a deleted queue's
  // messages must not come back at a restart, nor on the transaction's abort).
  void release_held_acks(container& c, storage::batch* b);
  void housekeeping();
  std::string dead_letter_name(const container& from) const;
  bool is_dead_letter_name(std::string_view name) const;

  // Runs `f` later on the event loop unless this broker has been destroyed by then (after a
  // fence or switchover, handlers queued earlier may still be pending).
  template <typename F>
  void post(F&& f) {
    asio::post(io_, [alive = std::weak_ptr<int>(alive_), f = std::forward<F>(f)]() mutable {
      if (!alive.expired()) f();
    });
  }

  asio::io_context& io_;
  const config& cfg_;
  storage::store& store_;
  // A topic: its subscriptions' containers and its own counts, which outlive them.
  struct topic_state {
    std::vector<container*> subscriptions;
    std::uint64_t enqueued = 0;  // messages sent to the topic
    std::uint64_t dequeued = 0;  // acknowledged by its subscriptions (each counts)
    class traffic traffic;
  };
  topic_state& topic(const std::string& name);  // creates it on first use
  // Ends `c`'s subscriptions (their clients told `reason`); their in-flight messages are
  // removed into `b`.
  void end_consumers(container& c, const std::string& reason, storage::batch& b);
  destination_view view_of(const container& q) const;
  destination_view view_of(const std::string& name, const topic_state& t) const;

  std::map<std::string, std::unique_ptr<container>> containers_;
  std::unordered_map<std::string, topic_state> topics_;
  std::unordered_set<transaction*> open_transactions_;
  connection_registry connections_;
  std::uint64_t housekeeping_ticks_ = 0;
  std::int64_t now_s_ = 0;            // coarse clock (steady seconds), advanced by housekeeping
  std::int64_t recovered_at_ms_ = 0;  // wall clock of recover(): the age floor of unread messages
  std::uint64_t next_order_ = 1;
  std::uint64_t next_ack_id_ = 1;
  std::uint64_t next_local_id_ = 1;
  std::uint64_t topic_sub_counter_ = 0;
  std::string id_prefix_;
  broker_stats stats_;
  asio::steady_timer housekeeping_;
  std::int64_t resident_at_last_trim_ = 0;
  resident_durables resident_;  // journaled bodies in memory that may be paged out for room
  std::function<bool()> fence_;
  std::function<void(const tandem::error&)> on_store_failure_;
  bool stopped_ = false;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace tandem::broker
