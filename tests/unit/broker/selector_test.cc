#include <catch2/catch.hpp>

#include <chrono>
#include <iostream>
#include <map>

#include "broker/selector.h"

using tandem::broker::selector;
using Catch::Matchers::Contains;

namespace {

using headers = std::map<std::string, std::string, std::less<>>;

// Parses (the selector must be valid) and evaluates against `h`.
bool matches(std::string_view text, const headers& h) {
  auto s = selector::parse(text);
  INFO("selector: " << text);
  if (!s) FAIL("parse failed: " << s.err().message);
  return s->matches([&h](std::string_view name) -> std::optional<std::string_view> {
    auto it = h.find(name);
    if (it == h.end()) return std::nullopt;
    return std::string_view(it->second);
  });
}

std::string parse_error(std::string_view text) {
  auto s = selector::parse(text);
  if (s) return "(parsed)";
  CHECK(s.code() == std::errc::invalid_argument);
  return s.err().message;
}

const headers order{{"type", "order"},   {"region", "EU"},      {"priority", "7"},
                    {"amount", "12.50"}, {"flag", "true"},      {"off", "FALSE"},
                    {"name", "it's"},    {"code", "AB_12%"},    {"city", "Zürich"},
                    {"count", "0010"},   {"text", "not-a-number"}};

}  // namespace

TEST_CASE("selector comparison operators on strings", "[broker][selector]") {
  CHECK(matches("type = 'order'", order));
  CHECK_FALSE(matches("type = 'Order'", order));  // values are case-sensitive
  CHECK(matches("type <> 'invoice'", order));
  CHECK_FALSE(matches("type <> 'order'", order));
  CHECK(matches("region < 'FR'", order));
  CHECK(matches("region > 'DE'", order));
  CHECK(matches("region <= 'EU'", order));
  CHECK(matches("region >= 'EU'", order));
  CHECK(matches("'order' = type", order));  // literal on the left
  CHECK(matches("name = 'it''s'", order));  // '' is one quote
}

TEST_CASE("selector comparison operators on numbers", "[broker][selector]") {
  CHECK(matches("priority = 7", order));
  CHECK(matches("priority > 4", order));
  CHECK(matches("priority >= 7", order));
  CHECK(matches("priority < 7.5", order));
  CHECK(matches("priority <= 7", order));
  CHECK(matches("priority <> 8", order));
  CHECK(matches("amount = 12.5", order));    // numerically equal, textually different
  CHECK(matches("count = 10", order));       // "0010" is the number 10
  CHECK(matches("amount > -3", order));      // negative literal
  CHECK(matches("amount < 1.3e1", order));   // exponent
  CHECK(matches("amount > .5", order));
  CHECK(matches("7 = priority", order));
}

TEST_CASE("selector numeric literal versus non-numeric header is unknown", "[broker][selector]") {
  CHECK_FALSE(matches("text = 5", order));
  CHECK_FALSE(matches("text <> 5", order));
  CHECK_FALSE(matches("NOT (text = 5)", order));  // NOT unknown is unknown
  CHECK(matches("text = 5 OR type = 'order'", order));
}

TEST_CASE("selector string literal compares as a string", "[broker][selector]") {
  CHECK_FALSE(matches("amount = '12.5'", order));
  CHECK(matches("amount = '12.50'", order));
  CHECK(matches("priority = '7'", order));
}

TEST_CASE("selector two headers compare numerically when both are numbers", "[broker][selector]") {
  const headers h{{"a", "10"}, {"b", "9"}, {"s", "10"}, {"t", "9"}, {"x", "abc"}, {"y", "abd"}};
  CHECK(matches("a > b", h));  // 10 > 9, though "10" < "9" as strings
  CHECK(matches("a = s", h));
  CHECK(matches("x < y", h));
}

TEST_CASE("selector booleans", "[broker][selector]") {
  CHECK(matches("flag", order));
  CHECK(matches("flag = TRUE", order));
  CHECK(matches("flag = true", order));
  CHECK(matches("off = FALSE", order));
  CHECK(matches("NOT off", order));
  CHECK(matches("TRUE", order));
  CHECK_FALSE(matches("FALSE", order));
  CHECK_FALSE(matches("type", order));      // not a boolean value: unknown
  CHECK_FALSE(matches("NOT type", order));  // still unknown
  CHECK_FALSE(matches("missing", order));
}

