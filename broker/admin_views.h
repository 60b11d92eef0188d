#pragma once
// What the admin API shows, as plain values (broker/ADMIN_API.md has the JSON shapes).
//
// The broker core fills these on its event loop (broker_admin.cc) and hands them over by
// value; the HTTP threads turn them into JSON (admin_views.cc) without touching the core.

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "broker/connection_registry.h"

namespace tandem::broker {

struct node_status;

// A queue or a topic.
struct destination_view {
  std::string name;  // "/queue/orders" or "/topic/prices"
  bool topic = false;
  std::uint64_t depth = 0;     // pending plus in-flight (a topic: over its subscriptions)
  std::uint64_t inflight = 0;  // delivered, not yet acknowledged
  std::uint64_t enqueued = 0;
  std::uint64_t dequeued = 0;
  std::size_t consumers = 0;  // attached subscribers
  std::size_t producers = 0;  // connections that sent to it in the last 60 s
  double enqueue_rate = 0;    // messages per second over the last 10 s
  double dequeue_rate = 0;
  // Queues only.
  std::optional<std::int64_t> oldest_age_ms;  // of the oldest pending message; none when none
  std::string dlq;                            // its dead-letter queue ("" for a dead-letter queue)
  std::uint64_t dlq_depth = 0;
  // Topics only.
  std::size_t durable_subscribers = 0;  // durable subscriptions, attached or not
};

struct message_view {
  std::string message_id;
  int priority = 4;
  bool persistent = false;
  std::int64_t timestamp_ms = 0;  // 0 when unknown
  std::int64_t expires_ms = 0;
  bool redelivered = false;  // delivered before without an acknowledgement
  bool inflight = false;     // delivered now, not yet acknowledged
  std::size_t size = 0;      // bytes of headers and body
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // at most browse_preview_bytes of it
  bool body_truncated = false;
};
inline constexpr std::size_t browse_preview_bytes = 256;
// Browsing runs on the event loop, and a message that is not in memory (recovered, or paged
// out) is read back from the journal for the page: a page stops early rather than make more
// than this many reads, or read past this many bytes (the read that passes it is the last), so
// a request costs the loop a bounded time even on NFS. It always holds at least one message.
inline constexpr std::size_t browse_max_journal_reads = 50;
inline constexpr std::size_t browse_max_journal_bytes = 4 << 20;

struct browse_page {
  std::string destination;
  std::size_t total = 0;  // pending plus in-flight
  std::size_t offset = 0;
  std::size_t limit = 0;
  std::vector<message_view> messages;
};

struct durable_view {
  std::string client_id;
  std::string name;
  std::string topic;
  std::optional<std::string> selector;
  bool active = false;  // a subscriber is attached
  std::uint64_t depth = 0;
};

// The JSON shapes of broker/ADMIN_API.md.
nlohmann::json to_json(const destination_view& d);
nlohmann::json to_json(const browse_page& p);
nlohmann::json to_json(const connection_info& c);
nlohmann::json to_json(const durable_view& d);
// GET /api/v1/status. `version`: the broker's version string.
nlohmann::json status_to_json(const node_status& s);

// A body preview as JSON text: UTF-8 text as is (cut at a character boundary), anything
// else (NUL, control characters other than tab and line ends, invalid UTF-8) as base64 with
// "body_binary": true.
struct body_preview {
  std::string text;
  bool binary = false;
};
body_preview preview_of(const std::string& body_part);

}  // namespace tandem::broker
