// The HTTP authentication policy (broker/http_auth.h): who is admitted, and the 401s and
// 403s with their sentences; sessions; Basic and cookie parsing.

#include <catch2/catch.hpp>

#include <set>

#include "auth/password.h"
#include "broker/http_auth.h"

using namespace tandem;
using namespace tandem::broker;
using Catch::Matchers::Contains;
using auth::http_role;
using kind = credential_check::kind;

namespace {

auth::user make_user(std::string name, http_role role) {
  auth::user u;
  u.name = std::move(name);
  u.role = role;
  return u;
}

const auth::user admin = make_user("root", http_role::admin);
const auth::user ops = make_user("ops", http_role::viewer);
const auth::user app = make_user("orders-app", http_role::none);

credential_check basic(const auth::user* u, std::string claimed = "x") { return {kind::basic, u, std::move(claimed)}; }
credential_check cookie(const auth::user* u) { return {kind::cookie, u, ""}; }

}  // namespace

TEST_CASE("open mode admits everyone as admin", "[http][auth]") {
  auto o = decide(true, credential_check{}, false, http_role::admin, "purge queues");
  CHECK(o.admitted());
  CHECK(o.who.role == http_role::admin);
  CHECK(o.who.user.empty());
  CHECK(o.who.may_read("/queue/anything"));
}

TEST_CASE("no credentials: 401 with a Basic challenge, unless the console asked", "[http][auth]") {
  auto o = decide(false, credential_check{}, false, http_role::viewer, "read the status");
  CHECK(o.status == 401);
  CHECK(o.challenge);
  CHECK_THAT(o.error, Contains("authentication required"));
  auto console = decide(false, credential_check{}, true, http_role::viewer, "read the status");
  CHECK(console.status == 401);
  CHECK_FALSE(console.challenge);
}

TEST_CASE("wrong Basic credentials and unknown sessions are 401", "[http][auth]") {
  auto wrong = decide(false, basic(nullptr, "root"), false, http_role::viewer, "read the status");
  CHECK(wrong.status == 401);
  CHECK(wrong.error == "wrong user name or password");
  auto expired = decide(false, cookie(nullptr), true, http_role::viewer, "read the status");
  CHECK(expired.status == 401);
  CHECK_THAT(expired.error, Contains("log in again"));
}

TEST_CASE("a viewer may read but not change anything", "[http][auth]") {
  auto read = decide(false, basic(&ops), false, http_role::viewer, "list destinations");
  CHECK(read.admitted());
  CHECK(read.who.user == "ops");
  auto purge = decide(false, basic(&ops), false, http_role::admin, "purge queues");
  CHECK(purge.status == 403);
  CHECK(purge.error == "user 'ops' (viewer) may not purge queues: needs admin");
  CHECK_FALSE(purge.challenge);
}

TEST_CASE("a user without an HTTP role is refused even reading", "[http][auth]") {
  auto o = decide(false, basic(&app), false, http_role::viewer, "read the status");
  CHECK(o.status == 403);
  CHECK(o.error == "user 'orders-app' (none) may not read the status: needs viewer");
  // ... but may ask who it is and log out ("any user").
  CHECK(decide(false, basic(&app), false, http_role::none, "ask who they are").admitted());
}

TEST_CASE("an admin may do everything with Basic", "[http][auth]") {
  auto o = decide(false, basic(&admin), false, http_role::admin, "delete queues");
  CHECK(o.admitted());
  CHECK_FALSE(o.who.via_cookie);
}

TEST_CASE("a cookie admits like Basic credentials (the cross-site guard is http_origin's)", "[http][auth]") {
  auto with = decide(false, cookie(&admin), false, http_role::admin, "purge queues");
  CHECK(with.admitted());
  CHECK(with.who.via_cookie);
  CHECK(decide(false, cookie(&ops), false, http_role::viewer, "list destinations").admitted());
}

TEST_CASE("a password that was not checked is 429 or 503 with the time to wait", "[http][auth]") {
  credential_check backing_off{kind::basic, nullptr, "root", 429, 42};
  auto o = decide(false, backing_off, false, http_role::viewer, "read the status");
  CHECK(o.status == 429);
  CHECK(o.retry_after_s == 42);
  CHECK(o.error == "too many failed logins from this address: try again in 42 s");
  credential_check busy{kind::basic, nullptr, "root", 503, 1};
  auto b = decide(false, busy, false, http_role::viewer, "read the status");
  CHECK(b.status == 503);
  CHECK_THAT(b.error, Contains("too many password checks at once"));
}

