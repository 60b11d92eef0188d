#include "auth/permissions.h"

#include <fmt/format.h>

#include <algorithm>

namespace tandem::auth {
namespace {

constexpr std::string_view prefixes[] = {"/queue/", "/topic/"};

std::vector<std::string_view> segments(std::string_view s) {
  std::vector<std::string_view> out;
  for (std::size_t start = 0;;) {
    auto dot = s.find('.', start);
    out.push_back(s.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) return out;
    start = dot + 1;
  }
}

std::string_view kind_of(std::string_view s) {
  for (auto p : prefixes)
    if (s.starts_with(p)) return p;
  return {};
}

}  // namespace

tandem::error check_pattern(std::string_view pattern) {
  auto bad = [&](std::string why) {
    return tandem::error(std::make_error_code(std::errc::invalid_argument),
                         fmt::format("bad destination pattern '{}': {}", pattern, why));
  };
  if (pattern == ">") return {};
  auto kind = kind_of(pattern);
  if (kind.empty()) return bad("expected '>' or a pattern starting with /queue/ or /topic/");
  auto segs = segments(pattern.substr(kind.size()));
  for (std::size_t i = 0; i < segs.size(); ++i) {
    auto s = segs[i];
    if (s.empty()) return bad("an empty segment (two dots, or a dot at an end)");
    if (s == ">" && i + 1 != segs.size()) return bad("'>' may only be the last segment");
    if (s != ">" && s != "*" && s.find_first_of("*>") != std::string_view::npos) {
      return bad("'*' and '>' must be whole segments, as in /queue/orders.* or /queue/orders.>");
    }
  }
  return {};
}

bool pattern_matches(std::string_view pattern, std::string_view destination) {
  if (pattern == ">") return true;
  auto kind = kind_of(pattern);
  if (kind.empty() || kind != kind_of(destination)) return false;
  auto want = segments(pattern.substr(kind.size()));
  auto have = segments(destination.substr(kind.size()));
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (want[i] == ">") return have.size() > i;  // one or more further segments
    if (i >= have.size()) return false;
    if (want[i] != "*" && want[i] != have[i]) return false;
  }
  return want.size() == have.size();
}

bool any_matches(const std::vector<std::string>& patterns, std::string_view destination) {
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const std::string& p) { return pattern_matches(p, destination); });
}

}  // namespace tandem::auth
