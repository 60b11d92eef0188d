// connection (the failover core) on a fake network and a fake clock: connecting, reconnecting,
// heart-beats and close. Each test plays the brokers through fake_transport.h and checks what the
// application sees (completions, events) and what reaches a broker (the frames written).

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "tests/unit/failover/connection_harness.h"

using namespace tandem;
using namespace tandem::failover;
using namespace tandem::failover::testing;
using Catch::Matchers::Contains;

TEST_CASE("start connects through a refused endpoint to the second one", "[connection]") {
  harness h("failover:(stomp://a:1,stomp://b:2)?randomize=false&heartBeat=0,0&login=alice&passcode=pw&clientId=c1");
  h.net->refuse("stomp://a:1");
  h.start();
  CHECK(h.net->attempts() == std::vector<std::string>{"stomp://a:1", "stomp://b:2"});
  CHECK(h.net->at(0).closed());
  auto& b = h.net->last();
  REQUIRE(b.commands() == std::vector<std::string>{"CONNECT"});
  const auto& connect = b.frames().front();
  CHECK(connect.get("accept-version") == "1.1,1.2");
  CHECK(connect.get("host") == "b");
  CHECK(connect.get("login") == "alice");
  CHECK(connect.get("passcode") == "pw");
  CHECK(connect.get("client-id") == "c1");
  CHECK_FALSE(h.started.done());  // not before CONNECTED

  b.reply_connected();
  h.loop->run_pending();
  CHECK(h.started.ok());
  CHECK(h.conn->connected());
  CHECK(h.conn->current_endpoint() == "stomp://b:2");
  CHECK(h.conn->stats().failed_attempts == 1);
  CHECK(h.conn->stats().connects == 1);
  REQUIRE(h.events.size() == 1);
  CHECK(h.events[0].kind == event_kind::resumed);
  CHECK(h.events[0].endpoint == "stomp://b:2");
  CHECK(h.events[0].first);
  CHECK(h.events[0].outage == milliseconds(0));
}

TEST_CASE("an endpoint that never answers does not hold up the next one", "[connection]") {
  const auto stagger = connection::attempt_stagger;
  harness h(pair_uri + "&connectTimeout=" + std::to_string(stagger.count() + 500));
  h.net->hang("stomp://a:1");
  h.start();
  CHECK(h.net->attempts() == std::vector<std::string>{"stomp://a:1"});
  CHECK(h.net->at(0).connect_timeout() == stagger + milliseconds(500));
  h.loop->advance(stagger - milliseconds(1));
  CHECK(h.net->made() == 1);
  h.loop->advance(milliseconds(1));  // a has not answered: b is tried alongside it
  CHECK(h.net->attempts() == std::vector<std::string>{"stomp://a:1", "stomp://b:2"});
  CHECK_FALSE(h.net->at(0).closed());
  auto& b = h.net->at(1);
  CHECK(b.commands() == std::vector<std::string>{"CONNECT"});
  b.reply_connected();
  h.loop->run_pending();
  CHECK(h.started.ok());
  CHECK(h.conn->current_endpoint() == "stomp://b:2");
  CHECK(h.net->at(0).closed());  // the loser is dropped
}

TEST_CASE("an attempt that never completes is dropped at connectTimeout", "[connection]") {
  harness h("failover:(stomp://a:1)?heartBeat=0,0&connectTimeout=300&initialReconnectDelay=100");
  h.net->hang("stomp://a:1");
  h.start();
  h.loop->advance(milliseconds(299));
  CHECK_FALSE(h.net->at(0).closed());
  h.loop->advance(milliseconds(1));
  CHECK(h.net->at(0).closed());
  CHECK(h.conn->stats().failed_attempts == 1);
  while (h.net->made() < 2 && h.loop->next_timer_in()) h.loop->advance_to_next_timer();
  CHECK(h.net->made() == 2);  // the next pass
}

