#pragma once
// Test helpers for the STOMP codec tests: feed a byte string to a parser in chosen pieces and
// collect the frames (or the error) it produces.

#include <string>
#include <string_view>
#include <vector>

#include "stomp/parser.h"

namespace tandem::stomp::testing {

struct parsed {
  std::vector<frame> frames;
  std::optional<error> failure;
};

// Feeds `input` in pieces of `piece` bytes (0 = all at once), draining frames after each feed.
inline parsed parse_in_pieces(std::string_view input, version v = version::v1_2,
                              std::size_t piece = 0, limits l = {}) {
  parser p(l, v);
  parsed out;
  if (piece == 0) piece = input.size() ? input.size() : 1;
  for (std::size_t at = 0; at < input.size() || at == 0; at += piece) {
    p.feed(input.substr(at, piece));
    for (;;) {
      auto r = p.next();
      if (!r) {
        out.failure = r.err();
        return out;
      }
      if (!*r) break;
      out.frames.push_back(std::move(**r));
    }
    if (input.empty()) break;
  }
  return out;
}

// Feeds `input` split into two pieces at `split`.
inline parsed parse_split(std::string_view input, std::size_t split, version v = version::v1_2) {
  parser p({}, v);
  parsed out;
  for (std::string_view part : {input.substr(0, split), input.substr(split)}) {
    p.feed(part);
    for (;;) {
      auto r = p.next();
      if (!r) {
        out.failure = r.err();
        return out;
      }
      if (!*r) break;
      out.frames.push_back(std::move(**r));
    }
  }
  return out;
}

inline bool same_frame(const frame& a, const frame& b) {
  return a.command == b.command && a.headers == b.headers && a.body == b.body;
}

}  // namespace tandem::stomp::testing
