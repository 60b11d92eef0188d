// parse_uri: every option (its default, a valid value, an invalid value and what the user reads),
// every malformed URI, and where each kind of option may appear.

#include <catch2/catch.hpp>

#include <functional>
#include <string>
#include <vector>

#include "failover/errors.h"
#include "failover/uri.h"

using namespace tandem;
using namespace tandem::failover;
using Catch::Matchers::Contains;
using Catch::Matchers::Equals;

namespace {

failover_options parse_ok(const std::string& uri) {
  auto r = parse_uri(uri);
  INFO("uri: " << uri);
  if (!r) INFO("error: " << r.err().describe());
  REQUIRE(r.ok());
  return *r;
}

error parse_fails(const std::string& uri) {
  auto r = parse_uri(uri);
  INFO("uri: " << uri);
  REQUIRE_FALSE(r.ok());
  return r.err();
}

const std::string two = "failover:(stomp://a:1,stomp://b:2)";

// One row per option: where it goes, a valid value and what it sets, an invalid value and the
// words the error must contain.
struct option_case {
  std::string name;
  std::function<bool(const failover_options&)> is_default;
  std::string valid;
  std::function<bool(const failover_options&)> is_set;
  std::string invalid;
  std::string expected;  // part of the error message for `invalid`
};

std::vector<option_case> failover_option_cases() {
  using o = const failover_options&;
  return {
      {"randomize", [](o x) { return x.randomize; }, "false", [](o x) { return !x.randomize; }, "yes",
       "option 'randomize=yes': expected true or false"},
      {"initialReconnectDelay", [](o x) { return x.initial_reconnect_delay == milliseconds(10); }, "250",
       [](o x) { return x.initial_reconnect_delay == milliseconds(250); }, "-1",
       "option 'initialReconnectDelay=-1': expected an integer from 0 to"},
      {"maxReconnectDelay", [](o x) { return x.max_reconnect_delay == milliseconds(30000); }, "5000",
       [](o x) { return x.max_reconnect_delay == milliseconds(5000); }, "5s",
       "option 'maxReconnectDelay=5s': expected an integer from 0 to"},
      {"useExponentialBackOff", [](o x) { return x.use_exponential_backoff; }, "false",
       [](o x) { return !x.use_exponential_backoff; }, "0", "option 'useExponentialBackOff=0': expected true or false"},
      {"backOffMultiplier", [](o x) { return x.back_off_multiplier == 2.0; }, "1.5",
       [](o x) { return x.back_off_multiplier == 1.5; }, "0.5",
       "option 'backOffMultiplier=0.5': expected a number from 1 to 1000"},
      {"maxReconnectAttempts", [](o x) { return x.max_reconnect_attempts == -1; }, "3",
       [](o x) { return x.max_reconnect_attempts == 3; }, "-2",
       "option 'maxReconnectAttempts=-2': expected an integer from -1 to 1000000000"},
      {"startupMaxReconnectAttempts", [](o x) { return x.startup_max_reconnect_attempts == -1; }, "0",
       [](o x) { return x.startup_max_reconnect_attempts == 0; }, "many",
       "option 'startupMaxReconnectAttempts=many': expected an integer from -1 to 1000000000"},
      {"timeout", [](o x) { return x.timeout == milliseconds(-1); }, "3000",
       [](o x) { return x.timeout == milliseconds(3000); }, "-2", "option 'timeout=-2': expected an integer from -1 to"},
      {"priorityBackup", [](o x) { return !x.priority_backup; }, "true", [](o x) { return x.priority_backup; }, "TRUE",
       "option 'priorityBackup=TRUE': expected true or false"},
      {"reconnectJitter", [](o x) { return x.reconnect_jitter == 0.2; }, "0",
       [](o x) { return x.reconnect_jitter == 0.0; }, "1.5", "option 'reconnectJitter=1.5': expected a number from 0 to 1"},
      {"maxBufferedSends", [](o x) { return x.max_buffered_sends == 10000; }, "2",
       [](o x) { return x.max_buffered_sends == 2; }, "-1",
       "option 'maxBufferedSends=-1': expected an integer from 0 to 100000000"},
      {"priorityCheckInterval", [](o x) { return x.priority_check_interval == milliseconds(1000); }, "50",
       [](o x) { return x.priority_check_interval == milliseconds(50); }, "5",
       "option 'priorityCheckInterval=5': expected an integer from 10 to"},
      {"login", [](o x) { return x.login.empty(); }, "alice", [](o x) { return x.login == "alice"; }, "", ""},
      {"passcode", [](o x) { return x.passcode.empty(); }, "s3cret", [](o x) { return x.passcode == "s3cret"; }, "", ""},
      {"clientId", [](o x) { return x.client_id.empty(); }, "app-1", [](o x) { return x.client_id == "app-1"; }, "", ""},
      {"host", [](o x) { return x.vhost.empty(); }, "tandem", [](o x) { return x.vhost == "tandem"; }, "", ""},
      {"connectTimeout", [](o x) { return x.connect_timeout == milliseconds(2000); }, "750",
       [](o x) { return x.connect_timeout == milliseconds(750); }, "0",
       "option 'connectTimeout=0': expected an integer from 1 to"},
      {"heartBeat",
       [](o x) { return x.heartbeat_send == milliseconds(1000) && x.heartbeat_receive == milliseconds(500); },
       "0,0", [](o x) { return x.heartbeat_send == milliseconds(0) && x.heartbeat_receive == milliseconds(0); },
       "1000", "option 'heartBeat=1000': expected SEND,RECEIVE in milliseconds"},
  };
}

}  // namespace

