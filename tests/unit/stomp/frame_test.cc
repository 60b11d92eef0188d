#include <catch2/catch.hpp>

#include "stomp/frame.h"

using namespace tandem::stomp;

TEST_CASE("frame find returns the first of repeated headers", "[stomp][frame]") {
  frame f{"MESSAGE", {{"foo", "first"}, {"bar", "x"}, {"foo", "second"}}, ""};
  REQUIRE(f.find("foo") != nullptr);
  CHECK(*f.find("foo") == "first");
  CHECK(f.get("bar") == "x");
  CHECK(f.get("missing", "fallback") == "fallback");
  CHECK(f.find("missing") == nullptr);
  CHECK(f.has("bar"));
  CHECK_FALSE(f.has("Bar"));  // header names are case-sensitive
}

TEST_CASE("frame set replaces the first occurrence or appends", "[stomp][frame]") {
  frame f{"SEND", {{"a", "1"}, {"b", "2"}, {"a", "3"}}, ""};
  f.set("a", "new");
  CHECK(f.headers == decltype(f.headers){{"a", "new"}, {"b", "2"}, {"a", "3"}});
  f.set("c", "4");
  CHECK(f.headers.back() == std::pair<std::string, std::string>{"c", "4"});
}

TEST_CASE("frame erase removes every occurrence", "[stomp][frame]") {
  frame f{"SEND", {{"a", "1"}, {"b", "2"}, {"a", "3"}}, ""};
  f.erase("a");
  CHECK(f.headers == decltype(f.headers){{"b", "2"}});
  f.add("x", "y");
  CHECK(f.get("x") == "y");
}

TEST_CASE("client and server commands are recognised", "[stomp][frame]") {
  for (auto c : {"CONNECT", "STOMP", "SEND", "SUBSCRIBE", "UNSUBSCRIBE", "ACK", "NACK", "BEGIN",
                 "COMMIT", "ABORT", "DISCONNECT"}) {
    CHECK(is_client_command(c));
    CHECK_FALSE(is_server_command(c));
  }
  for (auto c : {"CONNECTED", "MESSAGE", "RECEIPT", "ERROR"}) {
    CHECK(is_server_command(c));
    CHECK_FALSE(is_client_command(c));
  }
  CHECK_FALSE(is_client_command("send"));
  CHECK_FALSE(is_client_command(""));
  CHECK_FALSE(is_server_command("MESSAGES"));
}

TEST_CASE("versions print as on the wire", "[stomp][frame]") {
  CHECK(to_string(version::v1_0) == "1.0");
  CHECK(to_string(version::v1_1) == "1.1");
  CHECK(to_string(version::v1_2) == "1.2");
}
