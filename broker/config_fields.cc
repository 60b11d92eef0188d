#include "broker/config_fields.h"

namespace tandem::broker::config_detail {

// yaml-cpp counts lines from 0; people count from 1. 0 here means "no line known".
int line_of(const YAML::Node& n) { return n.Mark().is_null() ? 0 : n.Mark().line + 1; }

std::string describe(const YAML::Node& n) {
  if (n.IsNull()) return "nothing";
  if (n.IsMap()) return "a map";
  if (n.IsSequence()) return "a list";
  return quote(n.Scalar());
}

std::string names_of(const fields& fs) {
  std::string out;
  for (const auto& f : fs) out += (out.empty() ? "" : ", ") + std::string(f.name);
  return out;
}

// A null map (a section header with every key commented out) counts as empty.
void walk_map(reader& r, const YAML::Node& map, const std::string& prefix, int line,
              const fields& fs) {
  if (map.IsNull()) return;
  if (!map.IsMap()) {
    r.fail(line, prefix, fmt::format("expected a map with keys ({}), got {}", names_of(fs), describe(map)));
  }
  for (auto it = map.begin(); it != map.end(); ++it) {
    int key_line = line_of(it->first);
    if (!it->first.IsScalar()) r.fail(key_line, prefix, "keys must be plain names");
    std::string name = it->first.Scalar();
    std::string key = prefix.empty() ? name : prefix + "." + name;
    auto f = std::find_if(fs.begin(), fs.end(), [&](const field& x) { return x.name == name; });
    if (f == fs.end()) r.fail(key_line, key, fmt::format("unknown key (expected one of: {})", names_of(fs)));
    if (r.given(key)) r.fail(key_line, key, fmt::format("duplicate key (first given on line {})", r.line(key)));
    r.note(key, key_line);
    f->parse(entry{r, key, key_line, it->second});
  }
}

field section(reader& r, std::string_view name, fields fs) {
  return {name, [&r, fs = std::move(fs)](const entry& e) { walk_map(r, e.value, e.key, e.line, fs); }};
}

std::string range_text(std::uint64_t min, std::uint64_t max, bool zero_ok, bool sizes) {
  auto show = [&](std::uint64_t v) { return sizes ? format_size(v) : std::to_string(v); };
  std::string range = max == no_max ? fmt::format("at least {}", show(min))
                                    : fmt::format("between {} and {}", show(min), show(max));
  return zero_ok ? fmt::format("0 or {}", range) : range;
}

field bool_field(std::string_view name, bool& out) {
  return {name, [&out](const entry& e) {
            try {
              out = config_util::parse_bool(e.scalar("true or false"));
            } catch (const value_error& x) {
              e.fail(x.what());
            }
          }};
}

field endpoint_field(std::string_view name, endpoint& out) {
  return {name, [&out](const entry& e) {
            try {
              out = config_util::parse_endpoint(e.scalar("HOST:PORT such as 0.0.0.0:61613"));
            } catch (const value_error& x) {
              e.fail(x.what());
            }
          }};
}

field choice_field(std::string_view name, std::string& out, std::vector<std::string_view> choices) {
  return {name, [&out, choices = std::move(choices)](const entry& e) {
            std::string all;
            for (auto c : choices) all += (all.empty() ? "" : "|") + std::string(c);
            std::string text = e.scalar(fmt::format("one of {}", all));
            if (std::find(choices.begin(), choices.end(), text) == choices.end()) {
              e.fail(fmt::format("expected one of {}, got {}", all, quote(text)));
            }
            out = text;
          }};
}

// Names that end up in file names, log lines and destination names: [A-Za-z0-9._-]+.
bool plain_name(std::string_view s, std::size_t max_len) {
  if (s.empty() || s.size() > max_len) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

field text_field(std::string_view name, std::string& out, std::string_view what,
                 std::function<bool(std::string_view)> valid) {
  return {name, [&out, what, valid = std::move(valid)](const entry& e) {
            std::string text = e.scalar(what);
            if (!valid(text)) e.fail(fmt::format("expected {}, got {}", what, quote(text)));
            out = text;
          }};
}

void check_required(const reader& r, std::initializer_list<std::string_view> keys) {
  for (std::string_view k : keys) {
    std::string key(k);
    if (r.given(key)) continue;
    // Point at the section when it is there ("node:" without "name:"), else at the file.
    std::string section = key.substr(0, key.find('.'));
    r.fail(r.line(section), key, "required key is missing");
  }
}

// Blame whichever of the two keys the file gave (the first when both).
[[noreturn]] void fail_pair(const reader& r, const std::string& a, const std::string& b,
                            std::string_view why) {
  const std::string& key = r.given(a) ? a : b;
  r.fail(r.line(key), key, why);
}

}  // namespace tandem::broker::config_detail