TEST_CASE("selector AND OR NOT truth tables", "[broker][selector]") {
  CHECK(matches("type = 'order' AND region = 'EU'", order));
  CHECK_FALSE(matches("type = 'order' AND region = 'US'", order));
  CHECK(matches("type = 'x' OR region = 'EU'", order));
  CHECK_FALSE(matches("type = 'x' OR region = 'US'", order));
  CHECK(matches("NOT type = 'x'", order));
  CHECK_FALSE(matches("NOT type = 'order'", order));
  CHECK(matches("NOT NOT type = 'order'", order));
  // Keywords are case-insensitive.
  CHECK(matches("type = 'order' and not region = 'US' or false", order));
}

TEST_CASE("selector precedence is NOT over AND over OR", "[broker][selector]") {
  // OR binds loosest: true OR (false AND false).
  CHECK(matches("type = 'order' OR type = 'x' AND region = 'US'", order));
  // Parentheses change it: (true OR false) AND false.
  CHECK_FALSE(matches("(type = 'order' OR type = 'x') AND region = 'US'", order));
  // NOT applies to the comparison only: (NOT false) AND true.
  CHECK(matches("NOT type = 'x' AND region = 'EU'", order));
  CHECK_FALSE(matches("NOT (type = 'order' AND region = 'EU')", order));
  CHECK(matches("((((priority = 7))))", order));
}

TEST_CASE("selector missing headers follow three-valued logic", "[broker][selector]") {
  const headers none;
  CHECK_FALSE(matches("missing = 'x'", none));
  CHECK_FALSE(matches("missing <> 'x'", none));
  CHECK_FALSE(matches("NOT missing = 'x'", none));      // NOT unknown = unknown
  CHECK_FALSE(matches("missing = 'x' AND TRUE", none));  // unknown AND true = unknown
  CHECK_FALSE(matches("missing = 'x' AND FALSE", none));
  CHECK(matches("missing = 'x' OR TRUE", none));          // unknown OR true = true
  CHECK_FALSE(matches("missing = 'x' OR FALSE", none));   // unknown OR false = unknown
  CHECK(matches("NOT (missing = 'x' AND FALSE)", none));  // unknown AND false = false
  CHECK_FALSE(matches("missing > 5", none));
  CHECK_FALSE(matches("missing IN ('a')", none));
  CHECK_FALSE(matches("missing NOT IN ('a')", none));
  CHECK_FALSE(matches("missing LIKE '%'", none));
  CHECK_FALSE(matches("missing NOT LIKE 'a'", none));
  CHECK_FALSE(matches("missing BETWEEN 1 AND 2", none));
  CHECK_FALSE(matches("missing NOT BETWEEN 1 AND 2", none));
}

TEST_CASE("selector IS NULL and IS NOT NULL", "[broker][selector]") {
  CHECK(matches("missing IS NULL", order));
  CHECK_FALSE(matches("missing IS NOT NULL", order));
  CHECK(matches("type IS NOT NULL", order));
  CHECK_FALSE(matches("type IS NULL", order));
  CHECK(matches("type is not null", order));
}

TEST_CASE("selector IN and NOT IN", "[broker][selector]") {
  CHECK(matches("region IN ('US', 'EU', 'APAC')", order));
  CHECK_FALSE(matches("region IN ('US', 'APAC')", order));
  CHECK(matches("region NOT IN ('US', 'APAC')", order));
  CHECK_FALSE(matches("region NOT IN ('EU')", order));
  CHECK(matches("priority IN (1, 7, 9)", order));
  CHECK(matches("name IN ('it''s')", order));
}

