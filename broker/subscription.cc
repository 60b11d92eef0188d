#include "broker/subscription.h"

#include <array>

namespace tandem::broker {
namespace {

// Values computed from message fields need storage that outlives the lookup while the
// selector compares them; a small ring of buffers is enough for one expression.
std::string_view scratch(std::string value) {
  thread_local std::array<std::string, 16> ring;
  thread_local std::size_t next = 0;
  auto& slot = ring[next++ % ring.size()];
  slot = std::move(value);
  return slot;
}

}  // namespace

std::optional<std::string_view> message_property(const message& m, std::string_view name) {
  if (name == "priority") return scratch(std::to_string(m.priority));
  if (name == "persistent") return m.persistent ? std::string_view("true") : std::string_view("false");
  if (name == "message-id") return std::string_view(m.message_id);
  if (name == "destination") return std::string_view(m.destination);
  if (name == "timestamp") return scratch(std::to_string(m.timestamp_ms));
  if (name == "expires") return scratch(std::to_string(m.expires_ms));
  for (const auto& h : m.headers)
    if (h.key == name) return std::string_view(h.value);
  return std::nullopt;
}

bool subscription::matches(const message& m) const {
  if (!selector_) return true;
  return selector_->matches([&m](std::string_view name) { return message_property(m, name); });
}

}  // namespace tandem::broker
