// A complete program: send three persistent messages through a failover URI, then receive and
// acknowledge them. Built as `failover-example`; run it against the local pair:
//
//   build/failover/failover-example 'failover:(stomp://127.0.0.1:61613,stomp://127.0.0.1:61623)'
#include <cstdio>

#include <fmt/format.h>

#include "failover/client.h"

using namespace std::chrono_literals;
namespace fo = tandem::failover;

int main(int argc, char** argv) {
  const char* uri = argc > 1 ? argv[1] : "failover:(stomp://127.0.0.1:61613,stomp://127.0.0.1:61623)";
  auto opened = fo::client::open(uri, 10s);
  if (!opened) {
    fmt::print(stderr, "cannot connect: {}\n", opened.err().describe());
    return 2;
  }
  auto& client = **opened;
  client.on_event([](const fo::event& e) {
    if (e.kind == fo::event_kind::resumed && !e.first)
      fmt::print(stderr, "resumed on {} after {} ms, {} re-sent\n", e.endpoint, e.outage.count(), e.resent);
    if (e.kind == fo::event_kind::interrupted) fmt::print(stderr, "lost {}: {}\n", e.endpoint, e.reason.describe());
  });
  fmt::print("connected to {}\n", client.current_endpoint());

  for (int i = 1; i <= 3; ++i) {
    // Returns once the broker has made the message durable (its RECEIPT came back).
    if (auto e = client.send("/queue/example", fmt::format("hello {}", i), {{"persistent", "true"}})) {
      fmt::print(stderr, "send failed: {}\n", e.describe());
      return 3;
    }
  }
  if (auto e = client.subscribe({.id = "s1", .destination = "/queue/example", .ack = "client-individual", .extra = {}})) {
    fmt::print(stderr, "subscribe failed: {}\n", e.describe());
    return 3;
  }
  for (int i = 0; i < 3; ++i) {
    auto m = client.receive(5s);
    if (!m) {
      fmt::print(stderr, "receive: {}\n", m.err().describe());
      return 3;
    }
    fmt::print("{}{}\n", m->body(), m->redelivered() ? " (redelivered)" : "");
    client.ack(*m);
  }
  client.close();
  return 0;
}