TEST_CASE("every failover option has ActiveMQ's default, accepts a valid value and names a bad one", "[uri]") {
  const auto defaults = parse_ok(two);
  for (const auto& c : failover_option_cases()) {
    SECTION(c.name) {
      CHECK(c.is_default(defaults));
      const auto set = parse_ok(two + "?" + c.name + "=" + c.valid);
      CHECK(c.is_set(set));
      if (!c.expected.empty()) {
        const auto e = parse_fails(two + "?" + c.name + "=" + c.invalid);
        CHECK(e.code == errc::invalid_option);
        CHECK_THAT(e.message, Contains(c.expected));
      }
    }
  }
}

TEST_CASE("connection options also work on a plain stomp URI", "[uri]") {
  const auto o = parse_ok("stomp://broker:61613?login=alice&passcode=pw&clientId=c1&host=vh&heartBeat=200,100&connectTimeout=300");
  CHECK(o.login == "alice");
  CHECK(o.passcode == "pw");
  CHECK(o.client_id == "c1");
  CHECK(o.vhost == "vh");
  CHECK(o.heartbeat_send == milliseconds(200));
  CHECK(o.heartbeat_receive == milliseconds(100));
  CHECK(o.connect_timeout == milliseconds(300));
}

TEST_CASE("heart-beat values that are not two numbers are refused", "[uri]") {
  for (std::string bad : {"1000,", ",500", "a,b", "1000;500", "-1,0"}) {
    const auto e = parse_fails(two + "?heartBeat=" + bad);
    CHECK(e.code == errc::invalid_option);
    CHECK_THAT(e.message, Contains("heartBeat=" + bad) && Contains("SEND,RECEIVE"));
  }
}

TEST_CASE("a plain stomp URI is one broker tried once without reconnect", "[uri]") {
  const auto o = parse_ok("stomp://broker.example:61613");
  CHECK_FALSE(o.failover);
  REQUIRE(o.endpoints.size() == 1);
  CHECK(o.endpoints[0].host == "broker.example");
  CHECK(o.endpoints[0].port == 61613);
  CHECK_FALSE(o.endpoints[0].tls);
  CHECK(o.max_reconnect_attempts == 0);
  CHECK(o.startup_max_reconnect_attempts == 0);
  CHECK_FALSE(o.randomize);
  CHECK(o.endpoints[0].to_string() == "stomp://broker.example:61613");
}

