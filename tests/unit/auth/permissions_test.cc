#include <catch2/catch.hpp>

#include "auth/permissions.h"
#include "auth/user_directory.h"
#include "auth/password.h"

using namespace tandem::auth;

TEST_CASE("destination patterns match with ActiveMQ's wildcards", "[auth]") {
  CHECK(pattern_matches(">", "/queue/a"));
  CHECK(pattern_matches(">", "/topic/a.b"));
  CHECK(pattern_matches("/queue/>", "/queue/a.b"));
  CHECK_FALSE(pattern_matches("/queue/>", "/topic/a"));
  CHECK(pattern_matches("/queue/orders.>", "/queue/orders.eu"));
  CHECK(pattern_matches("/queue/orders.>", "/queue/orders.eu.north"));
  CHECK_FALSE(pattern_matches("/queue/orders.>", "/queue/orders"));
  CHECK_FALSE(pattern_matches("/queue/orders.>", "/queue/ordersx.eu"));
  CHECK(pattern_matches("/topic/*.prices", "/topic/fx.prices"));
  CHECK_FALSE(pattern_matches("/topic/*.prices", "/topic/fx.spot.prices"));
  CHECK_FALSE(pattern_matches("/topic/*.prices", "/topic/prices"));
  CHECK(pattern_matches("/queue/orders", "/queue/orders"));
  CHECK_FALSE(pattern_matches("/queue/orders", "/queue/orders.eu"));
  CHECK_FALSE(pattern_matches("/queue/orders", "/topic/orders"));
}

TEST_CASE("bad patterns are refused with the reason", "[auth]") {
  CHECK_FALSE(check_pattern(">"));
  CHECK_FALSE(check_pattern("/queue/a.*.>"));
  CHECK_THAT(check_pattern("orders").message, Catch::Contains("/queue/ or /topic/"));
  CHECK_THAT(check_pattern("/queue/a.>.b").message, Catch::Contains("last segment"));
  CHECK_THAT(check_pattern("/queue/a..b").message, Catch::Contains("empty segment"));
  CHECK_THAT(check_pattern("/queue/a*").message, Catch::Contains("whole segments"));
}

TEST_CASE("users authenticate by name and password; admins may use every destination", "[auth]") {
  std::vector<user> users{
      {"ops", hash_password("ops-pw", min_iterations), http_role::admin, {}, {}},
      {"app", hash_password("app-pw", min_iterations), http_role::none, {"/queue/orders.>"}, {"/queue/orders.>", "/topic/prices"}},
  };
  user_directory dir(users);
  CHECK(dir.authenticate("ops", "ops-pw") == dir.find("ops"));
  CHECK(dir.authenticate("ops", "ops-pw") == dir.find("ops"));  // from the cache
  CHECK(dir.authenticate("ops", "app-pw") == nullptr);
  CHECK(dir.authenticate("nobody", "ops-pw") == nullptr);
  const user* app = dir.authenticate("app", "app-pw");
  REQUIRE(app);
  CHECK(app->may_read("/queue/orders.eu"));
  CHECK_FALSE(app->may_read("/topic/prices"));
  CHECK(app->may_write("/topic/prices"));
  CHECK_FALSE(app->may_write("/queue/payments"));
  CHECK(dir.find("ops")->may_write("/queue/payments"));
}

TEST_CASE("the cache-only check knows a pair only after a full check accepted it", "[auth]") {
  std::vector<user> users{{"app", hash_password("app-pw", min_iterations), http_role::none, {}, {}}};
  user_directory dir(users);
  CHECK(dir.authenticate_cached("app", "app-pw") == nullptr);  // never checked: not known yet
  CHECK(dir.authenticate("app", "wrong") == nullptr);
  CHECK(dir.authenticate_cached("app", "wrong") == nullptr);  // refusals are never cached
  REQUIRE(dir.authenticate("app", "app-pw") == dir.find("app"));
  CHECK(dir.authenticate_cached("app", "app-pw") == dir.find("app"));
  CHECK(dir.authenticate_cached("app", "app-pw2") == nullptr);
  CHECK(dir.authenticate_cached("nobody", "app-pw") == nullptr);
}

TEST_CASE("a verified pair is forgotten after the cache time", "[auth]") {
  std::vector<user> users{{"app", hash_password("app-pw", min_iterations), http_role::none, {}, {}}};
  user_directory dir(users, std::chrono::seconds(0));
  REQUIRE(dir.authenticate("app", "app-pw") == dir.find("app"));
  CHECK(dir.authenticate_cached("app", "app-pw") == nullptr);
  CHECK(dir.authenticate("app", "app-pw") == dir.find("app"));  // the full check still works
}