// The stagger timer must not ask the policy for the next endpoint while every endpoint is still
// in flight: each such call would start (and skip) a whole pass, using up the attempt limit
// without trying anything.
TEST_CASE("endpoints that hang do not use up passes while their attempts run",
          "[connection]") {
  SECTION("one endpoint") {
    harness h("failover:(stomp://a:1)?heartBeat=0,0&connectTimeout=300&initialReconnectDelay=100"
              "&startupMaxReconnectAttempts=2");
    h.net->hang("stomp://a:1");
    h.start();
    while (!h.started.done() && h.loop->next_timer_in()) h.loop->advance_to_next_timer();
    CHECK(h.started.code() == errc::reconnect_failed);
    CHECK(h.net->attempts() == std::vector<std::string>{"stomp://a:1", "stomp://a:1", "stomp://a:1"});
  }
  SECTION("the wait after the first pass is initialReconnectDelay, not a later pass's") {
    harness h("failover:(stomp://a:1)?heartBeat=0,0&connectTimeout=300&initialReconnectDelay=100");
    h.net->hang("stomp://a:1");
    h.start();
    h.loop->advance(milliseconds(300));  // a times out
    REQUIRE(h.net->made() == 1);
    h.loop->advance(milliseconds(100));
    CHECK(h.net->made() == 2);
  }
  SECTION("two endpoints") {
    harness h(pair_uri + "&connectTimeout=300&startupMaxReconnectAttempts=2");
    h.net->hang("stomp://a:1");
    h.net->hang("stomp://b:2");
    h.start();
    while (!h.started.done() && h.loop->next_timer_in()) h.loop->advance_to_next_timer();
    CHECK(h.started.code() == errc::reconnect_failed);
    // Attempts overlap (attempt_stagger): an attempt still running when its endpoint's turn
    // comes in the next pass counts as that pass's try, so 3 passes over 2 hanging endpoints
    // make 4 attempts, not 6, and no pass is used up without trying anything.
    CHECK(h.net->made() == 4);
  }
}

TEST_CASE("a broker that accepts TCP but never answers CONNECT is overtaken and dropped", "[connection]") {
  harness h(pair_uri + "&connectTimeout=1000");
  h.start();
  auto& a = h.net->at(0);
  CHECK(a.commands() == std::vector<std::string>{"CONNECT"});
  h.loop->advance(connection::attempt_stagger);
  REQUIRE(h.net->made() == 2);
  auto& b = h.net->at(1);
  CHECK(b.commands() == std::vector<std::string>{"CONNECT"});
  SECTION("b answers first") {
    b.reply_connected();
    h.loop->run_pending();
    CHECK(h.conn->current_endpoint() == "stomp://b:2");
    CHECK(a.closed());
  }
  SECTION("a answers first after all") {
    a.reply_connected();
    h.loop->run_pending();
    CHECK(h.conn->current_endpoint() == "stomp://a:1");
    CHECK(b.closed());
  }
  SECTION("neither answers: both dropped at their connectTimeout, then the next pass") {
    h.loop->advance(milliseconds(1000) - connection::attempt_stagger);
    CHECK(a.closed());
    CHECK_FALSE(b.closed());
    h.loop->advance(connection::attempt_stagger);
    CHECK(b.closed());
    CHECK_FALSE(h.started.done());
  }
  CHECK(h.started.times() <= 1);
}

TEST_CASE("an endpoint that ran into connectTimeout is tried after the others on the next pass", "[connection]") {
  harness h(pair_uri + "&connectTimeout=300");
  h.net->hang("stomp://a:1");
  h.net->refuse("stomp://b:2");
  h.start();
  // a hangs; b is tried at the stagger and refuses; b again after the backoff (a is still in
  // flight); a times out at 300 ms and is demoted.
  h.loop->advance(milliseconds(300));
  const auto before = h.net->attempts();
  REQUIRE(before.front() == "stomp://a:1");
  CHECK(h.net->at(0).closed());
  // The rest of that pass is b; from then on every pass tries b before a.
  while (h.net->made() < before.size() + 3 && h.loop->next_timer_in()) h.loop->advance_to_next_timer();
  auto after = h.net->attempts();
  after.erase(after.begin(), after.begin() + static_cast<long>(before.size()));
  REQUIRE(after.size() >= 3);
  CHECK(std::vector<std::string>(after.begin(), after.begin() + 3) ==
        std::vector<std::string>{"stomp://b:2", "stomp://b:2", "stomp://a:1"});
}

