#include "broker/message.h"

#include <chrono>

namespace tandem::broker {
namespace {

std::atomic<std::int64_t> g_resident_bytes{0};

}  // namespace

std::int64_t resident_message_bytes() { return g_resident_bytes.load(std::memory_order_relaxed); }

void message::set_accounted(std::int64_t bytes) {
  g_resident_bytes.fetch_add(bytes - accounted_, std::memory_order_relaxed);
  accounted_ = bytes;
}

void message::unload() {
  if (!stored || !loaded) return;
  std::vector<header>().swap(headers);
  std::string().swap(body);
  loaded = false;
  set_accounted(0);
}

bool broker_owned_header(std::string_view key) {
  static constexpr std::string_view owned[] = {
      "destination", "receipt", "transaction", "content-length", "persistent", "priority",
      "expires", "message-id", "timestamp", "redelivered", "subscription", "ack",
      "original-destination"};
  for (auto k : owned)
    if (k == key) return true;
  return false;
}

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace tandem::broker
