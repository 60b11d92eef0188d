// reconnect_policy: which endpoint is tried next and how long the client waits before it.
// A fixed random source makes jitter and `randomize` predictable.

#include <catch2/catch.hpp>

#include <deque>
#include <optional>
#include <vector>

#include "failover/reconnect_policy.h"

using namespace tandem::failover;

namespace {

failover_options endpoints(std::size_t n) {
  failover_options o;
  o.failover = true;
  o.randomize = false;
  o.reconnect_jitter = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    endpoint e;
    e.host = "h" + std::to_string(i);
    e.port = 61613;
    o.endpoints.push_back(e);
  }
  return o;
}

// Returns the given values in turn, then `fallback` forever; counts how many were drawn.
struct fixed_random {
  std::deque<double> values;
  double fallback = 0.0;
  int drawn = 0;
  double operator()() {
    ++drawn;
    if (values.empty()) return fallback;
    double v = values.front();
    values.pop_front();
    return v;
  }
};

std::function<double()> constant(double u) {
  return [u] { return u; };
}

// One pass: the next `n` attempts, which must all come without a wait except the first.
std::vector<std::size_t> pass(reconnect_policy& p, std::size_t n, milliseconds* first_delay = nullptr) {
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < n; ++i) {
    auto a = p.next();
    REQUIRE(a);
    if (i == 0 && first_delay) *first_delay = a->delay;
    if (i > 0) CHECK(a->delay == milliseconds(0));
    order.push_back(a->endpoint);
  }
  return order;
}

// The waits before passes 2, 3, ... of a one-endpoint list.
std::vector<long long> waits(failover_options& o, std::function<double()> u, int passes) {
  reconnect_policy p(o, std::move(u));
  p.begin(std::nullopt);
  std::vector<long long> out;
  auto first = p.next();
  REQUIRE(first);
  CHECK(first->delay == milliseconds(0));
  for (int i = 1; i < passes; ++i) {
    auto a = p.next();
    REQUIRE(a);
    out.push_back(a->delay.count());
  }
  return out;
}

}  // namespace

TEST_CASE("the first attempt of an episode has no wait and a pass tries every endpoint back to back", "[policy]") {
  auto o = endpoints(3);
  reconnect_policy p(o, constant(0.5));
  p.begin(std::nullopt);
  milliseconds first{-1};
  CHECK(pass(p, 3, &first) == std::vector<std::size_t>{0, 1, 2});
  CHECK(first == milliseconds(0));
  CHECK(p.passes_started() == 1);
}

TEST_CASE("exponential backoff doubles the wait after each full pass up to the cap", "[policy]") {
  auto o = endpoints(1);
  o.initial_reconnect_delay = milliseconds(10);
  o.max_reconnect_delay = milliseconds(100);
  CHECK(waits(o, constant(0.5), 7) == std::vector<long long>{10, 20, 40, 80, 100, 100});

  o.back_off_multiplier = 1.5;
  o.max_reconnect_delay = milliseconds(30000);
  CHECK(waits(o, constant(0.5), 5) == std::vector<long long>{10, 15, 22, 33});
}

TEST_CASE("without exponential backoff every wait is initialReconnectDelay", "[policy]") {
  auto o = endpoints(1);
  o.initial_reconnect_delay = milliseconds(250);
  o.use_exponential_backoff = false;
  CHECK(waits(o, constant(0.5), 5) == std::vector<long long>{250, 250, 250, 250});
}

TEST_CASE("the wait is only taken between passes, never inside one", "[policy]") {
  auto o = endpoints(2);
  o.initial_reconnect_delay = milliseconds(10);
  reconnect_policy p(o, constant(0.0));
  p.begin(std::nullopt);
  std::vector<long long> delays;
  for (int i = 0; i < 6; ++i) delays.push_back(p.next()->delay.count());
  CHECK(delays == std::vector<long long>{0, 0, 10, 0, 20, 0});
}

