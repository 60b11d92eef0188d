#include "broker/config.h"

#include <fmt/format.h>
#include <unistd.h>
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

#include "broker/config_fields.h"
#include "broker/config_parse_util.h"
#include "broker/config_security.h"
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

using namespace config_detail;

// A TLS key is only meaningful with a TLS listener (STOMP or HTTPS), and those need a
// certificate and its key. The files must be readable now, so `--check-config` catches a wrong
// path; the node checks their content when it starts (PEM, key matching the certificate).
void check_tls(const reader& r, const config& c) {
  const bool stomp_ssl = c.listeners.stomp_ssl.port != 0;
  const bool https = c.listeners.https.port != 0;
  for (const char* key : {"tls.cert_file", "tls.key_file", "tls.ca_file", "tls.handshake_timeout_ms"}) {
    if (!stomp_ssl && !https && r.given(key)) {
      r.fail(r.line(key), key, "is set but neither listeners.stomp_ssl nor listeners.https is: no listener would use it");
    }
  }
  if (!stomp_ssl && !https) return;
  const char* listener = stomp_ssl ? "listeners.stomp_ssl" : "listeners.https";
  for (const char* key : {"tls.cert_file", "tls.key_file"}) {
    if (!r.given(key)) {
      r.fail(r.line(listener), key, fmt::format("required key is missing ({} serves TLS)", listener));
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

// http.public_url goes into the lease record, whose fields hold no spaces or '='
// (storage/LEASE.md), and is shown to people as a link.
bool console_url(std::string_view s) {
  if (s.size() > 255) return false;
  std::string_view rest;
  if (s.substr(0, 7) == "http://") rest = s.substr(7);
  else if (s.substr(0, 8) == "https://") rest = s.substr(8);
  else return false;
  if (rest.empty() || rest.front() == '/' || rest.front() == ':') return false;
  return std::none_of(s.begin(), s.end(), [](char ch) { return ch <= ' ' || ch == '=' || ch == 0x7f; });
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
  clash(l.stomp, l.https, "listeners.stomp", "listeners.https");
  clash(l.http, l.https, "listeners.http", "listeners.https");
  clash(l.ha, l.https, "listeners.ha", "listeners.https");
  clash(l.stomp_ssl, l.https, "listeners.stomp_ssl", "listeners.https");
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
               endpoint_field("ha", c.listeners.ha), endpoint_field("stomp_ssl", c.listeners.stomp_ssl),
               endpoint_field("https", c.listeners.https)}),
      section(r, "tls",
              {text_field("cert_file", c.tls.cert_file, "a PEM file path", not_empty),
               text_field("key_file", c.tls.key_file, "a PEM file path", not_empty),
               text_field("ca_file", c.tls.ca_file, "a PEM file path", not_empty),
               number_field("handshake_timeout_ms", c.tls.handshake_timeout_ms, 100, 600000)}),
      section(r, "http",
              {text_field("public_url", c.http.public_url,
                          "an http:// or https:// URL of at most 255 characters without spaces or '=' "
                          "(it is published in the lease record)",
                          console_url)}),
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
      security_section(r, c),
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
  check_security(r, c);
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

std::string public_console_url(const config& c) {
  if (!c.http.public_url.empty()) return c.http.public_url;
  // HTTPS when there is an HTTPS listener: a console reached over plain HTTP would send its
  // password and session cookie in the clear.
  const bool plain = c.listeners.https.port == 0;
  const endpoint& where = plain ? c.listeners.http : c.listeners.https;
  if (where.port == 0) return {};
  endpoint shown = where;
  if (shown.host == "0.0.0.0" || shown.host == "::") {
    // Listening everywhere says nothing about how the peer reaches this node: the HA listener
    // is the address the peer already uses, else the host name is the best guess.
    if (c.listeners.ha.port && c.listeners.ha.host != "0.0.0.0" && c.listeners.ha.host != "::") {
      shown.host = c.listeners.ha.host;
    } else {
      char name[256] = {};
      shown.host = gethostname(name, sizeof name - 1) == 0 && name[0] ? name : "localhost";
    }
  }
  return fmt::format("{}://{}/", plain ? "http" : "https", shown.to_string());
}

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