TEST_CASE("startup attempts exhausted ends start with reconnect_failed", "[connection]") {
  harness h(pair_uri + "&startupMaxReconnectAttempts=1");
  h.net->refuse("stomp://a:1");
  h.net->refuse("stomp://b:2");
  h.start();
  CHECK(h.net->made() == 2);  // the first pass, back to back
  CHECK(h.loop->next_timer_in() == milliseconds(100));  // initialReconnectDelay before pass 2
  h.loop->advance(milliseconds(100));
  CHECK(h.net->made() == 4);
  CHECK(h.started.code() == errc::reconnect_failed);
  CHECK_THAT(h.started.message(), Contains("connection refused"));
  CHECK(h.conn->closed());
  REQUIRE_FALSE(h.events.empty());
  CHECK(h.events.back().kind == event_kind::closed);
  CHECK(h.events.back().reason.code == errc::reconnect_failed);
  h.loop->advance(milliseconds(60000));
  CHECK(h.net->made() == 4);  // no attempt after giving up
  CHECK(h.started.times() == 1);
}

TEST_CASE("a plain stomp URI tries once and does not reconnect", "[connection]") {
  SECTION("refused at start") {
    harness h("stomp://a:1?heartBeat=0,0");
    h.net->refuse("stomp://a:1");
    h.start();
    CHECK(h.started.code() == errc::reconnect_failed);
    h.loop->advance(milliseconds(60000));
    CHECK(h.net->made() == 1);
  }
  SECTION("lost after connecting") {
    harness h("stomp://a:1?heartBeat=0,0");
    auto& a = h.start_connected();
    auto pending = h.send("/queue/q", "x");
    a.fail_read();
    h.loop->run_pending();
    h.loop->advance(milliseconds(60000));
    CHECK(h.net->made() == 1);
    CHECK(h.conn->closed());
    CHECK(pending.done());
    CHECK(pending.code() == errc::connection_closed);
    CHECK(h.kinds() == std::vector<event_kind>{event_kind::resumed, event_kind::closed});
  }
}

TEST_CASE("ERROR on CONNECT at startup ends start with broker_error and no retry", "[connection]") {
  harness h;
  h.start();
  h.net->last().reply("ERROR", {{"message", "bad login"}}, "Authentication failed for alice");
  h.loop->run_pending();
  CHECK(h.started.code() == errc::broker_error);
  CHECK_THAT(h.started.message(), Contains("bad login"));
  CHECK(h.conn->closed());
  h.loop->advance(milliseconds(60000));
  CHECK(h.net->made() == 1);
}

TEST_CASE("an ERROR on CONNECT after a failover is retried, not fatal", "[connection]") {
  harness h;
  auto& a = h.start_connected();
  a.fail_read();
  h.loop->run_pending();
  auto& b = h.net->last();
  b.reply("ERROR", {{"message", "broker is starting"}});
  h.loop->run_pending();
  CHECK_FALSE(h.conn->closed());
  CHECK(b.closed());
  auto& next = h.net->last();
  CHECK(next.name() == "stomp://a:1");
  next.reply_connected();
  h.loop->run_pending();
  CHECK(h.conn->connected());
}

TEST_CASE("start twice is refused without disturbing the first", "[connection]") {
  harness h;
  auto& a = h.start_connected();
  outcome again;
  h.conn->start(again.fn());
  h.loop->run_pending();
  CHECK(again.code() == errc::protocol_error);
  CHECK(h.conn->connected());
  CHECK(h.net->made() == 1);
  CHECK(a.commands() == std::vector<std::string>{"CONNECT"});
}