TEST_CASE("jitter shortens the wait by up to reconnectJitter and never exceeds the cap", "[policy]") {
  auto o = endpoints(1);
  o.initial_reconnect_delay = milliseconds(100);
  o.max_reconnect_delay = milliseconds(400);
  o.reconnect_jitter = 0.5;
  SECTION("U = 0 gives the base delay") {
    CHECK(waits(o, constant(0.0), 5) == std::vector<long long>{100, 200, 400, 400});
  }
  SECTION("U = 0.5 takes a quarter off") {
    CHECK(waits(o, constant(0.5), 5) == std::vector<long long>{75, 150, 300, 300});
  }
  SECTION("U close to 1 takes nearly half off") {
    CHECK(waits(o, constant(0.999), 3) == std::vector<long long>{50, 100});
  }
  SECTION("every wait is drawn afresh") {
    fixed_random r{{0.0, 0.2, 0.8}};
    CHECK(waits(o, std::ref(r), 4) == std::vector<long long>{100, 180, 240});
  }
}

TEST_CASE("base_delay is the schedule without jitter", "[policy]") {
  auto o = endpoints(1);
  o.initial_reconnect_delay = milliseconds(10);
  o.max_reconnect_delay = milliseconds(1000);
  reconnect_policy p(o, constant(0.0));
  CHECK(p.base_delay(1) == milliseconds(10));
  CHECK(p.base_delay(2) == milliseconds(20));
  CHECK(p.base_delay(7) == milliseconds(640));
  CHECK(p.base_delay(8) == milliseconds(1000));
  CHECK(p.base_delay(1000) == milliseconds(1000));
}

TEST_CASE("without randomize every pass goes through the list in order", "[policy]") {
  auto o = endpoints(3);
  reconnect_policy p(o, constant(0.3));
  p.begin(std::nullopt);
  for (int i = 0; i < 3; ++i) CHECK(pass(p, 3) == std::vector<std::size_t>{0, 1, 2});
}

TEST_CASE("randomize shuffles every pass with the injected random source", "[policy]") {
  auto o = endpoints(3);
  o.randomize = true;
  // Fisher-Yates from the back: j = floor(U * i) for i = 3, 2.
  // pass 1: U=0.0 swaps 2<->0 -> {2,1,0}; U=0.0 swaps 1<->0 -> {1,2,0}
  // pass 2: one draw for the jitter, then U=0.9 keeps 2, U=0.9 keeps 1 -> {0,1,2}
  fixed_random r{{0.0, 0.0, /*jitter*/ 0.0, 0.9, 0.9}};
  reconnect_policy p(o, std::ref(r));
  p.begin(std::nullopt);
  CHECK(pass(p, 3) == std::vector<std::size_t>{1, 2, 0});
  CHECK(r.drawn == 2);
  CHECK(pass(p, 3) == std::vector<std::size_t>{0, 1, 2});
  CHECK(r.drawn == 5);
}

TEST_CASE("priority endpoints come first in every pass, in their own order", "[policy]") {
  auto o = endpoints(4);
  o.priority_uris = {o.endpoints[2], o.endpoints[1]};
  SECTION("in list order for the rest") {
    reconnect_policy p(o, constant(0.0));
    p.begin(std::nullopt);
    CHECK(pass(p, 4) == std::vector<std::size_t>{2, 1, 0, 3});
    CHECK(pass(p, 4) == std::vector<std::size_t>{2, 1, 0, 3});
    CHECK(p.is_priority(2));
    CHECK(p.is_priority(1));
    CHECK_FALSE(p.is_priority(0));
  }
  SECTION("randomize shuffles only the rest") {
    o.randomize = true;
    // rest = {0,3}: U=0.0 -> j=0 swaps 3<->0 -> {3,0}
    reconnect_policy p(o, constant(0.0));
    p.begin(std::nullopt);
    CHECK(pass(p, 4) == std::vector<std::size_t>{2, 1, 3, 0});
  }
}

TEST_CASE("the endpoint just lost is tried last in every pass of its episode", "[policy]") {
  auto o = endpoints(3);
  o.initial_reconnect_delay = milliseconds(10);
  reconnect_policy p(o, constant(0.0));
  p.begin(std::size_t{0});
  CHECK(pass(p, 3) == std::vector<std::size_t>{1, 2, 0});
  CHECK(pass(p, 3) == std::vector<std::size_t>{1, 2, 0});
  CHECK(pass(p, 3) == std::vector<std::size_t>{1, 2, 0});

  SECTION("a new episode starts over with its own lost endpoint and no wait") {
    p.begin(std::size_t{1});
    milliseconds first{-1};
    CHECK(pass(p, 3, &first) == std::vector<std::size_t>{0, 2, 1});
    CHECK(first == milliseconds(0));
    milliseconds second{-1};
    CHECK(pass(p, 3, &second) == std::vector<std::size_t>{0, 2, 1});
    CHECK(second == milliseconds(10));  // the backoff starts over too
  }
  SECTION("the first connection demotes nothing") {
    p.begin(std::nullopt);
    CHECK(pass(p, 3) == std::vector<std::size_t>{0, 1, 2});
  }
  SECTION("a lost priority endpoint is still tried last") {
    o.priority_uris = {o.endpoints[0]};
    p.begin(std::size_t{0});
    CHECK(pass(p, 3) == std::vector<std::size_t>{1, 2, 0});
  }
}

