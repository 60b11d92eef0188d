#include "broker/admin_views.h"

#include <nlohmann/json.hpp>

#include "auth/password.h"
#include "broker/message.h"
#include "broker/node.h"

namespace tandem::broker {
namespace {

using json = nlohmann::json;

json optional_text(const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); }
json text_or_null(const std::string& v) { return v.empty() ? json(nullptr) : json(v); }

// Length of the UTF-8 sequence starting with `lead`, 0 when it cannot start one.
std::size_t utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

}  // namespace

body_preview preview_of(const std::string& part) {
  std::size_t i = 0;
  bool binary = false;
  while (i < part.size()) {
    auto c = static_cast<unsigned char>(part[i]);
    std::size_t n = utf8_length(c);
    if (n == 0 || (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) {
      binary = true;
      break;
    }
    if (i + n > part.size()) break;  // a character cut by the preview's end: leave it out
    for (std::size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(part[i + k]) & 0xc0) != 0x80) binary = true;
    if (binary) break;
    i += n;
  }
  if (binary) return {auth::encode_base64(part), true};
  return {part.substr(0, i), false};
}

json to_json(const destination_view& d) {
  json j{{"name", d.name},
         {"kind", d.topic ? "topic" : "queue"},
         {"depth", d.depth},
         {"inflight", d.inflight},
         {"enqueued", d.enqueued},
         {"dequeued", d.dequeued},
         {"consumers", d.consumers},
         {"producers", d.producers},
         {"enqueue_rate", d.enqueue_rate},
         {"dequeue_rate", d.dequeue_rate}};
  if (d.topic) {
    j["subscribers"] = d.consumers;
    j["durable_subscribers"] = d.durable_subscribers;
  } else {
    j["oldest_age_ms"] = d.oldest_age_ms ? json(*d.oldest_age_ms) : json(nullptr);
    j["dlq"] = text_or_null(d.dlq);
    j["dlq_depth"] = d.dlq.empty() ? json(nullptr) : json(d.dlq_depth);
  }
  return j;
}

json to_json(const browse_page& p) {
  json messages = json::array();
  for (const auto& m : p.messages) {
    json headers = json::object();
    for (const auto& [k, v] : m.headers)
      if (!headers.contains(k)) headers[k] = v;  // the first of repeated headers, as STOMP reads them
    auto preview = preview_of(m.body);
    messages.push_back({{"message_id", m.message_id},
                        {"priority", m.priority},
                        {"persistent", m.persistent},
                        {"timestamp_ms", m.timestamp_ms},
                        {"expires_ms", m.expires_ms},
                        {"redelivered", m.redelivered},
                        {"inflight", m.inflight},
                        {"size", m.size},
                        {"headers", std::move(headers)},
                        {"body_preview", std::move(preview.text)},
                        {"body_truncated", m.body_truncated},
                        {"body_binary", preview.binary}});
  }
  return {{"destination", p.destination},
          {"total", p.total},
          {"offset", p.offset},
          {"limit", p.limit},
          {"messages", std::move(messages)}};
}

json to_json(const connection_info& c) {
  json subs = json::array();
  for (const auto& s : c.subscriptions) {
    subs.push_back({{"id", s.id},
                    {"destination", s.destination},
                    {"ack", s.ack},
                    {"prefetch", s.prefetch},
                    {"inflight", s.inflight},
                    {"durable", optional_text(s.durable)},
                    {"selector", optional_text(s.selector)}});
  }
  return {{"id", std::to_string(c.id)},
          {"remote", c.remote},
          {"protocol", c.protocol},
          {"tls", c.tls},
          {"login", text_or_null(c.login)},
          {"client_id", text_or_null(c.client_id)},
          {"connected_ms", c.connected_ms},
          {"subscriptions", std::move(subs)},
          {"inflight", c.inflight},
          {"messages_in", c.messages_in},
          {"messages_out", c.messages_out}};
}

json to_json(const durable_view& d) {
  return {{"client_id", d.client_id}, {"name", d.name},     {"topic", d.topic},
          {"selector", optional_text(d.selector)}, {"active", d.active}, {"depth", d.depth}};
}

json status_to_json(const node_status& s) {
  const bool active = s.current == role::active;
  // The node the lease names as active: this one, or the holder of the newest epoch unless it
  // released it (then nobody is active until the peer claims).
  json active_node = nullptr, active_console = nullptr;
  if (active) {
    active_node = s.name;
    active_console = text_or_null(s.console);
  } else if (s.lease.seen && s.lease.newest_epoch.value() > 0 && !s.lease.released && !s.lease.holder.empty()) {
    active_node = s.lease.holder;
    active_console = text_or_null(s.lease.console);
  }
  json j{
      {"node", s.name},
      {"role", std::string(to_string(s.current))},
      {"epoch", s.epoch},
      {"role_since_ms", s.role_since_ms},
      {"reason", s.reason},
      {"started_ms", s.started_ms},
      {"uptime_ms", now_ms() - s.started_ms},
      {"version", s.version},
      {"stomp", active ? json(s.stomp_endpoint) : json(nullptr)},
      {"stomp_ssl", active && !s.stomp_ssl_endpoint.empty() ? json(s.stomp_ssl_endpoint) : json(nullptr)},
      {"console", text_or_null(s.console)},
      {"active_node", active_node},
      {"active_console", active_console},
      {"connections", s.connections},
      {"lease",
       {{"epoch", s.lease.newest_epoch.value()},
        {"holder", s.lease.holder},
        {"holder_ha_address", s.lease.ha_address},
        {"holder_console", text_or_null(s.lease.console)},
        {"heartbeat", s.lease.counter},
        {"heartbeat_age_ms", s.lease.since_change.count()},
        {"released", s.lease.released},
        {"last_error", s.lease.last_error}}},
      {"failovers", s.failovers},
      {"fencing_events", s.fencing_events},
  };
  if (active) {
    json used = nullptr;
    if (s.store_limit_bytes) used = static_cast<double>(s.store.bytes_on_disk) / static_cast<double>(s.store_limit_bytes);
    j["store"] = {{"segments", s.store.segments},
                  {"bytes_on_disk", s.store.bytes_on_disk},
                  {"live_messages", s.store.live_messages},
                  {"fsyncs", s.store.fsyncs},
                  {"bytes_written", s.store.bytes_written},
                  {"max_bytes", s.store_limit_bytes},
                  {"used_fraction", used}};
    j["recovery_ms"] = s.last_recovery_ms;
  }
  return j;
}

}  // namespace tandem::broker
