#pragma once
// Message selectors: a documented subset of the JMS message selector syntax, evaluated against a
// message's STOMP headers. A SUBSCRIBE frame's `selector` header is parsed once; matches() then
// runs for every message offered to that subscription.
//
// Supported subset
// ----------------
//   condition  := or
//   or         := and { OR and }
//   and        := not { AND not }
//   not        := NOT not | predicate                     (precedence: NOT > AND > OR)
//   predicate  := '(' condition ')'
//               | value ( '=' | '<>' | '<' | '>' | '<=' | '>=' ) value
//               | value [NOT] BETWEEN value AND value
//               | identifier [NOT] IN '(' literal { ',' literal } ')'
//               | identifier [NOT] LIKE 'pattern' [ESCAPE 'c']
//               | identifier IS [NOT] NULL
//               | identifier | TRUE | FALSE                (a header holding "true"/"false")
//   value      := identifier | literal
//   literal    := 'string' | number | TRUE | FALSE
// - Keywords are case-insensitive; identifiers (header names) are case-sensitive.
// - Strings are in single quotes; '' inside is one quote ('it''s').
// - Numbers: integers and decimals with an optional sign and exponent: 5, -3, 2.5, .5, 1e3.
// - LIKE: '%' matches any sequence, '_' exactly one character (UTF-8 code point); ESCAPE names
//   a single character that makes the next '%', '_' (or itself) literal.
// - Identifiers: a letter, '_' or '$', then letters, digits, '_', '$' or '.'. A '-' is not
//   allowed (JMS has no quoting), so headers such as `content-type` cannot be selected on.
// - JMS header names map to Tandem's STOMP headers: JMSPriority→priority,
//   JMSMessageID→message-id, JMSTimestamp→timestamp, JMSCorrelationID→correlation-id,
//   JMSType→type, JMSExpiration→expires, JMSDeliveryMode→persistent (read as 'PERSISTENT' when
//   the header is "true", else 'NON_PERSISTENT', also when absent).
// - Not supported: arithmetic (+ - * /), JMSX* properties, the `L` suffix on numbers.
//
// Semantics
// ---------
// - Header values are strings. Against a numeric literal, a header compares numerically when its
//   value parses as a number (as a double: integers are exact up to 2^53), else the comparison is
//   unknown. Against a string literal it compares as a string (<, > etc. are byte-wise, an
//   extension: JMS only allows = and <> on strings). Two headers compare numerically when both
//   parse as numbers, else as strings. Against TRUE/FALSE a header must be "true"/"false" (any
//   case), else unknown.
// - Three-valued logic: a comparison, IN, LIKE or BETWEEN on a missing header is unknown;
//   NOT unknown is unknown; AND/OR follow the SQL truth tables. A message matches only when the
//   whole selector is TRUE.
// - A blank selector (only whitespace) matches every message, like ActiveMQ.
//
// Contracts: parse() reports the first syntax error as a tandem::error with code
// std::errc::invalid_argument and a message naming the position (characters counted from 1) and
// what was expected: "selector: expected a value after '=' at position 9". A parsed selector is
// immutable; copies share the compiled tree, and matches() may be called concurrently from many
// threads. matches() allocates nothing itself; it calls `headers` once per identifier it
// evaluates and holds at most two returned views at a time.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace tandem::broker {

class selector {
 public:
  // Parses; on failure an error whose message names the position and what was expected.
  static result<selector> parse(std::string_view text);

  // Looks up a header value by name; nullopt when the message has no such header.
  using lookup = std::function<std::optional<std::string_view>(std::string_view name)>;
  // True when the selector evaluates to TRUE for a message with these headers.
  bool matches(const lookup& headers) const;

  // The selector as given to parse().
  const std::string& text() const { return text_; }

  struct program;  // the compiled tree (selector.cc)

 private:
  selector(std::string text, std::shared_ptr<const program> p)
      : text_(std::move(text)), program_(std::move(p)) {}

  std::string text_;
  std::shared_ptr<const program> program_;  // null for a blank selector
};

}  // namespace tandem::broker
