#include "broker/broker.h"
#include "broker/destination.h"

#include <asio/post.hpp>
#include <malloc.h>

#include <chrono>


#include "common/log.h"

namespace tandem::broker {
namespace {


}  // namespace

broker::broker(asio::io_context& io, const config& cfg, storage::store& store)
    : io_(io), cfg_(cfg), store_(store), housekeeping_(io) {
  id_prefix_ = "ID:" + cfg.node.name + "-" + std::to_string(now_ms()) + "-";
}

bool broker::is_dead_letter_name(std::string_view name) const {
  return starts_with(name, "/queue/DLQ.") || name == "/queue/" + cfg_.delivery.shared_dlq;
}

void broker::start() { housekeeping(); }

void broker::stop() {
  stopped_ = true;
  housekeeping_.cancel();
}

void broker::housekeeping() {
  // The admin API's rates and producer counts: one sample per destination per second.
  now_s_ = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  const bool prune = ++housekeeping_ticks_ % 10 == 0;  // producers silent for a minute
  for (auto& [name, t] : topics_) {
    t.traffic.sample(t.enqueued, t.dequeued);
    if (prune) t.traffic.prune(now_s_);
  }
  // Messages that expire while waiting (no consumer) leave the queue without a delivery attempt.
  const std::int64_t now = now_ms();
  for (auto& [name, c] : containers_) {
    if (c->kind() == container_kind::queue) {
      c->traffic().sample(c->enqueued(), c->dequeued());
      if (prune) c->traffic().prune(now_s_);
    }
    if (!c->has_expiring()) continue;
    auto gone = c->remove_if([&c = *c, now](const queued& q) { return c.expires(*q.msg, now); });
    if (gone.empty()) continue;
    storage::batch b;
    for (auto& q : gone) expire(*c, std::move(q), b);
    journal(b, nullptr);
  }
  // After a burst is consumed, glibc keeps the freed memory; hand it back so the broker's
  // footprint follows its load.
  const std::int64_t resident = resident_message_bytes();
  if (resident_at_last_trim_ > resident + (8 << 20)) malloc_trim(0);
  if (resident_at_last_trim_ > resident + (8 << 20) || resident > resident_at_last_trim_)
    resident_at_last_trim_ = resident;
  housekeeping_.expires_after(std::chrono::seconds(1));
  housekeeping_.async_wait([this](std::error_code ec) {
    if (!ec) housekeeping();
  });
}

storage::message_record broker::record_of(const message& m, std::vector<std::string> containers,
                                         const std::string& producer_id, std::uint64_t producer_seq) {
  storage::message_record r;
  r.destination = m.destination;
  r.containers = std::move(containers);
  r.producer_id = producer_id;
  r.producer_seq = producer_seq;
  r.priority = m.priority;
  r.timestamp_ms = m.timestamp_ms;
  r.expires_ms = m.expires_ms;
  r.headers.reserve(m.headers.size() + 1);
  r.headers.push_back({"message-id", m.message_id});
  r.headers.insert(r.headers.end(), m.headers.begin(), m.headers.end());
  r.body = m.body;
  return r;
}

std::string broker::next_message_id() { return id_prefix_ + std::to_string(next_local_id_++); }

container* broker::find_container(const std::string& name) {
  auto it = containers_.find(name);
  return it == containers_.end() ? nullptr : it->second.get();
}

container& broker::queue_container(const std::string& name) {
  auto& slot = containers_[name];
  if (!slot) {
    slot = std::make_unique<container>(*this, name, container_kind::queue);
    if (is_dead_letter_name(name)) slot->set_dead_letter();
  }
  return *slot;
}

broker::topic_state& broker::topic(const std::string& name) { return topics_[name]; }

void broker::recover() {
  recovered_at_ms_ = now_ms();
  const auto& state = store_.recovered();
  for (const auto& sub : state.durable_subscriptions) {
    auto c = std::make_unique<container>(*this, sub.container, container_kind::durable);
    c->topic = sub.topic;
    c->client_id = sub.client_id;
    if (!sub.selector.empty()) {
      auto sel = selector::parse(sub.selector);
      if (sel) c->filter = std::move(sel.value());
    }
    auto& t = topic(sub.topic);
    t.subscriptions.push_back(c.get());
    c->count_dequeues_into(&t.dequeued);
    containers_[sub.container] = std::move(c);
  }
  // A message referenced by several containers (durable subscriptions of one topic) is one
  // shared object, read from the journal at most once.
  std::unordered_map<std::uint64_t, message_ptr> by_seq;
  std::uint64_t max_seq = 0, pending = 0;
  for (const auto& [name, refs] : state.containers) {
    container* c = find_container(name);
    if (!c) {
      if (!starts_with(name, queue_prefix)) {
        log::warn("broker", "journal references unknown container '{}'; its {} messages are skipped",
                  name, refs.size());
        continue;
      }
      c = &queue_container(name);
    }
    for (const auto& ref : refs) {
      auto& m = by_seq[ref.seq.value()];
      if (!m) {
        m = std::make_shared<message>();
        m->persistent = true;
        m->stored = ref.seq;
        m->priority = ref.priority;
        m->expires_ms = ref.expires_ms;
        m->loaded = false;
      }
      c->enqueue(queued{m, ref.seq.value(), 0});
      max_seq = std::max(max_seq, ref.seq.value());
      ++pending;
    }
  }
  // New messages sort after every recovered one within a priority.
  next_order_ = max_seq + 1;
  for (auto& [name, c] : containers_) c->traffic().restart_at(c->enqueued(), c->dequeued());
  log::info("broker", "recovered {} pending messages in {} containers, {} durable subscriptions ({:.0f} ms)",
            pending, state.containers.size(), state.durable_subscriptions.size(), state.recovery_ms);
}

bool broker::ensure_loaded(message& m) {
  if (m.loaded) return true;
  auto r = store_.read_message(*m.stored);
  if (!r) {
    log::error("broker", "cannot read message seq {} from the journal: {}", m.stored->value(),
               r.err().describe());
    return false;
  }
  auto& rec = r.value();
  m.destination = std::move(rec.destination);
  m.timestamp_ms = rec.timestamp_ms;
  m.headers.clear();
  for (auto& h : rec.headers) {
    if (h.key == "message-id" && m.message_id.empty()) {
      m.message_id = std::move(h.value);
    } else {
      m.headers.push_back(std::move(h));
    }
  }
  if (m.message_id.empty()) m.message_id = "ID:seq-" + std::to_string(m.stored->value());
  m.body = std::move(rec.body);
  m.loaded = true;
  m.account();
  return true;
}

void broker::journal(storage::batch& b, done_fn done) {
  if (b.empty()) {
    if (done) done({});
    return;
  }
  write_durably(std::make_shared<storage::batch>(std::move(b)), [done](const tandem::error& e) {
    if (e) log::error("broker", "journal write failed: {}", e.describe());
    if (done) done(e);
  });
}

void broker::write_durably(std::shared_ptr<storage::batch> b, done_fn then, bool may_reclaim) {
  // The completion runs on the journal's writer thread, possibly after this broker was
  // destroyed (a fenced node abandons its store without waiting for a stuck storage call):
  // it touches nothing of `this` there, only the event loop and the liveness token.
  auto ec = store_.write(*b, [&io = io_, alive = std::weak_ptr<int>(alive_), this, then](std::error_code ec) mutable {
    asio::post(io, [alive, this, then = std::move(then), ec] {
      if (alive.expired()) return;
      // Past this point the bytes may be on disk or not (an NFS write that timed out can still
      // land): say so, and say how to resolve it. A failed journal stops this node serving
      // first, so the client finds its connection closed and re-sends to the node that takes
      // over, instead of reaching this one again.
      if (ec) note_store_failure(ec);
      then(ec ? tandem::error(ec, "journal write failed (" + ec.message() +
                                      "): the outcome is in doubt, the message may or may not be stored; "
                                      "re-send it with the same message-id (PRODUCER:SEQ) and it is stored once")
              : tandem::error());
    });
  });
  if (!ec) return;
  if (ec == storage::errc::store_full && may_reclaim) {
    // Flow control rather than an error when consumers have freed space: acknowledged
    // messages may have left whole segments dead, and a checkpoint lets the store delete
    // them. Retry once after it; refuse if the store is still full.
    auto cec = store_.checkpoint([&io = io_, alive = std::weak_ptr<int>(alive_), this, b, then](std::error_code) {
      asio::post(io, [alive, this, b, then] {
        if (!alive.expired()) write_durably(b, then, false);
      });
    });
    if (!cec) return;
  }
  note_store_failure(ec);
  then(refusal(ec));
}

void broker::note_store_failure(std::error_code ec) {
  if (!store_.failed() || !on_store_failure_) return;
  auto notify = std::move(on_store_failure_);
  on_store_failure_ = nullptr;
  auto detail = store_.last_error();
  notify(detail.code == ec && !detail.message.empty() ? detail : tandem::error(ec, ec.message()));
}

tandem::error broker::refusal(std::error_code ec) const {
  auto detail = store_.last_error();
  if (detail.code == ec && !detail.message.empty()) return detail;
  return tandem::error(ec, ec.message());
}

void broker::enqueue_new(container& c, const message_ptr& msg) {
  // Past the memory budget, a durable message waits on disk rather than in memory.
  if (msg->stored && resident_message_bytes() > static_cast<std::int64_t>(cfg_.limits.max_memory_bytes))
    msg->unload();
  else if (msg->stored && msg->loaded)
    resident_.note(msg);
  c.enqueue(queued{msg, next_order_++, 0});
  c.dispatch();
}

void broker::accept_into_queue(container& c, const message_ptr& msg, std::uint64_t connection) {
  c.traffic().note_producer(connection, now_s_);
  enqueue_new(c, msg);
}

void broker::send(message_ptr msg, const std::string& producer_id, std::uint64_t producer_seq, done_fn done,
                  std::uint64_t connection) {
  const auto budget = static_cast<std::int64_t>(cfg_.limits.max_memory_bytes);
  // Non-persistent messages cannot be paged out to the journal; journaled ones can, to make
  // room for them. Refused only when what is left in memory cannot go to disk.
  if (!msg->persistent && resident_message_bytes() > budget) resident_.shed(budget);
  if (!msg->persistent && resident_message_bytes() > budget) {
    if (done)
      done(tandem::error(std::make_error_code(std::errc::not_enough_memory),
                         "memory limit reached (limits.max_memory_bytes = " +
                             std::to_string(cfg_.limits.max_memory_bytes) +
                             "): non-persistent message refused; consume messages or send persistent ones"));
    return;
  }
  msg->account();
  ++stats_.messages_in;
  const std::string& dest = msg->destination;
  if (starts_with(dest, topic_prefix)) {
    route_to_topic(outgoing{msg, producer_id, producer_seq, connection}, std::move(done));
    return;
  }
  if (!msg->persistent) {
    accept_into_queue(queue_container(dest), msg, connection);
    if (done) done({});
    return;
  }
  if (!producer_id.empty() && store_.is_duplicate(producer_id, producer_seq)) {
    acknowledge_duplicate(outgoing{msg, producer_id, producer_seq}, std::move(done));
    return;
  }
  auto b = std::make_shared<storage::batch>();
  b->add_message(record_of(*msg, {dest}, producer_id, producer_seq));
  write_durably(b, [this, msg, b, done, connection](const tandem::error& e) {
    if (e) {
      if (done) done(e);
      return;
    }
    msg->stored = b->ops().front().message.seq;
    accept_into_queue(queue_container(msg->destination), msg, connection);
    if (done) done({});
  });
}

void broker::acknowledge_duplicate(const outgoing& o, done_fn done) {
  ++stats_.duplicates;
  log::debug("broker", "duplicate {}:{} to {} not stored again", o.producer_id, o.producer_seq, o.msg->destination);
  // The original may still be on its way to disk (sent just before a failover client
  // re-sent it): an empty batch completes after everything written before it is durable.
  write_durably(std::make_shared<storage::batch>(), std::move(done), false);
}

std::vector<container*> broker::topic_targets(const message& m) {
  auto it = topics_.find(m.destination);
  return it == topics_.end() ? std::vector<container*>{} : topic_targets(m, it->second);
}

std::vector<container*> broker::topic_targets(const message& m, const topic_state& t) {
  std::vector<container*> targets;
  for (container* c : t.subscriptions) {
    if (c->filter && !c->filter->matches([&](std::string_view n) { return message_property(m, n); })) continue;
    targets.push_back(c);
  }
  return targets;
}

void broker::route_to_topic(const outgoing& o, done_fn done) {
  const message_ptr& msg = o.msg;
  topic_state& t = topic(msg->destination);
  ++t.enqueued;
  t.traffic.note_producer(o.connection, now_s_);
  std::vector<container*> targets = topic_targets(*msg, t);
  std::vector<std::string> durable;
  for (container* c : targets)
    if (c->kind() == container_kind::durable) durable.push_back(c->name());
  if (!msg->persistent || durable.empty()) {
    // Nobody needs it to survive a restart: memory only (a topic message with no
    // subscriber is not kept at all).
    for (container* c : targets) enqueue_new(*c, msg);
    if (done) done({});
    return;
  }
  if (!o.producer_id.empty() && store_.is_duplicate(o.producer_id, o.producer_seq)) {
    acknowledge_duplicate(o, std::move(done));
    return;
  }
  auto b = std::make_shared<storage::batch>();
  b->add_message(record_of(*msg, durable, o.producer_id, o.producer_seq));
  // Containers may go away before the write completes: look them up again by name.
  std::vector<std::string> names;
  for (container* c : targets) names.push_back(c->name());
  write_durably(b, [this, msg, b, names, done](const tandem::error& e) {
    if (e) {
      if (done) done(e);
      return;
    }
    msg->stored = b->ops().front().message.seq;
    for (auto& n : names)
      if (container* c = find_container(n)) enqueue_new(*c, msg);
    if (done) done({});
  });
}

}  // namespace tandem::broker