TEST_CASE("frames that arrive in the same read as CONNECTED are handled at once", "[connection]") {
  harness h;
  h.subscribe({"s1", "/queue/a", "auto", {}});
  h.start();
  auto& a = h.net->last();
  std::string bytes = stomp::encode(stomp::frame{"CONNECTED", {{"version", "1.2"}, {"heart-beat", "0,0"}}, ""},
                                    stomp::version::v1_2);
  bytes += stomp::encode(
      stomp::frame{"MESSAGE", {{"subscription", "s1"}, {"destination", "/queue/a"}, {"message-id", "m-1"}, {"ack", "1"}}, "hi"},
      stomp::version::v1_2);
  a.deliver(bytes);
  h.loop->run_pending();
  CHECK(h.started.ok());
  REQUIRE(h.messages.size() == 1);
  CHECK(h.messages[0].body() == "hi");
}

TEST_CASE("a lost connection keeps reconnecting, with backoff, until a broker is back", "[connection]") {
  harness h;
  auto& a = h.start_connected();
  h.net->refuse("stomp://a:1");
  h.net->refuse("stomp://b:2");
  a.fail_read();
  h.loop->run_pending();
  CHECK(h.net->attempts() == std::vector<std::string>{"stomp://a:1", "stomp://b:2", "stomp://a:1"});
  // Waits between passes: 100, 200, 400, 800, 1000 (the cap).
  std::vector<long long> waits;
  for (int i = 0; i < 5; ++i) {
    auto w = h.loop->next_timer_in();
    REQUIRE(w);
    waits.push_back(w->count());
    h.loop->advance(*w);
  }
  CHECK(waits == std::vector<long long>{100, 200, 400, 800, 1000});
  CHECK(h.net->made() == 3 + 5 * 2);
  h.net->accept("stomp://b:2");
  h.net->auto_connected();
  h.loop->advance(milliseconds(1000));
  CHECK(h.conn->connected());
  CHECK(h.conn->current_endpoint() == "stomp://b:2");
  CHECK(h.kinds() == std::vector<event_kind>{event_kind::resumed, event_kind::interrupted, event_kind::resumed});
}

TEST_CASE("maxReconnectAttempts exhausted after a loss closes with reconnect_failed", "[connection]") {
  harness h(pair_uri + "&maxReconnectAttempts=1");
  auto& a = h.start_connected();
  auto s = h.send("/queue/q", "x");
  h.net->refuse("stomp://a:1");
  h.net->refuse("stomp://b:2");
  a.fail_read();
  h.loop->run_pending();
  h.loop->advance(milliseconds(60000));
  CHECK(h.net->made() == 1 + 4);  // two passes
  CHECK(h.conn->closed());
  CHECK(s.code() == errc::reconnect_failed);
  CHECK(h.events.back().kind == event_kind::closed);
  CHECK(h.events.back().reason.code == errc::reconnect_failed);
}

TEST_CASE("bytes that are not STOMP from the broker drop the connection and it reconnects", "[connection]") {
  harness h;
  auto& a = h.start_connected();
  a.deliver("HELLO\nthis is not stomp\n\n");
  a.deliver(std::string("\0", 1));
  h.loop->run_pending();
  REQUIRE(h.events.size() >= 2);
  CHECK(h.events[1].kind == event_kind::interrupted);
  CHECK(h.events[1].reason.code == errc::protocol_error);
  CHECK(a.closed());
  CHECK(h.net->made() == 2);
}

TEST_CASE("a failed write drops the connection and the send goes again", "[connection]") {
  harness h;
  auto& a = h.start_connected();
  a.fail_next_write();
  auto s = h.send("/queue/q", "x");
  CHECK(h.events.back().kind == event_kind::interrupted);
  auto& b = h.net->last();
  b.reply_connected();
  h.loop->run_pending();
  CHECK(bodies(b.frames("SEND")) == std::vector<std::string>{"x"});
  b.receipt_all();
  h.loop->run_pending();
  CHECK(s.ok());
}

