// The consuming side of the broker core: subscriptions, deliveries, acknowledgements,
// redelivery, dead-lettering, expiry and transactions.

#include "broker/broker.h"
#include "broker/destination.h"

#include <asio/post.hpp>

#include <algorithm>
#include <set>

#include "common/log.h"

namespace tandem::broker {
tandem::error broker::subscribe(subscription& sub, const std::string& destination,
                                const std::string& client_id, const std::string& durable_name,
                                done_fn done) {
  if (is_queue(destination)) {
    container& q = queue_container(destination);
    q.add_consumer(&sub);
    q.dispatch();
    if (done) done({});
    return {};
  }
  if (!is_topic(destination)) {
    return tandem::error(std::make_error_code(std::errc::invalid_argument),
                         "destination '" + destination + "' must start with /queue/ or /topic/");
  }
  if (durable_name.empty()) {
    // A non-durable topic subscription: a private in-memory container that lives as long
    // as the subscriber.
    std::string name = "topic-sub:" + std::to_string(++topic_sub_counter_) + ":" + destination;
    auto c = std::make_unique<container>(*this, name, container_kind::topic);
    c->topic = destination;
    c->filter = sub.filter();  // the topic routes only matching messages to it
    container* raw = c.get();
    containers_[name] = std::move(c);
    auto& t = topic(destination);
    t.subscriptions.push_back(raw);
    raw->count_dequeues_into(&t.dequeued);
    raw->add_consumer(&sub);
    if (done) done({});
    return {};
  }
  if (client_id.empty()) {
    return tandem::error(std::make_error_code(std::errc::invalid_argument),
                         "a durable subscription needs a client-id header on CONNECT");
  }
  const std::string name = durable_container_name(client_id, durable_name);
  container* c = find_container(name);
  storage::batch b;
  if (c && c->active) {
    return tandem::error(std::make_error_code(std::errc::device_or_resource_busy),
                         "durable subscription '" + durable_name + "' of client '" + client_id +
                             "' is already active");
  }
  const std::string selector_text = sub.filter() ? sub.filter()->text() : std::string();
  if (c && (c->topic != destination || (c->filter ? c->filter->text() : "") != selector_text)) {
    // Same name, different topic or selector: like JMS, the old subscription is replaced.
    log::info("broker", "durable subscription {} changed topic or selector; recreating it", name);
    b.remove_subscription(name);
    destroy_container(*c);
    c = nullptr;
  }
  if (!c) {
    auto owned = std::make_unique<container>(*this, name, container_kind::durable);
    c = owned.get();
    c->topic = destination;
    c->client_id = client_id;
    c->filter = sub.filter();
    containers_[name] = std::move(owned);
    auto& t = topic(destination);
    t.subscriptions.push_back(c);
    c->count_dequeues_into(&t.dequeued);
    b.add_subscription(storage::durable_subscription{name, client_id, durable_name, destination, selector_text});
  }
  c->active = true;
  c->add_consumer(&sub);
  journal(b, std::move(done));
  c->dispatch();
  return {};
}

void broker::unsubscribe(subscription& sub, bool destroy, done_fn done) {
  container* c = sub.source();
  auto unacked = std::move(sub.unacked());
  sub.unacked().clear();
  if (!c) {
    if (done) done({});
    return;
  }
  c->remove_consumer(&sub);
  sub.attach(nullptr);
  // A non-durable topic subscription's messages die with it, as do those of a durable
  // subscription being deleted; otherwise unacknowledged deliveries go back ahead of newer
  // messages (or to the DLQ past the redelivery limit).
  const bool drop = c->kind() == container_kind::topic || (c->kind() == container_kind::durable && destroy);
  storage::batch b;
  if (!drop)
    for (auto& f : unacked) give_back(*c, std::move(f.entry), b);
  if (c->kind() == container_kind::durable) {
    c->active = false;
    if (destroy) b.remove_subscription(c->name());
  }
  journal(b, std::move(done));
  if (drop) {
    destroy_container(*c);
  } else {
    c->dispatch();
  }
}

bool broker::destroy_durable(const std::string& client_id, const std::string& name, done_fn done) {
  container* c = find_container(durable_container_name(client_id, name));
  if (!c || c->active) return false;
  storage::batch b;
  b.remove_subscription(c->name());
  destroy_container(*c);
  journal(b, std::move(done));
  return true;
}

void broker::destroy_container(container& c) {
  // Its messages die with it (a plain topic subscription's, or a deleted durable one's: the
  // journal drops them with the subscription), held by a transaction or not.
  release_held_acks(c, nullptr);
  // The topic itself stays (with its counts) until an administrator deletes it.
  if (auto it = topics_.find(c.topic); it != topics_.end()) std::erase(it->second.subscriptions, &c);
  containers_.erase(c.name());
}

void broker::release_held_acks(container& c, storage::batch* b) {
  for (transaction* tx : open_transactions_) {
    std::erase_if(tx->acks, [&](transaction::ack& a) {
      if (a.delivery.source != &c) return false;
      if (b) settle(c, a.delivery.entry, *b);
      return true;
    });
  }
}

bool broker::deliver(container& from, subscription& sub, queued entry) {
  message& m = *entry.msg;
  if (from.expires(m, now_ms())) {
    storage::batch b;
    expire(from, std::move(entry), b);
    journal(b, nullptr);
    return false;
  }
  const std::uint64_t ack_id = next_ack_id_++;
  ++entry.deliveries;
  ++stats_.messages_out;
  sub.count_delivery();
  sub.sink().deliver(sub, entry, ack_id);
  if (sub.mode() == ack_mode::auto_ack) {
    storage::batch b;
    settle(from, entry, b);
    journal(b, nullptr);
  } else {
    sub.unacked().push_back(inflight{ack_id, std::move(entry), &from});
  }
  return true;
}

void broker::settle(container& from, const queued& entry, storage::batch& b) {
  from.count_dequeue();
  if (entry.msg->stored && from.journaled()) b.remove_ref(from.name(), *entry.msg->stored);
}

void broker::give_back(container& from, queued entry, storage::batch& b) {
  if (entry.deliveries > cfg_.delivery.max_redeliveries) {
    dead_letter(from, std::move(entry), b, "redelivery limit reached");
    return;
  }
  from.requeue(std::move(entry));
}

std::string broker::dead_letter_name(const container& from) const {
  if (cfg_.delivery.dead_letter == dlq_strategy::shared) return "/queue/" + cfg_.delivery.shared_dlq;
  std::string_view base = from.kind() == container_kind::queue ? short_name(from.name()) : short_name(from.topic);
  return "/queue/DLQ." + std::string(base);
}

void broker::dead_letter(container& from, queued entry, storage::batch& b, const char* why) {
  const std::string target = dead_letter_name(from);
  if (from.dead_letter()) {
    // A dead-letter queue's own poison messages have nowhere further to go.
    log::warn("broker", "dropping message {} from dead-letter queue {}: {}", entry.msg->message_id,
              from.name(), why);
    settle(from, entry, b);
    return;
  }
  ++stats_.dead_lettered;
  log::info("broker", "message {} from {} to {}: {}", entry.msg->message_id, from.name(), target, why);
  from.count_dequeue();
  container& dlq = queue_container(target);
  if (entry.msg->stored && from.journaled()) {
    // The new reference first: a message whose last reference goes is dead for recovery.
    b.add_ref(target, *entry.msg->stored);
    b.remove_ref(from.name(), *entry.msg->stored);
  }
  // From a plain topic subscription (memory only) the message may no longer be in the store
  // at all: its dead-letter copy stays in memory, like the subscription it came from.
  entry.deliveries = 0;
  entry.order = next_order_++;
  dlq.enqueue(std::move(entry));
  // Dispatch after the current pass: the DLQ may be the container being dispatched.
  post([this, target] {
    if (container* c = find_container(target)) c->dispatch();
  });
}

void broker::expire(container& from, queued entry, storage::batch& b) {
  ++stats_.expired;
  if (cfg_.delivery.expired_to_dlq && entry.msg->persistent) {
    dead_letter(from, std::move(entry), b, "expired");
  } else {
    settle(from, entry, b);
  }
}

void broker::discard(container& from, queued entry, const char* why) {
  log::warn("broker", "discarding a message from {}: {}", from.name(), why);
  storage::batch b;
  settle(from, entry, b);
  journal(b, nullptr);
}

bool broker::acknowledge(subscription& sub, std::uint64_t ack_id, bool cumulative, transaction* tx, done_fn done) {
  auto& q = sub.unacked();
  auto it = std::find_if(q.begin(), q.end(), [&](const inflight& f) { return f.ack_id == ack_id; });
  if (it == q.end()) return false;
  auto first = cumulative ? q.begin() : it;
  auto last = std::next(it);
  storage::batch b;
  for (auto i = first; i != last; ++i) {
    if (tx) {
      tx->acks.push_back({sub.id(), &sub, i->source->name(), std::move(*i)});
    } else {
      settle(*i->source, i->entry, b);
    }
  }
  container* source = sub.source();
  q.erase(first, last);
  if (tx) {
    if (done) done({});
  } else {
    journal(b, std::move(done));
  }
  if (source) source->dispatch();  // the prefetch window has room again
  return true;
}

bool broker::reject(subscription& sub, std::uint64_t ack_id, done_fn done) {
  auto& q = sub.unacked();
  auto it = std::find_if(q.begin(), q.end(), [&](const inflight& f) { return f.ack_id == ack_id; });
  if (it == q.end()) return false;
  inflight f = std::move(*it);
  q.erase(it);
  storage::batch b;
  give_back(*f.source, std::move(f.entry), b);
  journal(b, std::move(done));
  f.source->dispatch();
  return true;
}

void broker::commit(transaction& tx, done_fn done) {
  // One atomic batch: the acknowledgements, and every persistent send that must survive a
  // restart (to a queue, or to a topic with durable subscriptions taking it). The rest is
  // routed in memory once the batch is durable, so nothing of the transaction is visible
  // before its receipt could be sent.
  struct planned {
    outgoing o;
    std::vector<std::string> targets;  // containers to enqueue into, looked up again later
    bool journaled = false;
  };
  open_transactions_.erase(&tx);
  storage::batch b;
  for (auto& a : tx.acks) settle(*a.delivery.source, a.delivery.entry, b);
  std::vector<planned> plan;
  std::set<std::pair<std::string, std::uint64_t>> in_batch;
  for (auto& o : tx.sends) {
    const message& m = *o.msg;
    if (m.persistent && !o.producer_id.empty() &&
        (store_.is_duplicate(o.producer_id, o.producer_seq) || !in_batch.emplace(o.producer_id, o.producer_seq).second)) {
      ++stats_.duplicates;  // re-sent by a failover client: stored once already
      continue;
    }
    planned p{o, {}, false};
    std::vector<std::string> durable;
    if (is_queue(m.destination)) {
      p.targets = {m.destination};
      durable = p.targets;
    } else {
      for (container* c : topic_targets(m)) {
        p.targets.push_back(c->name());
        if (c->kind() == container_kind::durable) durable.push_back(c->name());
      }
    }
    p.journaled = m.persistent && !durable.empty();
    if (p.journaled) b.add_message(record_of(m, durable, o.producer_id, o.producer_seq));
    plan.push_back(std::move(p));
  }
  auto acks = std::move(tx.acks);
  tx.acks.clear();
  tx.sends.clear();

  auto apply = [this](const std::vector<planned>& plan, const storage::batch* written) {
    std::size_t add = 0;
    std::vector<storage::message_seq> seqs;
    if (written)
      for (auto& op : written->ops())
        if (op.kind == storage::batch::op_kind::add) seqs.push_back(op.message.seq);
    for (auto& p : plan) {
      if (p.journaled) p.o.msg->stored = seqs[add++];
      p.o.msg->account();
      ++stats_.messages_in;
      if (is_topic(p.o.msg->destination)) {
        topic_state& t = topic(p.o.msg->destination);
        ++t.enqueued;
        t.traffic.note_producer(p.o.connection, now_s_);
      }
      for (auto& name : p.targets) {
        if (is_queue(name)) {
          accept_into_queue(queue_container(name), p.o.msg, p.o.connection);
        } else if (container* c = find_container(name)) {
          enqueue_new(*c, p.o.msg);
        }
      }
    }
  };
  if (b.empty()) {
    apply(plan, nullptr);
    if (done) done({});
    return;
  }
  auto shared = std::make_shared<storage::batch>(std::move(b));
  auto held = std::make_shared<std::vector<transaction::ack>>(std::move(acks));
  write_durably(shared, [this, shared, plan = std::move(plan), held, apply, done](const tandem::error& e) {
    if (e) {
      // Not committed: the acknowledged messages are unacknowledged again.
      storage::batch none;
      for (auto& a : *held)
        if (container* src = find_container(a.source_name)) {
          give_back(*src, std::move(a.delivery.entry), none);
          src->dispatch();
        }
      if (done) done(tandem::error(e.code, "the transaction was not committed: " + e.message));
      return;
    }
    apply(plan, shared.get());
    if (done) done({});
  });
}

void broker::abort(transaction& tx, const std::function<subscription*(const std::string&)>& find_sub) {
  // Acknowledgements made in the transaction are undone: the messages are unacknowledged
  // again, held by their subscription if it is still attached to their container, else given
  // back to it for redelivery. Every container they came from is alive: a deleted one took its
  // acknowledgements out of the transaction (release_held_acks).
  open_transactions_.erase(&tx);
  storage::batch b;
  for (auto& a : tx.acks) {
    container* src = a.delivery.source;
    subscription* s = find_sub(a.subscription_id);
    if (s && s == a.sub && s->source() == src) {
      auto& q = s->unacked();
      auto pos = std::find_if(q.begin(), q.end(), [&](const inflight& f) { return f.ack_id > a.delivery.ack_id; });
      q.insert(pos, std::move(a.delivery));
    } else {
      give_back(*src, std::move(a.delivery.entry), b);
      src->dispatch();
    }
  }
  journal(b, nullptr);
  tx.acks.clear();
  tx.sends.clear();
}

}  // namespace tandem::broker