TEST_CASE("an endpoint demoted for a connect timeout is tried after the others from the next pass on",
          "[policy]") {
  auto o = endpoints(3);
  reconnect_policy p(o, constant(0.0));
  SECTION("at startup") {
    p.begin(std::nullopt);
    CHECK(p.next()->endpoint == 0);
    p.demote(0);  // the attempt at 0 timed out
    CHECK(p.next()->endpoint == 1);  // the pass in progress keeps its order
    CHECK(p.next()->endpoint == 2);
    CHECK(pass(p, 3) == std::vector<std::size_t>{1, 2, 0});
    CHECK(pass(p, 3) == std::vector<std::size_t>{1, 2, 0});
  }
  SECTION("after the lost endpoint, in the order demoted") {
    p.begin(std::size_t{2});
    CHECK(pass(p, 3) == std::vector<std::size_t>{0, 1, 2});
    p.demote(0);
    p.demote(0);  // twice is once
    CHECK(pass(p, 3) == std::vector<std::size_t>{1, 2, 0});
  }
  SECTION("a new episode forgets demotions") {
    p.begin(std::nullopt);
    p.demote(1);
    p.begin(std::nullopt);
    CHECK(pass(p, 3) == std::vector<std::size_t>{0, 1, 2});
  }
}

TEST_CASE("maxReconnectAttempts limits the passes after a lost connection", "[policy]") {
  auto o = endpoints(2);
  o.startup_max_reconnect_attempts = 5;  // must not matter after a loss
  auto passes_until_exhausted = [&](int max) {
    o.max_reconnect_attempts = max;
    reconnect_policy p(o, constant(0.0));
    p.begin(std::size_t{1});
    int attempts = 0;
    while (p.next() && attempts < 1000) ++attempts;
    return attempts;
  };
  CHECK(passes_until_exhausted(0) == 2);   // 0 = one pass
  CHECK(passes_until_exhausted(1) == 4);   // N = N + 1 passes
  CHECK(passes_until_exhausted(3) == 8);
  CHECK(passes_until_exhausted(-1) == 1000);  // forever
}

TEST_CASE("an exhausted episode stays exhausted until the next begin", "[policy]") {
  auto o = endpoints(1);
  o.max_reconnect_attempts = 0;
  reconnect_policy p(o, constant(0.0));
  p.begin(std::size_t{0});
  CHECK(p.next());
  CHECK_FALSE(p.next());
  CHECK_FALSE(p.next());
  p.begin(std::size_t{0});
  CHECK(p.next());
}

TEST_CASE("startupMaxReconnectAttempts limits the passes of the first connection", "[policy]") {
  auto o = endpoints(2);
  auto attempts_at_startup = [&](int startup, int max) {
    o.startup_max_reconnect_attempts = startup;
    o.max_reconnect_attempts = max;
    reconnect_policy p(o, constant(0.0));
    p.begin(std::nullopt);
    int attempts = 0;
    while (p.next() && attempts < 1000) ++attempts;
    return attempts;
  };
  CHECK(attempts_at_startup(0, -1) == 2);
  CHECK(attempts_at_startup(2, -1) == 6);
  CHECK(attempts_at_startup(2, 0) == 6);  // the startup limit wins over maxReconnectAttempts
  CHECK(attempts_at_startup(-1, -1) == 1000);
  // ActiveMQ: startupMaxReconnectAttempts=-1 (the default) means maxReconnectAttempts applies
  // from the start too, so maxReconnectAttempts=3 alone gives up at start after 4 passes.
  CHECK(attempts_at_startup(-1, 3) == 8);
}
