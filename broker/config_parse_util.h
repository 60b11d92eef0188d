#pragma once
// Scalar parsers for the broker configuration (broker/config.cc): whole numbers, sizes,
// booleans and HOST:PORT endpoints. They know nothing of YAML, files or key names; each
// throws value_error with the reason only ("expected a size such as 64MiB ..."), and the
// caller prefixes "FILE:LINE: KEY: ". Pure functions, safe to call from any thread.
//
// The accepted spellings are strict on purpose, so a value means one thing only:
//   whole number  digits only: "1000". No sign, no decimal point, no "1e3", no "1_000".
//   size          a whole number of bytes, optionally followed (no space) by a binary unit:
//                 K or KiB = 1024, M or MiB = 1024^2, G or GiB = 1024^3, T or TiB = 1024^4.
//                 "KB", "MB", "GB" are refused as ambiguous (1000 or 1024?); "10 MiB" with a
//                 space and lower-case units ("64mib") are refused too.
//   boolean       exactly "true" or "false" (not yes/no/on/off, which YAML 1.1 tools differ on).
//   endpoint      "HOST:PORT" with PORT in 1..65535; an IPv6 host in brackets: "[::1]:61613".

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "broker/config.h"

namespace tandem::broker::config_util {

struct value_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// `what` names the expected value in the message, e.g. "a whole number of milliseconds".
std::uint64_t parse_whole_number(std::string_view text, std::string_view what);
std::uint64_t parse_size(std::string_view text);
bool parse_bool(std::string_view text);
endpoint parse_endpoint(std::string_view text);

// "64MiB" for exact multiples of a binary unit, else the plain number: for messages and docs.
std::string format_size(std::uint64_t bytes);
// The value as it appears in an error message: 'text', shortened when long.
std::string quote(std::string_view text);

}  // namespace tandem::broker::config_util
