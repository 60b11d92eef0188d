#pragma once
// The harness shared by the connection tests: a connection on a fake network and a fake clock
// (fake_transport.h), the events and messages it reports, and short verbs for the usual steps.

#include <catch2/catch.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "failover/connection.h"
#include "failover/errors.h"
#include "tests/unit/failover/fake_transport.h"

namespace tandem::failover::testing {

// The outcome of one asynchronous call; copies share it, so a completion that runs after the
// test's locals are gone (close() in the harness) writes somewhere valid.
struct outcome {
  std::shared_ptr<std::vector<error>> calls = std::make_shared<std::vector<error>>();
  completion fn() const {
    return [calls = calls](error e) { calls->push_back(std::move(e)); };
  }
  bool done() const { return !calls->empty(); }
  bool ok() const { return calls->size() == 1 && !calls->front(); }
  std::error_code code() const { return done() ? calls->front().code : std::error_code{}; }
  std::string message() const { return done() ? calls->front().message : std::string{}; }
  std::size_t times() const { return calls->size(); }
};

// Endpoints a and b, list order, no jitter, heart-beats off unless a test turns them on.
inline const std::string pair_uri =
    "failover:(stomp://a:1,stomp://b:2)?randomize=false&initialReconnectDelay=100&maxReconnectDelay=1000"
    "&heartBeat=0,0";

struct harness {
  std::shared_ptr<fake_scheduler> loop = std::make_shared<fake_scheduler>();
  std::shared_ptr<fake_network> net = std::make_shared<fake_network>(loop);
  std::shared_ptr<connection> conn;
  std::vector<event> events;
  std::vector<message> messages;
  outcome started;

  explicit harness(const std::string& uri = pair_uri) {
    auto o = parse_uri(uri);
    INFO(uri);
    REQUIRE(o.ok());
    conn = connection::create(*o, net, loop, [] { return 0.0; });
    conn->on_event([this](const event& e) { events.push_back(e); });
  }
  ~harness() {
    // Pending timers hold the connection; closing drops them.
    if (conn && !conn->closed()) {
      conn->close();
      loop->run_pending();
      // A connected close waits for the DISCONNECT receipt, at most connectTimeout.
      while (!conn->closed() && loop->next_timer_in()) loop->advance_to_next_timer();
    }
  }

  void start() {
    conn->start(started.fn());
    loop->run_pending();
  }
  // Starts and lets the first endpoint that accepts answer CONNECTED.
  fake_transport& start_connected(const std::string& heart_beat = "0,0") {
    start();
    auto& t = net->last();
    t.reply_connected(heart_beat);
    loop->run_pending();
    REQUIRE(started.ok());
    REQUIRE(conn->connected());
    return t;
  }
  // Breaks the current connection and answers CONNECTED on the next endpoint tried.
  fake_transport& fail_over(fake_transport& from) {
    const auto before = net->made();
    from.fail_read();
    loop->run_pending();
    REQUIRE(net->made() > before);
    auto& t = net->last();
    REQUIRE(t.commands() == std::vector<std::string>{"CONNECT"});
    t.reply_connected();
    loop->run_pending();
    REQUIRE(conn->connected());
    return t;
  }
  outcome send(const std::string& destination, const std::string& body, std::string tx = {}, headers extra = {}) {
    outcome o;
    conn->send(destination, body, std::move(extra), o.fn(), std::move(tx));
    loop->run_pending();
    return o;
  }
  outcome subscribe(subscription_spec spec) {
    outcome o;
    conn->subscribe(std::move(spec), [this](message&& m) { messages.push_back(std::move(m)); }, o.fn());
    loop->run_pending();
    return o;
  }
  outcome tx(void (connection::*op)(const std::string&, completion), const std::string& name) {
    outcome o;
    ((*conn).*op)(name, o.fn());
    loop->run_pending();
    return o;
  }
  std::vector<event_kind> kinds() const {
    std::vector<event_kind> out;
    for (auto& e : events) out.push_back(e.kind);
    return out;
  }
};

inline std::vector<std::string> bodies(const std::vector<stomp::frame>& frames) {
  std::vector<std::string> out;
  for (auto& f : frames) out.push_back(f.body);
  return out;
}

}  // namespace tandem::failover::testing