TEST_CASE("a failover URI lists its brokers in order, with or without parentheses", "[uri]") {
  for (std::string uri : {"failover:(stomp://a:1,stomp+ssl://b:2)", "failover:stomp://a:1,stomp+ssl://b:2",
                          "failover:( stomp://a:1 , stomp+ssl://b:2 )", "  failover:(stomp://a:1/,stomp+ssl://b:2/)  "}) {
    INFO(uri);
    const auto o = parse_ok(uri);
    CHECK(o.failover);
    REQUIRE(o.endpoints.size() == 2);
    CHECK(o.endpoints[0].to_string() == "stomp://a:1");
    CHECK(o.endpoints[1].to_string() == "stomp+ssl://b:2");
    CHECK(o.endpoints[1].tls);
  }
}

TEST_CASE("IPv6 hosts are written in brackets", "[uri]") {
  const auto o = parse_ok("failover:(stomp://[::1]:61613,stomp+ssl://[fe80::1]:61614)");
  REQUIRE(o.endpoints.size() == 2);
  CHECK(o.endpoints[0].host == "::1");
  CHECK(o.endpoints[0].port == 61613);
  CHECK(o.endpoints[0].to_string() == "stomp://[::1]:61613");
  CHECK(o.endpoints[1].host == "fe80::1");
  CHECK(o.endpoints[1].to_string() == "stomp+ssl://[fe80::1]:61614");

  auto unclosed = parse_fails("stomp://[::1:61613");
  CHECK(unclosed.code == errc::invalid_uri);
  CHECK_THAT(unclosed.message, Contains("unclosed '['"));
  auto no_port = parse_fails("stomp://[::1]");
  CHECK(no_port.code == errc::invalid_uri);
  CHECK_THAT(no_port.message, Contains("has no port"));
}

TEST_CASE("option values are percent-decoded", "[uri]") {
  const auto o = parse_ok(two + "?login=us%40er&passcode=p%26ss%3Dw%25rd");
  CHECK(o.login == "us@er");
  CHECK(o.passcode == "p&ss=w%rd");
  const auto tls = parse_ok("stomp+ssl://a:1?caFile=%2Fetc%2Fmy%20ca.pem");
  CHECK(tls.endpoints[0].tls_settings.ca_file == "/etc/my ca.pem");

  for (std::string bad : {"%zz", "%4", "abc%"}) {
    const auto e = parse_fails(two + "?login=" + bad);
    CHECK(e.code == errc::invalid_uri);
    CHECK_THAT(e.message, Contains("bad percent escape") && Contains(bad));
  }
}

TEST_CASE("malformed URIs are refused naming the offending part", "[uri]") {
  struct row {
    std::string uri;
    std::string expected;
  };
  const std::vector<row> rows = {
      {"", "the URI is empty"},
      {"broker", "'broker' has no scheme"},
      {"tcp://a:61613", "unsupported scheme 'tcp'"},
      {"localhost:61613", "unsupported scheme 'localhost'"},
      {"stomp://a", "'stomp://a' has no port"},
      {"stomp://:61613", "has no host"},
      {"stomp://a:", "port '' is not a number from 1 to 65535"},
      {"stomp://a:0", "port '0' is not a number from 1 to 65535"},
      {"stomp://a:65536", "port '65536' is not a number from 1 to 65535"},
      {"stomp://a:61x", "port '61x' is not a number from 1 to 65535"},
      {"stomp://a:1/queue", "a path is not allowed"},
      {"failover:()", "lists no broker URIs"},
      {"failover:", "lists no broker URIs"},
      {"failover:(stomp://a:1,,stomp://b:2)", "has an empty URI in its list"},
      {"failover:(stomp://a:1,stomp://b:2", "'(' has no matching ')'"},
      {"failover:(stomp://a:1)x", "unexpected 'x' after ')'"},
      {"failover:(stomp://a:1)&randomize=false", "unexpected '&randomize=false' after ')'"},
      {"failover:(failover:(stomp://a:1))", "failover URIs do not nest"},
      {"failover:(stomp://a:1,failover:stomp://b:2)", "failover URIs do not nest"},
      {"failover:(tcp://a:1)", "unsupported scheme 'tcp'"},
      {"failover:(stomp://a:1)?randomize", "option 'randomize' in the failover URI is not NAME=VALUE"},
  };
  for (const auto& r : rows) {
    INFO("uri: " << r.uri);
    const auto e = parse_fails(r.uri);
    CHECK(e.code == errc::invalid_uri);
    CHECK_THAT(e.message, Contains(r.expected));
  }
}

