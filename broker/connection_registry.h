#pragma once
// The client connections of the broker core, as the admin API sees them: protocol-neutral.
// A protocol session (STOMP today; MQTT and AMQP later) implements client_connection and
// registers itself with the core's registry while it is open; the core never learns which
// protocol it speaks, only what describe() says.
//
// Single-threaded: used only on the broker's event loop.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tandem::broker {

struct connection_subscription {
  std::string id;
  std::string destination;  // "/queue/x" or "/topic/x"
  std::string ack;          // "auto", "client", "client-individual"
  std::uint32_t prefetch = 0;
  std::size_t inflight = 0;               // delivered, not yet acknowledged
  std::optional<std::string> durable;     // the durable subscription's name
  std::optional<std::string> selector;
};

struct connection_info {
  std::uint64_t id = 0;
  std::string remote;    // "address:port"
  std::string protocol;  // "STOMP 1.2"
  bool tls = false;
  std::string login;      // "" when none was given
  std::string client_id;  // "" when none was given
  std::int64_t connected_ms = 0;
  std::vector<connection_subscription> subscriptions;
  std::size_t inflight = 0;
  std::uint64_t messages_in = 0;   // messages the client sent
  std::uint64_t messages_out = 0;  // messages delivered to it
};

class client_connection {
 public:
  virtual ~client_connection() = default;
  virtual connection_info describe() const = 0;
  // The protocol's name in lower case ("stomp"), the `protocol` label of the metrics.
  virtual const char* protocol_name() const = 0;
  // Tells the client why (the protocol's error: an ERROR frame for STOMP) and closes the
  // connection; its unacknowledged messages are redelivered, its open transactions aborted.
  virtual void close_by_admin(const std::string& reason) = 0;
};

class connection_registry {
 public:
  void add(std::uint64_t id, client_connection* c) {
    live_[id] = c;
    ++accepted_;
  }
  void remove(std::uint64_t id) { live_.erase(id); }
  client_connection* find(std::uint64_t id) const {
    auto it = live_.find(id);
    return it == live_.end() ? nullptr : it->second;
  }
  // In id order, i.e. the order they connected.
  const std::map<std::uint64_t, client_connection*>& all() const { return live_; }
  std::size_t size() const { return live_.size(); }
  std::uint64_t accepted() const { return accepted_; }

 private:
  std::map<std::uint64_t, client_connection*> live_;
  std::uint64_t accepted_ = 0;
};

}  // namespace tandem::broker
