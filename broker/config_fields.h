#pragma once
// The building blocks of the configuration reader (broker/config.cc and the sections in
// config_*.cc): a reader that remembers where each key was given and turns problems into
// "FILE:LINE: KEY: reason", and typed fields that parse one value each. Internal to the
// broker's configuration; not a public API.

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "broker/config.h"
#include "broker/config_parse_util.h"

namespace tandem::broker::config_detail {

using config_util::format_size;
using config_util::quote;
using config_util::value_error;

constexpr std::uint64_t KiB = 1ull << 10;
constexpr std::uint64_t MiB = 1ull << 20;
constexpr std::uint64_t GiB = 1ull << 30;
constexpr std::uint64_t no_max = std::numeric_limits<std::uint64_t>::max();
constexpr std::string_view size_example = "a size such as 64MiB or 1048576";

// yaml-cpp counts lines from 0; people count from 1. 0 here means "no line known".
int line_of(const YAML::Node& n);
// "nothing", "a map", "a list" or the quoted scalar: what a message says was found.
std::string describe(const YAML::Node& n);

// Builds the "FILE:LINE: KEY: reason" messages and remembers where each key was given,
// for the checks that run after the walk (required keys, rules across two keys).
class reader {
 public:
  explicit reader(std::string file) : file_(std::move(file)) {}

  [[noreturn]] void fail(int line, std::string_view key, std::string_view why) const {
    std::string where = line > 0 ? fmt::format("{}:{}", file_, line) : file_;
    if (key.empty()) throw config_error(fmt::format("{}: {}", where, why));
    throw config_error(fmt::format("{}: {}: {}", where, key, why));
  }
  void note(const std::string& key, int line) { lines_[key] = line; }
  bool given(const std::string& key) const { return lines_.count(key) != 0; }
  int line(const std::string& key) const {
    auto it = lines_.find(key);
    return it == lines_.end() ? 0 : it->second;
  }

 private:
  std::string file_;
  std::map<std::string, int> lines_;
};

// One "key: value" of the file being read.
struct entry {
  const reader& r;
  std::string key;  // dotted: "storage.segment_bytes"
  int line;         // of the key; a null value has no useful mark of its own
  YAML::Node value;

  [[noreturn]] void fail(std::string_view why) const { r.fail(line, key, why); }
  std::string scalar(std::string_view expected) const {
    if (!value.IsScalar()) fail(fmt::format("expected {}, got {}", expected, describe(value)));
    return value.Scalar();
  }
};

struct field {
  std::string_view name;
  std::function<void(const entry&)> parse;
};
using fields = std::vector<field>;

std::string names_of(const fields& fs);
// Walks `map` entry by entry (so unknown and duplicate keys are caught with their line); a
// null map (a section header with every key commented out) counts as empty.
void walk_map(reader& r, const YAML::Node& map, const std::string& prefix, int line, const fields& fs);
field section(reader& r, std::string_view name, fields fs);
std::string range_text(std::uint64_t min, std::uint64_t max, bool zero_ok, bool sizes);

// Sizes (keys ending in _bytes) and plain counts share the range check; zero_ok admits 0
// as the documented "off" / "unlimited" value below `min`.
template <typename T>
field number_field(std::string_view name, T& out, std::uint64_t min, std::uint64_t max,
                   bool zero_ok = false) {
  bool sizes = name.ends_with("_bytes");
  bool millis = name.ends_with("_ms");
  max = std::min<std::uint64_t>(max, std::numeric_limits<T>::max());
  return {name, [&out, min, max, zero_ok, sizes, millis](const entry& e) {
            std::string_view what = sizes ? size_example
                                    : millis ? "a whole number of milliseconds such as 10000"
                                             : "a whole number";
            std::string text = e.scalar(what);
            std::uint64_t v = 0;
            try {
              v = sizes ? config_util::parse_size(text) : config_util::parse_whole_number(text, what);
            } catch (const value_error& x) {
              e.fail(x.what());
            }
            if (!(zero_ok && v == 0) && (v < min || v > max)) {
              e.fail(fmt::format("must be {}, got {}", range_text(min, max, zero_ok, sizes), quote(text)));
            }
            out = static_cast<T>(v);
          }};
}

field bool_field(std::string_view name, bool& out);
field endpoint_field(std::string_view name, endpoint& out);
field choice_field(std::string_view name, std::string& out, std::vector<std::string_view> choices);
// Names that end up in file names, log lines and destination names: [A-Za-z0-9._-]+.
bool plain_name(std::string_view s, std::size_t max_len);
field text_field(std::string_view name, std::string& out, std::string_view what,
                 std::function<bool(std::string_view)> valid);
// Fails on the first of `keys` the file did not give, pointing at its section when present.
void check_required(const reader& r, std::initializer_list<std::string_view> keys);
// Blame whichever of the two keys the file gave (the first when both).
[[noreturn]] void fail_pair(const reader& r, const std::string& a, const std::string& b, std::string_view why);

}  // namespace tandem::broker::config_detail
