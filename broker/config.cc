#include "broker/config.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <sstream>
#include <vector>

#include "broker/config_parse_util.h"
#include "storage/lease_options.h"

// The schema lives in parse_document() below, one line per key with its range; README.md's
// configuration reference must say the same. Each map is walked entry by entry (rather than
// looked up key by key) so that unknown and duplicate keys are caught with their line.

namespace tandem::broker {

std::string endpoint::to_string() const {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

namespace {

using config_util::format_size;
using config_util::quote;
using config_util::value_error;

constexpr std::uint64_t KiB = 1ull << 10;
constexpr std::uint64_t MiB = 1ull << 20;
constexpr std::uint64_t GiB = 1ull << 30;
constexpr std::uint64_t no_max = std::numeric_limits<std::uint64_t>::max();
constexpr std::string_view size_example = "a size such as 64MiB or 1048576";

// yaml-cpp counts lines from 0; people count from 1. 0 here means "no line known".
int line_of(const YAML::Node& n) { return n.Mark().is_null() ? 0 : n.Mark().line + 1; }

std::string describe(const YAML::Node& n) {
  if (n.IsNull()) return "nothing";
  if (n.IsMap()) return "a map";
  if (n.IsSequence()) return "a list";
  return quote(n.Scalar());
}

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

// A TLS key is only meaningful with the TLS listener, and the listener needs a certificate
// and its key. The files must be readable now, so `--check-config` catches a wrong path; the
// node checks their content when it starts (PEM, key matching the certificate).
void check_tls(const reader& r, const config& c) {
  const bool listener = c.listeners.stomp_ssl.port != 0;
  for (const char* key : {"tls.cert_file", "tls.key_file", "tls.ca_file", "tls.handshake_timeout_ms"}) {
    if (!listener && r.given(key)) {
      r.fail(r.line(key), key, "is set but listeners.stomp_ssl is not: no listener would use it");
    }
  }
  if (!listener) return;
  for (const char* key : {"tls.cert_file", "tls.key_file"}) {
    if (!r.given(key)) {
      r.fail(r.line("listeners.stomp_ssl"), key, "required key is missing (listeners.stomp_ssl serves TLS)");
    }
  }
  auto readable = [&](const char* key, const std::string& path) {
    if (path.empty()) return;
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
      r.fail(r.line(key), key, fmt::format("cannot read {}: it is a directory", quote(path)));
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) r.fail(r.line(key), key, fmt::format("cannot read {}: {}", quote(path), std::strerror(errno)));
  };
  readable("tls.cert_file", c.tls.cert_file);
  readable("tls.key_file", c.tls.key_file);
  readable("tls.ca_file", c.tls.ca_file);
}

void check_across_keys(const reader& r, const config& c) {
  // The lease's own timing rules (renewal well inside the TTL, a real safety margin).
  storage::lease_options lease;
  lease.holder_name = c.node.name;
  lease.ttl = std::chrono::milliseconds(c.ha.lease_ttl_ms);
  lease.renew_interval = std::chrono::milliseconds(c.ha.renew_interval_ms);
  lease.safety_margin = std::chrono::milliseconds(c.ha.safety_margin_ms);
  lease.poll_interval = std::chrono::milliseconds(c.ha.poll_interval_ms);
  if (auto err = storage::validate(lease)) {
    fail_pair(r, "ha.renew_interval_ms", "ha.lease_ttl_ms", err.message + ": the lease would not be safe");
  }
  const auto& l = c.listeners;
  auto clash = [&](const endpoint& a, const endpoint& b, const char* ka, const char* kb) {
    if (a.port && a.port == b.port && (a.host == b.host || a.host == "0.0.0.0" || b.host == "0.0.0.0"))
      fail_pair(r, kb, ka, fmt::format("{} and {} both use port {}", ka, kb, a.port));
  };
  clash(l.stomp, l.http, "listeners.stomp", "listeners.http");
  clash(l.stomp, l.ha, "listeners.stomp", "listeners.ha");
  clash(l.http, l.ha, "listeners.http", "listeners.ha");
  clash(l.stomp, l.stomp_ssl, "listeners.stomp", "listeners.stomp_ssl");
  clash(l.stomp_ssl, l.http, "listeners.stomp_ssl", "listeners.http");
  clash(l.stomp_ssl, l.ha, "listeners.stomp_ssl", "listeners.ha");
  check_tls(r, c);
  if (c.storage.max_bytes != 0 && c.storage.max_bytes < c.storage.segment_bytes) {
    fail_pair(r, "storage.max_bytes", "storage.segment_bytes",
              fmt::format("storage.max_bytes ({}) must be 0 (unlimited) or at least "
                          "storage.segment_bytes ({})",
                          format_size(c.storage.max_bytes), format_size(c.storage.segment_bytes)));
  }
  if (c.limits.max_frame_bytes > c.limits.max_memory_bytes) {
    fail_pair(r, "limits.max_frame_bytes", "limits.max_memory_bytes",
              fmt::format("limits.max_frame_bytes ({}) must not exceed limits.max_memory_bytes ({}): "
                          "such a frame could never be accepted",
                          format_size(c.limits.max_frame_bytes), format_size(c.limits.max_memory_bytes)));
  }
  if (c.limits.max_header_bytes > c.limits.max_frame_bytes) {
    fail_pair(r, "limits.max_header_bytes", "limits.max_frame_bytes",
              fmt::format("limits.max_header_bytes ({}) must not exceed limits.max_frame_bytes ({})",
                          format_size(c.limits.max_header_bytes), format_size(c.limits.max_frame_bytes)));
  }
}

config parse_document(const YAML::Node& root, const std::string& name) {
  auto not_empty = [](std::string_view s) { return !s.empty(); };
  config c;
  c.source_file = name;
  reader r(name);
  std::string dead_letter = "individual";

  fields top{
      section(r, "node",
              {text_field("name", c.node.name, "a name of 1-64 characters from A-Z a-z 0-9 . _ -",
                          [](std::string_view s) { return plain_name(s, 64); })}),
      section(r, "storage",
              {text_field("path", c.storage.path, "a directory path",
                          [](std::string_view s) { return !s.empty(); }),
               text_field("url", c.storage.url, "an NFS URL such as nfs://10.0.0.5/export/tandem?version=4",
                          [](std::string_view s) { return s.substr(0, 6) == "nfs://" && s.size() > 6; }),
               number_field("segment_bytes", c.storage.segment_bytes, 1 * MiB, 4 * GiB),
               number_field("max_bytes", c.storage.max_bytes, 1 * MiB, no_max, /*zero_ok=*/true),
               number_field("checkpoint_every_bytes", c.storage.checkpoint_every_bytes, 1 * MiB, no_max)}),
      section(r, "listeners",
              {endpoint_field("stomp", c.listeners.stomp), endpoint_field("http", c.listeners.http),
               endpoint_field("ha", c.listeners.ha), endpoint_field("stomp_ssl", c.listeners.stomp_ssl)}),
      section(r, "tls",
              {text_field("cert_file", c.tls.cert_file, "a PEM file path", not_empty),
               text_field("key_file", c.tls.key_file, "a PEM file path", not_empty),
               text_field("ca_file", c.tls.ca_file, "a PEM file path", not_empty),
               number_field("handshake_timeout_ms", c.tls.handshake_timeout_ms, 100, 600000)}),
      section(r, "ha",
              {number_field("lease_ttl_ms", c.ha.lease_ttl_ms, 300, 600000),
               number_field("renew_interval_ms", c.ha.renew_interval_ms, 10, 200000),
               number_field("safety_margin_ms", c.ha.safety_margin_ms, 10, 600000),
               number_field("poll_interval_ms", c.ha.poll_interval_ms, 10, 200000),
               bool_field("fast_takeover", c.ha.fast_takeover),
               bool_field("exit_on_fence", c.ha.exit_on_fence)}),
      section(r, "limits",
              {number_field("max_frame_bytes", c.limits.max_frame_bytes, 1 * KiB, 1 * GiB),
               number_field("max_headers", c.limits.max_headers, 1, 100000),
               number_field("max_header_bytes", c.limits.max_header_bytes, 256, 1 * MiB),
               number_field("max_connections", c.limits.max_connections, 1, 1000000),
               number_field("max_memory_bytes", c.limits.max_memory_bytes, 1 * MiB, no_max)}),
      section(r, "stomp",
              {number_field("heartbeat_send_ms", c.stomp.heartbeat_send_ms, 100, 3600000, true),
               number_field("heartbeat_receive_ms", c.stomp.heartbeat_receive_ms, 100, 3600000, true),
               number_field("default_prefetch", c.stomp.default_prefetch, 1, 1000000)}),
      section(r, "delivery",
              {number_field("max_redeliveries", c.delivery.max_redeliveries, 0, 1000000),
               choice_field("dead_letter", dead_letter, {"individual", "shared"}),
               text_field("shared_dlq", c.delivery.shared_dlq,
                          "a queue name without /queue/, of 1-200 characters from A-Z a-z 0-9 . _ -",
                          [](std::string_view s) { return plain_name(s, 200); }),
               bool_field("expired_to_dlq", c.delivery.expired_to_dlq)}),
      section(r, "log",
              {choice_field("level", c.log.level, {"trace", "debug", "info", "warn", "error", "off"})}),
  };

  if (root.IsNull()) {
    r.fail(0, "", "the configuration is empty; it needs at least node.name, storage.path (or storage.url) and listeners.stomp");
  }
  if (!root.IsMap()) {
    r.fail(line_of(root), "", fmt::format("expected a map of sections ({}), got {}", names_of(top), describe(root)));
  }
  walk_map(r, root, "", 0, top);
  check_required(r, {"node.name", "listeners.stomp"});
  if (r.given("storage.path") == r.given("storage.url")) {
    r.fail(r.line(r.given("storage.url") ? "storage.url" : "storage"), r.given("storage.url") ? "storage.url" : "storage.path",
           r.given("storage.url") ? "give storage.path or storage.url, not both"
                                  : "required key is missing (or give storage.url for an NFS server)");
  }
  check_across_keys(r, c);
  c.delivery.dead_letter = dead_letter == "shared" ? dlq_strategy::shared : dlq_strategy::individual;
  return c;
}

// YAML forbids tabs in indentation and yaml-cpp's message for them ("illegal map value")
// does not say so; the most common cause of a syntax error in a hand-edited file.
std::string tab_hint(const std::string& text, int zero_based_line) {
  std::istringstream in(text);
  std::string line;
  for (int i = 0; i <= zero_based_line && std::getline(in, line); ++i) {
  }
  auto indent = line.substr(0, line.find_first_not_of(" \t"));
  return indent.find('\t') != std::string::npos ? "; indent with spaces, not tabs" : "";
}

}  // namespace

config parse_config(const std::string& yaml_text, const std::string& name) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::ParserException& e) {
    throw config_error(fmt::format("{}:{}: not valid YAML: {} (column {}{})", name, e.mark.line + 1, e.msg,
                                   e.mark.column + 1, tab_hint(yaml_text, e.mark.line)));
  } catch (const YAML::Exception& e) {
    throw config_error(fmt::format("{}: not valid YAML: {}", name, e.what()));
  }
  try {
    return parse_document(root, name);
  } catch (const YAML::Exception& e) {
    // Not expected (every access is checked first); kept so no YAML exception escapes the contract.
    throw config_error(fmt::format("{}: cannot read the configuration: {}", name, e.what()));
  }
}

config load_config(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw config_error(fmt::format("{}: cannot read the configuration file: it is a directory", path));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw config_error(fmt::format("{}: cannot read the configuration file: {}", path, std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw config_error(fmt::format("{}: cannot read the configuration file: read failed", path));
  return parse_config(text.str(), path);
}

}  // namespace tandem::broker
