#include <catch2/catch.hpp>

#include <string>

#include "auth/password.h"
#include "broker/config.h"
#include "tests/unit/broker/config_test_support.h"

using namespace tandem::broker;
using Catch::Matchers::Contains;

namespace {

// The password "pw", 10,000 iterations, salt "0123456789abcdef".
const std::string pw_hash = "pbkdf2-sha256$10000$MDEyMzQ1Njc4OWFiY2RlZg==$N/y9DskeeRX2qLMpd24hyTUNiM3IXwAoUyJwZo2LuwA=";

// The required keys on lines 1-6, then the given lines from line 7 on.
std::string with(const std::string& more) {
  return "node:\n  name: node-1\nstorage:\n  path: /tmp/t\nlisteners:\n  stomp: 127.0.0.1:61613\n" + more;
}

std::string error_of(const std::string& text) { return test::config_error_of(text, "n.yaml"); }

}  // namespace

TEST_CASE("security: users with roles and destination permissions are read", "[config][security]") {
  auto c = parse_config(with("security:\n"
                             "  enabled: true\n"
                             "  users:\n"
                             "    - name: ops\n"
                             "      password_hash: \"" + pw_hash + "\"\n"
                             "      role: admin\n"
                             "    - name: orders-app\n"
                             "      password_hash: " + pw_hash + "\n"
                             "      permissions:\n"
                             "        read: [\"/queue/orders.>\"]\n"
                             "        write: /topic/prices\n"),
                        "n.yaml");
  CHECK(c.security.enabled);
  CHECK_FALSE(c.security.metrics_public);
  REQUIRE(c.security.users.size() == 2);
  CHECK(c.security.users[0].role == tandem::auth::http_role::admin);
  CHECK(c.security.users[1].role == tandem::auth::http_role::none);
  CHECK(c.security.users[1].read == std::vector<std::string>{"/queue/orders.>"});
  CHECK(c.security.users[1].write == std::vector<std::string>{"/topic/prices"});
  CHECK(tandem::auth::verify_password("pw", c.security.users[0].password_hash));
}

TEST_CASE("security: no section means no users and no STOMP authentication", "[config][security]") {
  auto c = parse_config(with(""), "n.yaml");
  CHECK_FALSE(c.security.enabled);
  CHECK(c.security.users.empty());
}

TEST_CASE("security: mistakes are reported with their line", "[config][security]") {
  CHECK_THAT(error_of(with("security:\n  enabled: true\n")),
             Contains("n.yaml:8: security.enabled: is true but security.users lists nobody"));
  CHECK_THAT(error_of(with("security:\n  users:\n    - name: a\n      password_hash: secret\n")),
             Contains("n.yaml:10: security.users[0].password_hash: expected pbkdf2-sha256$ITERATIONS$SALT$HASH"));
  CHECK_THAT(error_of(with("security:\n  users:\n    - name: a\n      password_hash: " + pw_hash + "\n      role: root\n")),
             Contains("n.yaml:11: security.users[0].role: expected one of admin|viewer|none, got 'root'"));
  CHECK_THAT(error_of(with("security:\n  users:\n    - name: a\n      password_hash: " + pw_hash + "\n    - name: a\n      password_hash: " + pw_hash + "\n")),
             Contains("n.yaml:11: security.users[1].name: user 'a' is listed twice"));
  CHECK_THAT(error_of(with("security:\n  users:\n    - name: a\n")),
             Contains("security.users[0].password_hash: required key is missing"));
  CHECK_THAT(error_of(with("security:\n  users:\n    - name: a\n      password_hash: " + pw_hash + "\n      permissions:\n        write: [orders]\n")),
             Contains("n.yaml:12: security.users[0].permissions.write: bad destination pattern 'orders'"));
  CHECK_THAT(error_of(with("security:\n  users:\n    - name: a\n      passwd: x\n")),
             Contains("n.yaml:10: security.users[0].passwd: unknown key (expected one of: name, password_hash, role, permissions)"));
  CHECK_THAT(error_of(with("security:\n  users: admin\n")), Contains("n.yaml:8: security.users: expected a list of users"));
  CHECK_THAT(error_of(with("security:\n  users:\n    - admin\n")), Contains("security.users[0]: expected a user"));
  CHECK_THAT(error_of(with("security:\n  users:\n    - name: \"a b\"\n      password_hash: " + pw_hash + "\n")),
             Contains("security.users[0].name: expected a login name"));
}