TEST_CASE("an unknown option is an error on the outer and on a nested URI", "[uri]") {
  auto outer = parse_fails(two + "?maxReconectAttempts=3");
  CHECK(outer.code == errc::unknown_option);
  CHECK_THAT(outer.message, Equals("failover URI option 'maxReconectAttempts' is unknown"));

  auto nested = parse_fails("failover:(stomp://a:1?soTimeout=5,stomp://b:2)");
  CHECK(nested.code == errc::unknown_option);
  CHECK_THAT(nested.message, Equals("option 'soTimeout' in 'stomp://a:1?soTimeout=5' is unknown"));

  auto plain = parse_fails("stomp://a:1?wireFormat.maxInactivityDuration=0");
  CHECK(plain.code == errc::unknown_option);
  CHECK_THAT(plain.message, Contains("'wireFormat.maxInactivityDuration'"));

  // Names are case-sensitive: a near miss is not quietly accepted.
  CHECK(parse_fails(two + "?Randomize=false").code == errc::unknown_option);
}

TEST_CASE("options are only accepted where they mean something", "[uri]") {
  SECTION("a failover option on a plain URI") {
    auto e = parse_fails("stomp://a:1?maxReconnectAttempts=3");
    CHECK(e.code == errc::invalid_option);
    CHECK_THAT(e.message, Equals("option 'maxReconnectAttempts' in 'stomp://a:1?maxReconnectAttempts=3' needs a failover:(...) URI"));
  }
  SECTION("a failover or connection option on a nested URI") {
    auto f = parse_fails("failover:(stomp://a:1?randomize=false,stomp://b:2)");
    CHECK(f.code == errc::invalid_option);
    CHECK_THAT(f.message, Contains("'randomize'") && Contains("belongs on the outer failover:(...) URI"));
    auto c = parse_fails("failover:(stomp://a:1,stomp://b:2?login=bob)");
    CHECK(c.code == errc::invalid_option);
    CHECK_THAT(c.message, Contains("'login'") && Contains("belongs on the outer failover:(...) URI"));
  }
  SECTION("a TLS option on a stomp:// URI") {
    auto plain = parse_fails("stomp://a:1?verifyPeer=false");
    CHECK(plain.code == errc::invalid_option);
    CHECK_THAT(plain.message, Equals("option 'verifyPeer' in 'stomp://a:1?verifyPeer=false' needs a stomp+ssl:// URI"));
    auto nested = parse_fails("failover:(stomp://a:1?caFile=/ca.pem,stomp+ssl://b:2)");
    CHECK(nested.code == errc::invalid_option);
    CHECK_THAT(nested.message, Contains("needs a stomp+ssl:// URI"));
    auto outer = parse_fails(two + "?caFile=/ca.pem");
    CHECK(outer.code == errc::invalid_option);
    CHECK_THAT(outer.message, Contains("none of its URIs is stomp+ssl://"));
  }
  SECTION("a bad TLS value") {
    auto e = parse_fails("stomp+ssl://a:1?verifyPeer=no");
    CHECK(e.code == errc::invalid_option);
    CHECK_THAT(e.message, Contains("option 'verifyPeer=no': expected true or false"));
  }
}

TEST_CASE("an option given twice is refused", "[uri]") {
  auto outer = parse_fails(two + "?randomize=true&randomize=false");
  CHECK(outer.code == errc::invalid_option);
  CHECK_THAT(outer.message, Equals("option 'randomize' is given twice in the failover URI"));
  auto nested = parse_fails("failover:(stomp+ssl://a:1?caFile=/x&caFile=/y)");
  CHECK(nested.code == errc::invalid_option);
  CHECK_THAT(nested.message, Contains("option 'caFile' is given twice in 'stomp+ssl://a:1?caFile=/x&caFile=/y'"));
}

