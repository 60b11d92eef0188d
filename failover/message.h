#pragma once
// What the library hands to the application and what it reports about itself.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "stomp/frame.h"

namespace tandem::failover {

using headers = std::vector<std::pair<std::string, std::string>>;

// A MESSAGE delivered to a subscription.
struct message {
  stomp::frame frame;            // the MESSAGE frame as received (headers, body)
  std::string subscription;      // the subscription id it was delivered to
  std::uint64_t generation = 0;  // the connection it came on; ack/nack only count there

  std::string_view body() const { return frame.body; }
  std::string_view destination() const { return frame.get("destination"); }
  std::string_view message_id() const { return frame.get("message-id"); }
  std::string_view header(std::string_view key) const { return frame.get(key); }
  // True when the broker delivered it before (e.g. to a consumer on a connection since lost).
  bool redelivered() const { return frame.get("redelivered") == "true"; }
};

struct subscription_spec {
  std::string id;           // SUBSCRIBE `id`; kept across reconnects
  std::string destination;  // /queue/NAME or /topic/NAME
  std::string ack = "auto";  // auto | client | client-individual
  headers extra;            // selector, prefetch, activemq.subscriptionName (durable), ...
};

enum class event_kind {
  interrupted,  // the connection was lost; the library is reconnecting
  resumed,      // connected again (or for the first time) and state restored
  closed,       // closed for good: close() or reconnect attempts exhausted
};
std::string_view to_string(event_kind k);

struct event {
  event_kind kind;
  std::string endpoint;  // interrupted: the endpoint lost; resumed: the endpoint now used
  error reason;          // interrupted / closed: why
  // interrupted: the connection lost; resumed: the new one (message::generation of the
  // messages that come on it); 0 for closed.
  std::uint64_t generation = 0;
  // resumed only:
  std::chrono::milliseconds outage{0};  // since the interruption (0 for the first connection)
  std::size_t resent = 0;               // sends without a receipt sent again (same message-id)
  std::size_t resubscribed = 0;         // subscriptions restored with their ids
  std::size_t rolled_back = 0;          // transactions reported as rolled back
  bool first = false;                   // the first connection of this client
};

// Counters since the client was created (read them on the connection's thread, or through
// client::stats()).
struct statistics {
  std::uint64_t connects = 0;        // successful connections (first one included)
  std::uint64_t failed_attempts = 0;
  std::uint64_t sends = 0;           // send() calls accepted
  std::uint64_t receipts = 0;        // sends receipted
  std::uint64_t resent = 0;          // re-sent after a reconnect
  std::uint64_t messages = 0;        // MESSAGE frames delivered to the application
  std::uint64_t redelivered = 0;     // of those, marked redelivered by the broker
  std::uint64_t stale_acks = 0;      // acks of messages from a lost connection (not sent)
  std::uint64_t rolled_back = 0;     // transactions rolled back by a failover
  std::uint64_t timed_out = 0;       // sends that ran out of `timeout` while disconnected
};

using completion = std::function<void(error)>;
using message_handler = std::function<void(message&&)>;
using event_handler = std::function<void(const event&)>;

}  // namespace tandem::failover
