#include "broker/config_parse_util.h"

#include <fmt/format.h>

#include <array>
#include <limits>
#include <utility>

namespace tandem::broker::config_util {
namespace {

constexpr std::string_view size_example = "a size such as 64MiB or 1048576";

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Digits only (checked by the caller); nullopt-like false on overflow of uint64.
bool to_u64(std::string_view digits, std::uint64_t& out) {
  std::uint64_t v = 0;
  for (char c : digits) {
    auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

struct unit {
  std::string_view name;
  std::uint64_t factor;
};
// Both spellings of each unit mean the binary multiple (see the header).
constexpr std::array<unit, 8> units{{{"K", 1ull << 10},
                                     {"KiB", 1ull << 10},
                                     {"M", 1ull << 20},
                                     {"MiB", 1ull << 20},
                                     {"G", 1ull << 30},
                                     {"GiB", 1ull << 30},
                                     {"T", 1ull << 40},
                                     {"TiB", 1ull << 40}}};

bool valid_host_char(char c, bool bracketed) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  if (c == '.' || c == '-' || c == '_') return true;
  return bracketed && (c == ':' || c == '%');  // IPv6 groups and a zone id ("fe80::1%eth0")
}

}  // namespace

std::string quote(std::string_view text) {
  constexpr std::size_t max_shown = 60;
  if (text.size() <= max_shown) return fmt::format("'{}'", text);
  return fmt::format("'{}...'", text.substr(0, max_shown));
}

std::uint64_t parse_whole_number(std::string_view text, std::string_view what) {
  std::uint64_t v = 0;
  if (!all_digits(text)) throw value_error(fmt::format("expected {}, got {}", what, quote(text)));
  if (!to_u64(text, v)) throw value_error(fmt::format("{} is too large", quote(text)));
  return v;
}

std::uint64_t parse_size(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  std::string_view number = text.substr(0, digits);
  std::string_view suffix = text.substr(digits);
  if (number.empty()) throw value_error(fmt::format("expected {}, got {}", size_example, quote(text)));

  std::uint64_t factor = 0;
  for (const auto& u : units) {
    if (suffix == u.name) factor = u.factor;
  }
  if (suffix.empty()) factor = 1;
  if (factor == 0) {
    std::string hint;
    if (!suffix.empty() && suffix.front() == ' ') {
      hint = " (write the unit without a space, as in 64MiB)";
    } else if (suffix == "KB" || suffix == "MB" || suffix == "GB" || suffix == "TB") {
      hint = fmt::format(" ({} is ambiguous; write {}iB for the binary unit)", suffix, suffix.front());
    } else {
      hint = " (units: K, KiB, M, MiB, G, GiB, T, TiB; all binary)";
    }
    throw value_error(fmt::format("expected {}, got {}{}", size_example, quote(text), hint));
  }
  std::uint64_t n = 0;
  if (!to_u64(number, n) || n > std::numeric_limits<std::uint64_t>::max() / factor) {
    throw value_error(fmt::format("{} is too large", quote(text)));
  }
  return n * factor;
}

bool parse_bool(std::string_view text) {
  if (text == "true") return true;
  if (text == "false") return false;
  throw value_error(fmt::format("expected true or false, got {}", quote(text)));
}

endpoint parse_endpoint(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return value_error(fmt::format("expected HOST:PORT, got {}{}", quote(text), why));
  };
  std::string_view host;
  std::string_view port;
  bool bracketed = !text.empty() && text.front() == '[';
  if (bracketed) {
    auto close = text.find(']');
    if (close == std::string_view::npos) throw bad(" (an IPv6 host is written [::1]:61613)");
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':') throw bad(" (the port is missing)");
    port = rest.substr(1);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) throw bad("");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      throw bad(" (an IPv6 host needs brackets, as in [::1]:61613)");
    }
  }
  if (host.empty()) throw bad(" (the host is missing; 0.0.0.0 listens on every interface)");
  for (char c : host) {
    if (!valid_host_char(c, bracketed)) throw bad(" (the host has an invalid character)");
  }
  std::uint64_t p = 0;
  if (!all_digits(port) || !to_u64(port, p) || p < 1 || p > 65535) {
    throw bad(" (the port must be a number from 1 to 65535)");
  }
  return endpoint{std::string(host), static_cast<std::uint16_t>(p)};
}

std::string format_size(std::uint64_t bytes) {
  static constexpr std::pair<std::uint64_t, std::string_view> named[] = {
      {1ull << 40, "TiB"}, {1ull << 30, "GiB"}, {1ull << 20, "MiB"}, {1ull << 10, "KiB"}};
  for (auto [factor, name] : named) {
    if (bytes != 0 && bytes % factor == 0) return fmt::format("{}{}", bytes / factor, name);
  }
  return fmt::format("{}", bytes);
}

}  // namespace tandem::broker::config_util
