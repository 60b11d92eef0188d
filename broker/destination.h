#pragma once
// Destination and container names.
//   "/queue/NAME"   a queue (also the name of its container)
//   "/topic/NAME"   a topic (each subscription has its own container)
//   "durable:<client-id>:<subscription-name>"   a durable topic subscription's container

#include <string>
#include <string_view>

namespace tandem::broker {

inline constexpr std::string_view queue_prefix = "/queue/";
inline constexpr std::string_view topic_prefix = "/topic/";

inline bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
inline bool is_queue(std::string_view d) { return starts_with(d, queue_prefix) && d.size() > queue_prefix.size(); }
inline bool is_topic(std::string_view d) { return starts_with(d, topic_prefix) && d.size() > topic_prefix.size(); }

// The part after "/queue/" or "/topic/" (or the whole name).
inline std::string_view short_name(std::string_view d) {
  if (starts_with(d, queue_prefix)) return d.substr(queue_prefix.size());
  if (starts_with(d, topic_prefix)) return d.substr(topic_prefix.size());
  return d;
}

inline std::string durable_container_name(const std::string& client_id, const std::string& name) {
  return "durable:" + client_id + ":" + name;
}

}  // namespace tandem::broker
