// The fakes themselves: the connection tests rely on these promises.

#include <catch2/catch.hpp>

#include "tests/unit/failover/fake_transport.h"

using namespace tandem;
using namespace tandem::failover;
using namespace tandem::failover::testing;
using namespace std::string_literals;

namespace {
endpoint at(std::string host, std::uint16_t port) {
  endpoint e;
  e.host = std::move(host);
  e.port = port;
  return e;
}
}  // namespace

TEST_CASE("fake scheduler fires due timers in order and never inline", "[fake]") {
  auto loop = std::make_shared<fake_scheduler>();
  std::vector<std::string> fired;
  loop->after(milliseconds(30), [&] { fired.push_back("30"); });
  loop->after(milliseconds(10), [&] {
    fired.push_back("10");
    loop->after(milliseconds(5), [&] { fired.push_back("10+5"); });  // due at 15: before 20
  });
  auto cancelled = loop->after(milliseconds(12), [&] { fired.push_back("12"); });
  loop->after(milliseconds(20), [&] { fired.push_back("20a"); });
  loop->after(milliseconds(20), [&] { fired.push_back("20b"); });
  loop->after(milliseconds(0), [&] { fired.push_back("0"); });
  CHECK(fired.empty());
  loop->cancel(cancelled);
  loop->cancel(12345);  // unknown: nothing happens
  loop->run_pending();
  CHECK(fired == std::vector<std::string>{"0"});
  loop->advance(milliseconds(25));
  CHECK(fired == std::vector<std::string>{"0", "10", "10+5", "20a", "20b"});
  CHECK(loop->elapsed() == milliseconds(25));
  CHECK(loop->next_timer_in() == milliseconds(5));
  CHECK(loop->advance_to_next_timer() == milliseconds(5));
  CHECK(fired.back() == "30");
  CHECK(loop->timers_set() == 0);
}

TEST_CASE("fake scheduler stops a handler loop instead of hanging", "[fake]") {
  auto loop = std::make_shared<fake_scheduler>();
  std::function<void()> again = [&] { loop->after(milliseconds(0), again); };
  loop->after(milliseconds(0), again);
  CHECK_THROWS_AS(loop->run_pending(), std::runtime_error);
}

TEST_CASE("fake transport records frames and heart-beats and answers only through the loop", "[fake]") {
  auto loop = std::make_shared<fake_scheduler>();
  auto net = std::make_shared<fake_network>(loop);
  net->refuse("stomp://b:2");
  auto t = net->make(at("a", 1));
  auto refused = net->make(at("b", 2));
  CHECK(net->attempts() == std::vector<std::string>{"stomp://a:1", "stomp://b:2"});

  std::optional<error> connected, refusal, written;
  std::string got;
  t->async_connect(milliseconds(100), [&](error e) { connected = e; });
  refused->async_connect(milliseconds(100), [&](error e) { refusal = e; });
  CHECK_FALSE(connected);
  loop->run_pending();
  REQUIRE(connected);
  CHECK_FALSE(*connected);
  REQUIRE(refusal);
  CHECK(refusal->code == std::errc::connection_refused);

  t->async_write("CONNECT\naccept-version:1.2\n\n\0\n\nSEND\ndestination:/queue/a\ncontent-length:3\n\na\nb\0"s,
                 [&](error e) { written = e; });
  CHECK_FALSE(written);
  loop->run_pending();
  REQUIRE(written);
  auto& fake = net->at(0);
  CHECK(fake.commands() == std::vector<std::string>{"CONNECT", "SEND"});
  CHECK(fake.frames("SEND").at(0).body == "a\nb");
  CHECK(fake.heartbeats() == 2);
  CHECK(fake.parse_error().empty());

  fake.reply_connected();
  t->async_read([&](error e, std::string_view data) {
    CHECK_FALSE(e);
    got = data;
  });
  CHECK(got.empty());
  loop->run_pending();
  CHECK(got.starts_with("CONNECTED\n"));

  bool ran = false;
  t->async_read([&](error, std::string_view) { ran = true; });
  fake.eof();
  t->close();
  loop->run_pending();
  CHECK_FALSE(ran);  // no handler after close()
}