TEST_CASE("priority endpoints", "[uri]") {
  SECTION("priorityBackup alone makes the first endpoint the priority one") {
    const auto o = parse_ok(two + "?priorityBackup=true");
    REQUIRE(o.priority_uris.size() == 1);
    CHECK(o.priority_uris[0].to_string() == "stomp://a:1");
  }
  SECTION("no priority endpoint without priorityBackup or priorityURIs") {
    CHECK(parse_ok(two).priority_uris.empty());
  }
  SECTION("priorityURIs names endpoints of the list, in its own order") {
    const auto o = parse_ok("failover:(stomp://a:1,stomp://b:2,stomp://c:3)?priorityURIs=stomp://c:3,stomp://b:2");
    REQUIRE(o.priority_uris.size() == 2);
    CHECK(o.priority_uris[0].to_string() == "stomp://c:3");
    CHECK(o.priority_uris[1].to_string() == "stomp://b:2");
  }
  SECTION("a priorityURIs entry that is not in the list is refused") {
    auto e = parse_fails(two + "?priorityURIs=stomp://c:3");
    CHECK(e.code == errc::invalid_option);
    CHECK_THAT(e.message, Equals("priorityURIs entry 'stomp://c:3' is not one of the failover URIs"));
    // Same host and port over TLS is a different endpoint.
    CHECK(parse_fails(two + "?priorityURIs=stomp+ssl://a:1").code == errc::invalid_option);
  }
  SECTION("a malformed priorityURIs entry is refused") {
    auto e = parse_fails(two + "?priorityURIs=stomp://a");
    CHECK(e.code == errc::invalid_option);
    CHECK_THAT(e.message, Contains("priorityURIs: ") && Contains("has no port"));
  }
}

TEST_CASE("initialReconnectDelay larger than maxReconnectDelay is refused", "[uri]") {
  auto e = parse_fails(two + "?initialReconnectDelay=500&maxReconnectDelay=100");
  CHECK(e.code == errc::invalid_option);
  CHECK_THAT(e.message, Equals("initialReconnectDelay (500 ms) is larger than maxReconnectDelay (100 ms)"));
  CHECK(parse_ok(two + "?initialReconnectDelay=100&maxReconnectDelay=100").max_reconnect_delay == milliseconds(100));
}

TEST_CASE("TLS options on the failover URI are defaults for TLS endpoints that set none", "[uri]") {
  const auto o = parse_ok(
      "failover:(stomp+ssl://a:1,stomp+ssl://b:2?caFile=/b.pem,stomp://c:3)"
      "?caFile=/ca.pem&verifyPeer=false&certFile=/client.pem&keyFile=/client.key");
  REQUIRE(o.endpoints.size() == 3);
  const auto& a = o.endpoints[0].tls_settings;
  CHECK_FALSE(a.verify_peer);
  CHECK(a.ca_file == "/ca.pem");
  CHECK(a.cert_file == "/client.pem");
  CHECK(a.key_file == "/client.key");
  // b set its own: it keeps exactly what it said, and the library's defaults for the rest.
  const auto& b = o.endpoints[1].tls_settings;
  CHECK(b.verify_peer);
  CHECK(b.ca_file == "/b.pem");
  CHECK(b.cert_file.empty());
  // c is not TLS: untouched.
  CHECK(o.endpoints[2].tls_settings == tls_options{});
}

TEST_CASE("TLS verification is on by default", "[uri]") {
  const auto o = parse_ok("stomp+ssl://a:61614");
  REQUIRE(o.endpoints.size() == 1);
  CHECK(o.endpoints[0].tls);
  CHECK(o.endpoints[0].tls_settings.verify_peer);
  CHECK(o.endpoints[0].tls_settings.ca_file.empty());
  const auto files = parse_ok("stomp+ssl://a:61614?caFile=/ca.pem&certFile=/c.pem&keyFile=/c.key&verifyPeer=false");
  CHECK(files.endpoints[0].tls_settings ==
        tls_options{.verify_peer = false, .ca_file = "/ca.pem", .cert_file = "/c.pem", .key_file = "/c.key"});
}

TEST_CASE("error codes compare with failover::errc and read as sentences", "[uri]") {
  const auto e = parse_fails(two + "?bogus=1");
  CHECK(e.code == make_error_code(errc::unknown_option));
  CHECK(std::string(e.code.category().name()) == "failover");
  CHECK_THAT(e.describe(), Equals("failover URI option 'bogus' is unknown (unknown URI option)"));
}
