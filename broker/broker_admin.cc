// The broker core's administration: views of destinations and durable subscriptions for the
// admin API and the metrics, browsing without consuming, purge and deletion. Everything here
// runs on the event loop like the rest of the core; the admin API posts it there.

#include <algorithm>

#include "broker/broker.h"
#include "broker/destination.h"
#include "common/log.h"

namespace tandem::broker {

destination_view broker::view_of(const container& q) const {
  destination_view v;
  v.name = q.name();
  v.inflight = q.inflight();
  v.depth = q.depth() + v.inflight;
  v.enqueued = q.enqueued();
  v.dequeued = q.dequeued();
  v.consumers = q.consumers().size();
  v.producers = q.traffic().producers(now_s_);
  v.enqueue_rate = q.traffic().in_rate();
  v.dequeue_rate = q.traffic().out_rate();
  if (std::int64_t oldest = q.oldest_timestamp_ms(recovered_at_ms_)) v.oldest_age_ms = std::max<std::int64_t>(0, now_ms() - oldest);
  if (!q.dead_letter()) {
    v.dlq = dead_letter_name(q);
    if (auto it = containers_.find(v.dlq); it != containers_.end()) v.dlq_depth = it->second->depth() + it->second->inflight();
  }
  return v;
}

destination_view broker::view_of(const std::string& name, const topic_state& t) const {
  destination_view v;
  v.name = name;
  v.topic = true;
  v.enqueued = t.enqueued;
  v.dequeued = t.dequeued;
  v.producers = t.traffic.producers(now_s_);
  v.enqueue_rate = t.traffic.in_rate();
  v.dequeue_rate = t.traffic.out_rate();
  for (const container* c : t.subscriptions) {
    std::uint64_t inflight = c->inflight();
    v.inflight += inflight;
    v.depth += c->depth() + inflight;
    if (c->kind() == container_kind::durable) ++v.durable_subscribers;
    if (!c->consumers().empty()) ++v.consumers;
  }
  return v;
}

std::vector<destination_view> broker::destination_views() const {
  std::vector<destination_view> out;
  for (const auto& [name, c] : containers_)
    if (c->kind() == container_kind::queue) out.push_back(view_of(*c));
  for (const auto& [name, t] : topics_) out.push_back(view_of(name, t));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

std::optional<destination_view> broker::queue_view(const std::string& queue) const {
  auto it = containers_.find(queue);
  if (it == containers_.end() || it->second->kind() != container_kind::queue) return std::nullopt;
  return view_of(*it->second);
}

std::optional<browse_page> broker::browse(const std::string& queue, std::size_t offset, std::size_t limit) {
  container* q = find_container(queue);
  if (!q || q->kind() != container_kind::queue) return std::nullopt;
  browse_page page;
  page.destination = queue;
  page.offset = offset;
  page.limit = limit;
  std::size_t index = 0;
  std::size_t reads = 0, read_bytes = 0;
  bool cut = false;  // the journal-read budget is spent: the page ends here
  auto add = [&](const queued& entry, bool inflight) {
    if (index++ < offset || page.messages.size() >= limit || cut) return;
    const message* m = entry.msg.get();
    // A message recovered and not read back yet: read a copy for the page, leaving the queued
    // message as it was (it is loaded when it is delivered, not because someone looked).
    std::optional<storage::message_record> copy;
    if (!m->loaded) {
      if (!page.messages.empty() && (reads >= browse_max_journal_reads || read_bytes >= browse_max_journal_bytes)) {
        cut = true;
        return;
      }
      ++reads;
      auto r = store_.read_message(*m->stored);
      if (!r) {
        log::warn("broker", "browse {}: cannot read message seq {}: {}", queue, m->stored->value(), r.err().describe());
      }
      copy.emplace(r ? std::move(r.value()) : storage::message_record{});
      read_bytes += copy->body.size();
      for (const auto& h : copy->headers) read_bytes += h.key.size() + h.value.size();
    }
    message_view v;
    v.priority = m->priority;
    v.persistent = m->persistent;
    v.expires_ms = m->expires_ms;
    v.inflight = inflight;
    v.redelivered = inflight ? entry.deliveries > 1 : entry.deliveries > 0;
    const std::string* body = &m->body;
    if (copy) {
      v.timestamp_ms = copy->timestamp_ms;
      for (auto& h : copy->headers) {
        if (h.key == "message-id" && v.message_id.empty()) v.message_id = h.value;
        else v.headers.emplace_back(h.key, h.value);
      }
      body = &copy->body;
    } else {
      v.message_id = m->message_id;
      v.timestamp_ms = m->timestamp_ms;
      for (const auto& h : m->headers) v.headers.emplace_back(h.key, h.value);
    }
    v.size = body->size();
    for (const auto& [k, val] : v.headers) v.size += k.size() + val.size();
    v.body = body->substr(0, browse_preview_bytes);
    v.body_truncated = body->size() > browse_preview_bytes;
    page.messages.push_back(std::move(v));
  };
  // In-flight messages were delivered first; then the pending ones in the order they will be.
  for (const subscription* s : q->consumers())
    for (const auto& d : s->unacked())
      if (d.source == q) add(d.entry, true);
  page.total = index + q->depth();
  q->for_each_pending([&](const queued& entry) {
    add(entry, false);
    return page.messages.size() < limit && !cut;  // a page deep in a long queue walks to it, no further
  });
  return page;
}

bool broker::purge(const std::string& queue, count_fn done) {
  container* q = find_container(queue);
  if (!q || q->kind() != container_kind::queue) return false;
  auto gone = q->remove_if([](const queued&) { return true; });
  storage::batch b;
  for (const auto& entry : gone) settle(*q, entry, b);
  const std::size_t n = gone.size();
  log::info("broker", "purged {} messages from {}", n, queue);
  journal(b, [done, n](const tandem::error& e) { done(e, n); });
  return true;
}

void broker::end_consumers(container& c, const std::string& reason, storage::batch& b) {
  // Detach first, then tell the clients: the session closes later (after its ERROR is
  // written) and then finds its subscription detached, with nothing to give back.
  auto consumers = c.consumers();
  for (subscription* s : consumers) {
    for (const auto& d : s->unacked())
      if (d.source == &c) settle(c, d.entry, b);
    std::erase_if(s->unacked(), [&](const inflight& d) { return d.source == &c; });
    c.remove_consumer(s);
    s->attach(nullptr);
  }
  for (subscription* s : consumers) s->sink().subscription_ended(*s, reason);
}

bool broker::delete_queue(const std::string& queue, const std::string& reason, count_fn done) {
  container* q = find_container(queue);
  if (!q || q->kind() != container_kind::queue) return false;
  storage::batch b;
  end_consumers(*q, reason, b);
  release_held_acks(*q, &b);  // acknowledged in a transaction still open: deleted all the same
  auto gone = q->remove_if([](const queued&) { return true; });
  for (const auto& entry : gone) settle(*q, entry, b);
  const std::size_t n = gone.size();
  containers_.erase(queue);
  log::info("broker", "deleted {} ({} pending messages removed): {}", queue, n, reason);
  journal(b, [done, n](const tandem::error& e) { done(e, n); });
  return true;
}

bool broker::delete_topic(const std::string& topic_name, const std::string& reason, count_fn done) {
  auto it = topics_.find(topic_name);
  if (it == topics_.end()) return false;
  storage::batch b;
  std::size_t durable = 0;
  auto subs = it->second.subscriptions;
  for (container* c : subs) {
    end_consumers(*c, reason, b);
    if (c->kind() == container_kind::durable) {
      release_held_acks(*c, nullptr);
      b.remove_subscription(c->name());  // and every reference it holds
      ++durable;
    } else {
      release_held_acks(*c, &b);
    }
    containers_.erase(c->name());
  }
  topics_.erase(it);
  log::info("broker", "deleted {} ({} durable subscriptions): {}", topic_name, durable, reason);
  journal(b, [done, durable](const tandem::error& e) { done(e, durable); });
  return true;
}

std::vector<durable_view> broker::durable_views() const {
  std::vector<durable_view> out;
  for (const auto& [name, c] : containers_) {
    if (c->kind() != container_kind::durable) continue;
    durable_view v;
    v.client_id = c->client_id;
    // The container is named durable:<client-id>:<name>; the client id may itself hold ':'.
    v.name = name.substr(std::string_view("durable:").size() + c->client_id.size() + 1);
    v.topic = c->topic;
    if (c->filter) v.selector = c->filter->text();
    v.active = c->active;
    v.depth = c->depth() + c->inflight();
    out.push_back(std::move(v));
  }
  return out;
}

broker::durable_removal broker::remove_durable(const std::string& client_id, const std::string& name, done_fn done) {
  container* c = find_container(durable_container_name(client_id, name));
  if (!c || c->kind() != container_kind::durable) return durable_removal::unknown;
  if (c->active) return durable_removal::attached;
  destroy_durable(client_id, name, std::move(done));
  return durable_removal::removed;
}

}  // namespace tandem::broker