TEST_CASE("selector LIKE with wildcards and escapes", "[broker][selector]") {
  CHECK(matches("type LIKE 'ord%'", order));
  CHECK(matches("type LIKE '%der'", order));
  CHECK(matches("type LIKE '%rd%'", order));
  CHECK(matches("type LIKE 'o_d_r'", order));
  CHECK(matches("type LIKE '%'", order));
  CHECK_FALSE(matches("type LIKE 'ord'", order));
  CHECK_FALSE(matches("type LIKE 'o_der_'", order));
  CHECK(matches("type NOT LIKE 'inv%'", order));
  CHECK_FALSE(matches("type NOT LIKE 'ord%'", order));
  // code is "AB_12%": escape the wildcards to match them literally.
  CHECK(matches("code LIKE 'AB\\_12\\%' ESCAPE '\\'", order));
  CHECK(matches("code LIKE '%!%' ESCAPE '!'", order));
  CHECK_FALSE(matches("code LIKE 'AB!_1' ESCAPE '!'", order));
  CHECK(matches("code LIKE 'AB!_1%' ESCAPE '!'", order));
  const headers other{{"code", "ABX12%"}};
  CHECK_FALSE(matches("code LIKE 'AB!_12%' ESCAPE '!'", other));  // '_' escaped: no wildcard
  CHECK(matches("code LIKE 'AB_12%'", other));
  // '_' is one character, even when it takes several bytes in UTF-8.
  CHECK(matches("city LIKE 'Z_rich'", order));
  CHECK(matches("city LIKE '%_rich'", order));
  // Backtracking over several '%'.
  const headers path{{"p", "a/b/c/d/e"}};
  CHECK(matches("p LIKE 'a%c%e'", path));
  CHECK_FALSE(matches("p LIKE 'a%c%f'", path));
}

TEST_CASE("selector BETWEEN and NOT BETWEEN", "[broker][selector]") {
  CHECK(matches("priority BETWEEN 5 AND 9", order));
  CHECK(matches("priority BETWEEN 7 AND 7", order));
  CHECK_FALSE(matches("priority BETWEEN 8 AND 9", order));
  CHECK(matches("priority NOT BETWEEN 8 AND 9", order));
  CHECK(matches("region BETWEEN 'A' AND 'F'", order));
  // BETWEEN's AND is not the logical AND.
  CHECK(matches("priority BETWEEN 1 AND 9 AND type = 'order'", order));
}

TEST_CASE("selector JMS header names map to Tandem's STOMP headers", "[broker][selector]") {
  const headers msg{{"priority", "9"},     {"message-id", "ID:42"},   {"timestamp", "1700000000000"},
                    {"correlation-id", "c1"}, {"type", "invoice"},    {"expires", "0"},
                    {"persistent", "true"}};
  CHECK(matches("JMSPriority > 4", msg));
  CHECK(matches("JMSMessageID = 'ID:42'", msg));
  CHECK(matches("JMSTimestamp >= 1700000000000", msg));
  CHECK(matches("JMSCorrelationID = 'c1'", msg));
  CHECK(matches("JMSType = 'invoice'", msg));
  CHECK(matches("JMSExpiration = 0", msg));
  CHECK(matches("JMSDeliveryMode = 'PERSISTENT'", msg));
  const headers transient{{"persistent", "false"}};
  CHECK(matches("JMSDeliveryMode = 'NON_PERSISTENT'", transient));
  CHECK(matches("JMSDeliveryMode = 'NON_PERSISTENT'", headers{}));  // absent = non-persistent
}

TEST_CASE("selector identifiers may contain dots, digits, _ and $", "[broker][selector]") {
  const headers h{{"activemq.x", "1"}, {"_a$b9", "2"}};
  CHECK(matches("activemq.x = 1 AND _a$b9 = 2", h));
}

TEST_CASE("a blank selector matches everything", "[broker][selector]") {
  CHECK(matches("", headers{}));
  CHECK(matches("   ", headers{}));
}

TEST_CASE("a selector keeps its text and copies share the compiled tree", "[broker][selector]") {
  auto s = selector::parse("type = 'order'");
  REQUIRE(s);
  selector copy = *s;
  CHECK(copy.text() == "type = 'order'");
  CHECK(copy.matches([](std::string_view) { return std::optional<std::string_view>("order"); }));
}

