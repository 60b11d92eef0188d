#pragma once
// A message as the broker core holds it in memory, shared by every container it is queued in.

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/store.h"

namespace tandem::broker {

using header = storage::message_header;

// Bytes of message headers and bodies held in memory by every message alive, so the broker can
// stay under limits.max_memory_bytes by unloading durable messages.
std::int64_t resident_message_bytes();

struct message {
  message() = default;
  message(const message&) = delete;
  message& operator=(const message&) = delete;
  ~message() { set_accounted(0); }

  std::string destination;  // as sent: "/queue/x" or "/topic/x"
  std::string message_id;   // client-supplied PRODUCER:SEQ, or broker-generated "ID:..."
  bool persistent = false;
  std::optional<storage::message_seq> stored;  // set once journaled
  std::uint8_t priority = 4;
  std::int64_t timestamp_ms = 0;
  std::int64_t expires_ms = 0;  // 0 = never
  std::vector<header> headers;  // application headers, as sent (minus broker-owned ones)
  std::string body;
  // False for a message recovered from the journal whose headers and body have not been read
  // back yet (recovery reads only the index, so a restart with a large backlog stays fast).
  bool loaded = true;

  bool expired(std::int64_t now_ms) const { return expires_ms != 0 && now_ms >= expires_ms; }
  std::size_t footprint() const {
    std::size_t n = body.size() + destination.size() + message_id.size();
    for (auto& h : headers) n += h.key.size() + h.value.size();
    return n;
  }
  // Counts this message's current footprint in resident_message_bytes().
  void account() { set_accounted(static_cast<std::int64_t>(footprint())); }
  // Frees headers and body of a journaled message; ensure_loaded() reads them back.
  void unload();

 private:
  void set_accounted(std::int64_t bytes);
  std::int64_t accounted_ = 0;
};

using message_ptr = std::shared_ptr<message>;

// One message pending in one container. The same message may be queued in several
// containers (one per durable subscription of a topic); delivery counts are per container.
struct queued {
  message_ptr msg;
  std::uint64_t order = 0;       // FIFO position within a priority
  std::uint32_t deliveries = 0;  // times delivered from this container without an ack
};

std::int64_t now_ms();  // wall clock, ms since the Unix epoch

// Headers the broker sets itself on delivered messages (MESSAGE frames); a sender's values
// for them are not kept as application headers.
bool broker_owned_header(std::string_view key);

}  // namespace tandem::broker