TEST_CASE("priorityBackup moves back to the priority broker when it accepts connections again", "[connection]") {
  harness h(pair_uri + "&priorityBackup=true&priorityCheckInterval=500");
  h.net->refuse("stomp://a:1");
  auto& b = h.start_connected();
  REQUIRE(b.name() == "stomp://b:2");
  auto s = h.send("/queue/q", "x");
  h.loop->advance(milliseconds(500));  // a probe to a: refused
  CHECK(h.conn->current_endpoint() == "stomp://b:2");
  const auto probes = h.net->made();
  CHECK(probes == 3);
  h.net->accept("stomp://a:1");
  h.loop->advance(milliseconds(500));  // the next probe connects: move over
  CHECK(b.closed());
  REQUIRE(h.events.size() == 2);
  CHECK(h.events[1].kind == event_kind::interrupted);
  CHECK(h.events[1].endpoint == "stomp://b:2");
  auto& a = h.net->last();
  REQUIRE(a.name() == "stomp://a:1");
  a.reply_connected();
  h.loop->run_pending();
  CHECK(h.conn->current_endpoint() == "stomp://a:1");
  CHECK(bodies(a.frames("SEND")) == std::vector<std::string>{"x"});
  h.loop->advance(milliseconds(5000));
  CHECK(h.net->last().name() == "stomp://a:1");  // no probing from the priority broker
}

TEST_CASE("heart-beat timeout triggers a reconnect", "[connection]") {
  harness h("failover:(stomp://a:1,stomp://b:2)?randomize=false&heartBeat=0,500");
  auto& a = h.start_connected("1000,0");  // the broker promises a beat every 1000 ms
  h.loop->advance(milliseconds(1500));
  a.deliver("\n");  // a beat: still alive
  h.loop->advance(milliseconds(1999));
  CHECK(h.conn->connected());
  CHECK(h.net->made() == 1);
  // Dead after 2 x 1000 ms of silence, noticed at the next check (every half interval).
  h.loop->advance(milliseconds(501));
  CHECK_FALSE(h.conn->connected());
  REQUIRE(h.events.size() == 2);
  CHECK(h.events[1].kind == event_kind::interrupted);
  CHECK(h.events[1].endpoint == "stomp://a:1");
  CHECK(h.events[1].reason.code == errc::timed_out);
  CHECK_THAT(h.events[1].reason.message, Contains("heart-beat"));
  CHECK(a.closed());
  CHECK(h.net->last().name() == "stomp://b:2");
}

TEST_CASE("heart-beat EOLs are written when the client has nothing else to say", "[connection]") {
  SECTION("when the broker asks for them") {
    harness h("failover:(stomp://a:1,stomp://b:2)?randomize=false&heartBeat=1000,0");
    auto& a = h.start_connected("0,1000");
    CHECK(a.frames().front().get("heart-beat") == "1000,0");
    h.loop->advance(milliseconds(5000));
    CHECK(a.heartbeats() >= 4);
    CHECK(a.heartbeats() <= 6);
    CHECK(a.commands() == std::vector<std::string>{"CONNECT"});
    CHECK(a.parse_error().empty());
  }
  SECTION("not when the broker does not want them") {
    harness h("failover:(stomp://a:1,stomp://b:2)?randomize=false&heartBeat=1000,0");
    auto& a = h.start_connected("0,0");
    h.loop->advance(milliseconds(5000));
    CHECK(a.heartbeats() == 0);
  }
}

TEST_CASE("no heart-beat EOL while the client writes frames often enough", "[connection]") {
  harness h("failover:(stomp://a:1,stomp://b:2)?randomize=false&heartBeat=1000,0");
  auto& a = h.start_connected("0,1000");
  for (int i = 0; i < 10; ++i) {
    h.send("/queue/q", std::to_string(i));
    h.loop->advance(milliseconds(400));
  }
  CHECK(a.frames("SEND").size() == 10);
  CHECK(a.heartbeats() == 0);
}

TEST_CASE("the heart-beat watch starts again on the new connection after a failover", "[connection]") {
  harness h("failover:(stomp://a:1,stomp://b:2)?randomize=false&heartBeat=0,500");
  auto& a = h.start_connected("500,0");
  a.fail_read();
  h.loop->run_pending();
  auto& b = h.net->last();
  b.reply_connected("500,0");
  h.loop->run_pending();
  REQUIRE(h.conn->current_endpoint() == "stomp://b:2");
  for (int i = 0; i < 6; ++i) {  // a beat every 500 ms keeps it up
    h.loop->advance(milliseconds(500));
    b.deliver("\n");
  }
  h.loop->run_pending();
  CHECK(h.conn->current_endpoint() == "stomp://b:2");
  h.loop->advance(milliseconds(1500));  // silence: 2 x 500 ms, noticed within a check interval
  CHECK_FALSE(h.conn->connected());
  CHECK(h.events.back().kind == event_kind::interrupted);
  CHECK(h.events.back().endpoint == "stomp://b:2");
}