TEST_CASE("invalid selectors are rejected with the position and what was expected",
          "[broker][selector]") {
  struct bad {
    const char* text;
    const char* message;
  };
  const bad table[] = {
      {"priority =", "selector: expected a value after '=' at position 11, got the end"},
      {"priority = AND", "expected a value after '=' at position 12, got 'AND'"},
      {"type = 'a' AND", "expected a condition after 'AND' at position 15, got the end"},
      {"OR type = 'a'", "expected a condition at position 1, got 'OR'"},
      {"(type = 'a'", "expected ')' after 'a' at position 12, got the end"},
      {"type = 'a')", "unexpected ')' at position 11 (expected AND, OR or the end)"},
      {"type = 'a' region = 'b'", "unexpected 'region' at position 12"},
      {"type = 'abc", "unterminated string literal starting at position 8"},
      {"type == 'a'", "expected a value after '=' at position 7, got '='"},
      {"type != 'a'", "unexpected '!=' at position 6: use '<>'"},
      {"type = \"a\"", "string literals use single quotes"},
      {"content-type = 'x'", "unexpected '-' at position 8: header names containing '-'"},
      {"a + 1 = 2", "arithmetic is not supported"},
      {"a # 1", "unexpected character '#' at position 3"},
      {"5", "expected a comparison operator after '5' at position 2, got the end"},
      {"'x'", "expected a comparison operator"},
      {"a NOT = 1", "expected BETWEEN, IN or LIKE after 'NOT' at position 7"},
      {"a IN ()", "expected a string or number after '(' at position 7, got ')'"},
      {"a IN ('x' 'y')", "expected ',' or ')' after 'x' at position 11, got 'y'"},
      {"a IN 'x'", "expected '(' after 'IN'"},
      {"'x' IN ('x')", "IN needs a header name on its left, at position 5"},
      {"a LIKE 5", "expected a quoted pattern after 'LIKE' at position 8, got '5'"},
      {"a LIKE 'x' ESCAPE 'ab'", "ESCAPE must be a single character, got 'ab' at position 19"},
      {"a LIKE 'x!' ESCAPE '!'", "LIKE pattern 'x!' at position 8 ends with its escape character"},
      {"a IS 5", "expected NULL or NOT NULL after 'IS' at position 6"},
      {"a IS NOT 5", "expected NULL after 'NOT'"},
      {"a BETWEEN 1 2", "expected AND after '1' at position 13, got '2'"},
      {"NOT", "expected a condition after 'NOT' at position 4, got the end"},
      {"a = 1.2.3", "malformed number '1.2.3' at position 5"},
      {"a = 12abc", "malformed number '12abc' at position 5"},
      {"a = NULL", "expected a value after '=' at position 5, got 'NULL'"},
  };
  for (const auto& b : table) {
    INFO("selector: " << b.text);
    CHECK_THAT(parse_error(b.text), Contains(b.message));
  }
}

TEST_CASE("deeply nested selectors are rejected, not a stack overflow", "[broker][selector]") {
  const std::string deep = std::string(5000, '(') + "a = 1" + std::string(5000, ')');
  CHECK_THAT(parse_error(deep), Contains("nesting deeper than 100"));
  std::string nots;
  for (int i = 0; i < 5000; ++i) nots += "NOT ";
  CHECK_THAT(parse_error(nots + "a = 1"), Contains("nesting deeper than 100"));
  // Long flat chains are fine.
  std::string chain = "a = 0";
  for (int i = 1; i < 2000; ++i) chain += " OR a = " + std::to_string(i);
  CHECK(matches(chain, headers{{"a", "1999"}}));
}

TEST_CASE("selector evaluation throughput", "[.bench][broker][selector]") {
  auto s = selector::parse(
      "type = 'order' AND (region IN ('US', 'EU') OR priority > 8) AND code LIKE 'AB%'");
  REQUIRE(s);
  const headers h{{"type", "order"}, {"region", "EU"}, {"priority", "7"}, {"code", "AB_12"}};
  const selector::lookup lookup = [&h](std::string_view name) -> std::optional<std::string_view> {
    auto it = h.find(name);
    if (it == h.end()) return std::nullopt;
    return std::string_view(it->second);
  };
  constexpr int n = 1'000'000;
  int hits = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) hits += s->matches(lookup);
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  CHECK(hits == n);
  std::cout << "evaluated " << n << " selectors in " << elapsed.count() << " s: "
            << static_cast<long>(n / elapsed.count()) << " matches/s\n";
}