TEST_CASE("browsing follows the user's read patterns; admins browse anything", "[http][auth]") {
  auth::user viewer = make_user("ops", http_role::viewer);
  viewer.read = {"/queue/orders.>"};
  principal p{"ops", http_role::viewer, &viewer, false};
  CHECK(p.may_read("/queue/orders.eu"));
  CHECK_FALSE(p.may_read("/queue/payments"));
  principal a{"root", http_role::admin, &admin, false};
  CHECK(a.may_read("/queue/payments"));
}

TEST_CASE("sessions: random tokens that find their user until they end", "[http][auth][sessions]") {
  session_store s(10, std::chrono::hours(12));
  auto t1 = s.create(admin);
  auto t2 = s.create(ops);
  CHECK(t1.size() == 64);  // 32 random bytes in hex
  CHECK(t1 != t2);
  CHECK(s.find(t1) == &admin);
  CHECK(s.find(t2) == &ops);
  CHECK(s.find("not-a-token") == nullptr);
  CHECK(s.find("") == nullptr);
  s.end(t1);
  CHECK(s.find(t1) == nullptr);
  CHECK(s.find(t2) == &ops);
}

TEST_CASE("sessions expire after their time", "[http][auth][sessions]") {
  session_store s(10, std::chrono::seconds(0));
  auto t = s.create(admin);
  CHECK(s.find(t) == nullptr);
  CHECK(s.size() == 0);
}

TEST_CASE("past the bound the oldest session goes first", "[http][auth][sessions]") {
  session_store s(3, std::chrono::hours(1));
  std::vector<std::string> tokens;
  for (int i = 0; i < 5; ++i) tokens.push_back(s.create(ops));
  CHECK(s.size() == 3);
  CHECK(s.find(tokens[0]) == nullptr);
  CHECK(s.find(tokens[1]) == nullptr);
  for (int i = 2; i < 5; ++i) CHECK(s.find(tokens[i]) == &ops);
}

TEST_CASE("one user's logins evict that user's oldest session, not other users'", "[http][auth][sessions]") {
  session_store s(100, std::chrono::hours(1), 3);
  auto admins = s.create(admin);
  std::vector<std::string> tokens;
  for (int i = 0; i < 10; ++i) tokens.push_back(s.create(ops));
  CHECK(s.find(admins) == &admin);
  CHECK(s.size() == 4);
  for (int i = 0; i < 7; ++i) CHECK(s.find(tokens[i]) == nullptr);
  for (int i = 7; i < 10; ++i) CHECK(s.find(tokens[i]) == &ops);
}

TEST_CASE("HTTP Basic credentials are parsed; anything else is not", "[http][auth]") {
  auto creds = parse_basic("Basic " + auth::encode_base64("ops:s3cret:with:colons"));
  REQUIRE(creds);
  CHECK(creds->first == "ops");
  CHECK(creds->second == "s3cret:with:colons");
  CHECK_FALSE(parse_basic("Bearer abc"));
  CHECK_FALSE(parse_basic("Basic not-base64!"));
  CHECK_FALSE(parse_basic("Basic " + auth::encode_base64("no-colon")));
}

TEST_CASE("the session cookie is found among others", "[http][auth]") {
  CHECK(cookie_value("a=1; tandem_session=abc123; b=2", "tandem_session") == "abc123");
  CHECK(cookie_value("tandem_session=xyz", "tandem_session") == "xyz");
  CHECK(cookie_value("other_tandem_session=1", "tandem_session").empty());
  CHECK(cookie_value("", "tandem_session").empty());
}

TEST_CASE("wrong passwords are counted as failed logins; right ones open a session", "[http][auth]") {
  auth::user u = make_user("ops", http_role::viewer);
  u.password_hash = auth::hash_password("right", auth::min_iterations);
  auth::user_directory dir({u});
  security_stats stats;
  http_auth a(dir, stats, "node-1");
  auto before = stats.http_auth_failures.load();
  auto check = a.check({"Basic " + auth::encode_base64("ops:wrong"), "", "127.0.0.1:5000"});
  CHECK(check.from == kind::basic);
  CHECK(check.user == nullptr);
  CHECK(stats.http_auth_failures.load() == before + 1);
  auto login = a.login("ops", "right", "127.0.0.1:5000");
  REQUIRE(login.user);
  CHECK(login.user->name == "ops");
  auto by_cookie = a.check({"", login.token, "127.0.0.1:5000"});
  CHECK(by_cookie.from == kind::cookie);
  REQUIRE(by_cookie.user);
  CHECK(by_cookie.user->name == "ops");
  CHECK(stats.http_auth_failures.load() == before + 1);
  CHECK_FALSE(a.login("ops", "wrong", "127.0.0.1:5000").user);
  CHECK(stats.http_auth_failures.load() == before + 2);
}
