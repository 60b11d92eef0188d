// The limits on checking HTTP passwords (broker/login_throttle.h): concurrent checks, a client
// backing off after failures, and failed logins logged at a bounded rate.

#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include "auth/password.h"
#include "broker/http_auth.h"
#include "broker/login_throttle.h"

using namespace tandem;
using namespace tandem::broker;
using namespace std::chrono_literals;

TEST_CASE("at most max_concurrent password checks hold a slot at once", "[http][throttle]") {
  login_throttle t({.max_concurrent = 2, .slot_wait = 20ms});
  auto a = t.acquire();
  auto b = t.acquire();
  CHECK(a);
  CHECK(b);
  auto start = std::chrono::steady_clock::now();
  auto c = t.acquire();
  CHECK_FALSE(c);
  CHECK(std::chrono::steady_clock::now() - start >= 20ms);  // it waited for a slot first
  { auto gone = std::move(a); }
  CHECK(t.acquire());  // a released slot is free again
}

TEST_CASE("a client backs off after max_failures within the window, until the oldest ages out", "[http][throttle]") {
  login_throttle t({.max_failures = 5, .failure_window = 60s});
  auto t0 = login_throttle::clock::now();
  for (int i = 0; i < 4; ++i) t.failed("10.0.0.1", t0 + std::chrono::seconds(i));
  CHECK_FALSE(t.backing_off("10.0.0.1", t0 + 4s));
  t.failed("10.0.0.1", t0 + 4s);
  auto wait = t.backing_off("10.0.0.1", t0 + 5s);
  REQUIRE(wait);
  CHECK(*wait == 55);  // the first failure (t0) is 60 s old at t0 + 60 s
  CHECK_FALSE(t.backing_off("10.0.0.2", t0 + 5s));  // other clients are not affected
  CHECK_FALSE(t.backing_off("10.0.0.1", t0 + 60s));  // one failure aged out: one more try
  t.failed("10.0.0.1", t0 + 60s);
  auto again = t.backing_off("10.0.0.1", t0 + 60s);
  REQUIRE(again);
  CHECK(*again == 1);  // until the second failure (t0 + 1 s) ages out
  CHECK_FALSE(t.backing_off("10.0.0.1", t0 + 200s));
}

TEST_CASE("the throttle remembers at most max_clients addresses", "[http][throttle]") {
  login_throttle t({.max_failures = 1, .failure_window = 60s, .max_clients = 3});
  auto t0 = login_throttle::clock::now();
  for (int i = 0; i < 4; ++i) t.failed("10.0.0." + std::to_string(i), t0 + std::chrono::seconds(i));
  CHECK_FALSE(t.backing_off("10.0.0.0", t0 + 5s));  // idle longest: forgotten for the fourth
  for (int i = 1; i < 4; ++i) CHECK(t.backing_off("10.0.0." + std::to_string(i), t0 + 5s));
}

TEST_CASE("failed logins are logged at most log_lines per window, then announced as left out", "[http][throttle]") {
  login_throttle t({.log_lines = 2, .log_window = 60s});
  using d = login_throttle::log_decision;
  auto t0 = login_throttle::clock::now();
  std::uint64_t left_out = 99;
  CHECK(t.may_log(left_out, t0) == d::log);
  CHECK(left_out == 0);
  CHECK(t.may_log(left_out, t0 + 1s) == d::log);
  CHECK(t.may_log(left_out, t0 + 2s) == d::announce_quiet);
  CHECK(t.may_log(left_out, t0 + 3s) == d::quiet);
  CHECK(t.may_log(left_out, t0 + 4s) == d::quiet);
  CHECK(t.may_log(left_out, t0 + 61s) == d::log);
  CHECK(left_out == 3);
}

TEST_CASE("http_auth refuses a client backing off before checking its password", "[http][throttle]") {
  auth::user u;
  u.name = "ops";
  u.role = auth::http_role::viewer;
  u.password_hash = auth::hash_password("right", auth::min_iterations);
  auth::user_directory dir({u});
  security_stats stats;
  http_auth a(dir, stats, "node-1", {.max_failures = 2, .failure_window = 60s});
  CHECK(a.login("ops", "right", "127.0.0.1:1").user);  // verified once: cached from now on
  for (int i = 0; i < 2; ++i) CHECK(a.check({"Basic " + auth::encode_base64("ops:wrong"), "", "127.0.0.1:2"}).throttled == 0);
  CHECK(stats.http_auth_failures.load() == 2);
  // Right or wrong, cached or not: the client waits, and nothing is counted as a failure.
  auto right = a.check({"Basic " + auth::encode_base64("ops:right"), "", "127.0.0.1:3"});
  CHECK(right.throttled == 429);
  CHECK(right.user == nullptr);
  CHECK(right.retry_after_s > 0);
  CHECK(a.login("ops", "wrong", "127.0.0.1:4").throttled == 429);
  CHECK(stats.http_auth_failures.load() == 2);
  // Another address is not affected.
  CHECK(a.check({"Basic " + auth::encode_base64("ops:right"), "", "127.0.0.2:5"}).user);
  CHECK(peer_address("::1:5000") == "::1");
}