TEST_CASE("close breaks reconnect loop", "[connection]") {
  harness h;
  h.net->refuse("stomp://a:1");
  h.net->refuse("stomp://b:2");
  h.start();
  auto s = h.send("/queue/q", "never");
  REQUIRE(h.loop->next_timer_in());  // waiting out the backoff
  const auto made = h.net->made();
  h.events.clear();
  outcome closed;
  h.conn->close(closed.fn());
  h.loop->run_pending();
  CHECK(h.conn->closed());
  CHECK(h.started.code() == errc::closed);
  CHECK(s.code() == errc::closed);
  CHECK(closed.ok());
  REQUIRE(h.events.size() == 1);
  CHECK(h.events[0].kind == event_kind::closed);
  CHECK(h.events[0].reason.code == errc::closed);
  h.net->accept("stomp://a:1");
  h.loop->advance(milliseconds(120000));
  CHECK(h.net->made() == made);  // no more attempts
  CHECK(h.loop->timers_set() == 0);
  // Calls after close fail at once.
  auto after = h.send("/queue/q", "after");
  CHECK(after.code() == errc::closed);
}

TEST_CASE("close during a connect attempt drops it and ends start with closed", "[connection]") {
  harness h;
  h.net->hang("stomp://a:1");
  h.start();
  outcome closed;
  h.conn->close(closed.fn());
  h.loop->run_pending();
  CHECK(h.net->at(0).closed());
  CHECK(h.started.code() == errc::closed);
  CHECK(closed.ok());
  h.loop->advance(milliseconds(60000));
  CHECK(h.net->made() == 1);
  CHECK(h.loop->timers_set() == 0);
}

TEST_CASE("closing from the interrupted event stops the reconnect", "[connection]") {
  harness h;
  auto& a = h.start_connected();
  h.conn->on_event([&](const event& e) {
    h.events.push_back(e);
    if (e.kind == event_kind::interrupted) h.conn->close();
  });
  a.fail_read();
  h.loop->run_pending();
  h.loop->advance(milliseconds(60000));
  CHECK(h.conn->closed());
  CHECK(h.net->made() == 1);
  CHECK(h.kinds() == std::vector<event_kind>{event_kind::resumed, event_kind::interrupted, event_kind::closed});
}

TEST_CASE("close while connected sends DISCONNECT and lets earlier receipts arrive", "[connection]") {
  harness h;
  auto& a = h.start_connected();
  auto s = h.send("/queue/q", "last words");
  outcome closed;
  h.conn->close(closed.fn());
  h.loop->run_pending();
  REQUIRE(a.commands() == std::vector<std::string>{"CONNECT", "SEND", "DISCONNECT"});
  const auto disconnect = a.last_frame();
  CHECK(disconnect.has("receipt"));
  CHECK_FALSE(closed.done());

  SECTION("the broker answers both receipts") {
    a.receipt(a.frames("SEND").at(0));
    a.receipt(disconnect);
    h.loop->run_pending();
    CHECK(s.ok());
    CHECK(closed.ok());
    CHECK(h.conn->closed());
    CHECK(a.closed());
    CHECK(h.events.back().kind == event_kind::closed);
  }
  SECTION("a silent broker does not hold close up past connectTimeout") {
    h.loop->advance(milliseconds(2000));
    CHECK(closed.ok());
    CHECK(s.code() == errc::closed);
    CHECK(h.conn->closed());
  }
  SECTION("the connection dropping instead of answering still closes, without a reconnect") {
    a.eof();
    h.loop->run_pending();
    h.loop->advance(milliseconds(60000));
    CHECK(closed.ok());
    CHECK(h.conn->closed());
    CHECK(h.net->made() == 1);
  }
}
