// stomp_security: logins checked off the caller's thread and answered on its executor, the
// messages and counters of refusals.

#include <catch2/catch.hpp>

#include <asio/io_context.hpp>

#include <string>
#include <thread>
#include <vector>

#include "auth/password.h"
#include "broker/stomp_security.h"

using namespace tandem;
using namespace tandem::broker;

namespace {

std::vector<auth::user> test_users() {
  return {{"app", auth::hash_password("app-pw", auth::min_iterations), auth::http_role::none,
           {"/queue/orders.>"}, {"/queue/orders.>"}}};
}

// Runs `io` until `done` or a bound of 10 s (a check costs a few ms at min_iterations).
template <typename Pred>
void run_until(asio::io_context& io, Pred done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_for(std::chrono::milliseconds(10));
  }
}

}  // namespace

TEST_CASE("a login is checked on a worker and answered on the caller's executor", "[security]") {
  auth::user_directory users(test_users());
  security_stats stats;
  stomp_security sec(true, users, stats);
  asio::io_context io;
  const auto loop_thread = std::this_thread::get_id();
  bool answered = false, on_loop = false;
  const auth::user* got = nullptr;
  CHECK(sec.cached_login("app", "app-pw") == nullptr);  // not verified yet
  sec.check_login("app", "app-pw", io.get_executor(), [&](const auth::user* u) {
    answered = true;
    on_loop = std::this_thread::get_id() == loop_thread;
    got = u;
  });
  run_until(io, [&] { return answered; });
  REQUIRE(answered);
  CHECK(on_loop);
  CHECK(got == users.find("app"));
  CHECK(sec.cached_login("app", "app-pw") == users.find("app"));  // the next CONNECT is cheap
}

TEST_CASE("a wrong passcode and an unknown user are refused alike and counted", "[security]") {
  auth::user_directory users(test_users());
  security_stats stats;
  stomp_security sec(true, users, stats);
  asio::io_context io;
  int answers = 0;
  std::vector<const auth::user*> got;
  for (auto [login, passcode] : {std::pair{"app", "wrong"}, std::pair{"nobody", "app-pw"}}) {
    sec.check_login(login, passcode, io.get_executor(), [&](const auth::user* u) {
      got.push_back(u);
      ++answers;
    });
  }
  run_until(io, [&] { return answers == 2; });
  CHECK(got == std::vector<const auth::user*>{nullptr, nullptr});
  CHECK(sec.refuse_login("app", "10.0.0.1:5") == "login failed for user 'app'");
  CHECK(sec.refuse_login("nobody", "10.0.0.1:6") == "login failed for user 'nobody'");
  CHECK(sec.refuse_login("", "10.0.0.1:7") == "login required");
  CHECK(stats.stomp_auth_failures == 3);
  CHECK(stats.stomp_logins == 0);
}

TEST_CASE("a login name from a client is shown bounded and without control characters", "[security]") {
  auth::user_directory users(test_users());
  security_stats stats;
  stomp_security sec(true, users, stats);
  CHECK(sec.refuse_login(std::string("ev\x01il\x7f", 6), "p") == "login failed for user 'ev?il?'");
  const std::string message = sec.refuse_login(std::string(1000, 'x'), "p");
  CHECK(message == "login failed for user '" + std::string(128, 'x') + "...'");
}

TEST_CASE("permission refusals name the user, the action and the destination", "[security]") {
  auth::user_directory users(test_users());
  security_stats stats;
  stomp_security sec(true, users, stats);
  const auth::user& app = *users.find("app");
  CHECK(sec.deny(app, true, "/queue/payments", "p") == "user 'app' may not write to /queue/payments");
  CHECK(sec.deny(app, false, "/topic/news", "p") == "user 'app' may not read from /topic/news");
  CHECK(stats.stomp_denials == 2);
  sec.accepted_login("app", "p");
  CHECK(stats.stomp_logins == 1);
}

TEST_CASE("stop abandons checks not started and answers nothing afterwards", "[security]") {
  auth::user_directory users(test_users());
  security_stats stats;
  stomp_security sec(true, users, stats);
  sec.stop();
  asio::io_context io;
  bool answered = false;
  sec.check_login("app", "app-pw", io.get_executor(), [&](const auth::user*) { answered = true; });
  io.run_for(std::chrono::milliseconds(200));
  CHECK_FALSE(answered);
  sec.stop();  // idempotent
}

TEST_CASE("with security off nothing is enabled", "[security]") {
  auth::user_directory users(test_users());
  security_stats stats;
  stomp_security sec(false, users, stats);
  CHECK_FALSE(sec.enabled());
  sec.stop();
}
