#include "broker/config.h"
#include "tests/unit/broker/config_test_support.h"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>

#include "broker/config_parse_util.h"

using namespace tandem::broker;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

// One string per line, so a test's expected line numbers can be read off the list.
std::string lines(std::initializer_list<const char*> ls) {
  std::string out;
  for (const char* l : ls) out += std::string(l) + "\n";
  return out;
}

// The three required keys, on lines 1-6.
const std::string minimal = lines({
    "node:",
    "  name: node-1",
    "storage:",
    "  path: /var/lib/tandem",
    "listeners:",
    "  stomp: 127.0.0.1:61613",
});

std::string error_of(const std::string& text) { return test::config_error_of(text); }

}  // namespace

TEST_CASE("a full configuration is read with every value", "[config]") {
  config c = parse_config(lines({
                              "node:",
                              "  name: node-2",
                              "storage:",
                              "  path: ./data/journal",
                              "  segment_bytes: 32MiB",
                              "  max_bytes: 10GiB",
                              "  checkpoint_every_bytes: 128M",
                              "listeners:",
                              "  stomp: '[::1]:61614'",
                              "limits:",
                              "  max_frame_bytes: 1048576",
                              "  max_headers: 200",
                              "  max_header_bytes: 4KiB",
                              "  max_connections: 500",
                              "  max_memory_bytes: 1G",
                              "stomp:",
                              "  heartbeat_send_ms: 0",
                              "  heartbeat_receive_ms: 2500",
                              "  default_prefetch: 1",
                              "delivery:",
                              "  max_redeliveries: 0",
                              "  dead_letter: shared",
                              "  shared_dlq: DLQ.all",
                              "  expired_to_dlq: false",
                              "log:",
                              "  level: debug",
                          }),
                          "node-2.yaml");
  CHECK(c.source_file == "node-2.yaml");
  CHECK(c.node.name == "node-2");
  CHECK(c.storage.path == "./data/journal");
  CHECK(c.storage.segment_bytes == 32ull << 20);
  CHECK(c.storage.max_bytes == 10ull << 30);
  CHECK(c.storage.checkpoint_every_bytes == 128ull << 20);
  CHECK(c.listeners.stomp.host == "::1");
  CHECK(c.listeners.stomp.port == 61614);
  CHECK(c.limits.max_frame_bytes == 1048576);
  CHECK(c.limits.max_headers == 200);
  CHECK(c.limits.max_header_bytes == 4096);
  CHECK(c.limits.max_connections == 500);
  CHECK(c.limits.max_memory_bytes == 1ull << 30);
  CHECK(c.stomp.heartbeat_send_ms == 0);
  CHECK(c.stomp.heartbeat_receive_ms == 2500);
  CHECK(c.stomp.default_prefetch == 1);
  CHECK(c.delivery.max_redeliveries == 0);
  CHECK(c.delivery.dead_letter == dlq_strategy::shared);
  CHECK(c.delivery.shared_dlq == "DLQ.all");
  CHECK_FALSE(c.delivery.expired_to_dlq);
  CHECK(c.log.level == "debug");
}

TEST_CASE("keys left out take their documented defaults", "[config]") {
  config c = parse_config(minimal + "limits:\n  # every key commented out\n", "node-1.yaml");
  config d;  // the defaults written in config.h
  CHECK(c.node.name == "node-1");
  CHECK(c.listeners.stomp.to_string() == "127.0.0.1:61613");
  CHECK(c.storage.segment_bytes == 64ull << 20);
  CHECK(c.storage.max_bytes == 0);
  CHECK(c.storage.checkpoint_every_bytes == d.storage.checkpoint_every_bytes);
  CHECK(c.limits.max_frame_bytes == 10ull << 20);
  CHECK(c.limits.max_headers == d.limits.max_headers);
  CHECK(c.limits.max_header_bytes == d.limits.max_header_bytes);
  CHECK(c.limits.max_connections == d.limits.max_connections);
  CHECK(c.limits.max_memory_bytes == d.limits.max_memory_bytes);
  CHECK(c.stomp.heartbeat_send_ms == d.stomp.heartbeat_send_ms);
  CHECK(c.stomp.heartbeat_receive_ms == d.stomp.heartbeat_receive_ms);
  CHECK(c.stomp.default_prefetch == 1000);
  CHECK(c.delivery.max_redeliveries == 6);
  CHECK(c.delivery.dead_letter == dlq_strategy::individual);
  CHECK(c.delivery.shared_dlq == "ActiveMQ.DLQ");
  CHECK(c.delivery.expired_to_dlq);
  CHECK(c.log.level == "info");
}

// deploy/local/node-1.yaml says it shows every optional key with its default value; this keeps
// that true when a default in config.h changes.
TEST_CASE("the local example config is valid and spells out the defaults", "[config]") {
  auto repo = std::filesystem::path(TANDEM_SOURCE_DIR);
  // Its tls.* files are made by scripts/run-local.sh under .tandem-local/tls/, relative to the
  // directory the broker starts in: read it from a scratch directory that has stand-ins.
  auto previous = std::filesystem::current_path();
  auto scratch = std::filesystem::temp_directory_path() / ("tandem-config-test-" + std::to_string(getpid()));
  std::filesystem::create_directories(scratch / ".tandem-local" / "tls");
  for (const char* f : {"server.pem", "server.key", "ca.pem"}) std::ofstream(scratch / ".tandem-local" / "tls" / f) << "x";
  std::filesystem::current_path(scratch);
  config c;
  try {
    c = load_config((repo / "deploy" / "local" / "node-1.yaml").string());
  } catch (...) {
    std::filesystem::current_path(previous);
    std::filesystem::remove_all(scratch);
    throw;
  }
  std::filesystem::current_path(previous);
  std::filesystem::remove_all(scratch);
  config d;
  CHECK(c.node.name == "node-1");
  CHECK(c.listeners.stomp.to_string() == "127.0.0.1:61613");
  CHECK(c.listeners.stomp_ssl.to_string() == "127.0.0.1:61614");
  CHECK(c.tls.handshake_timeout_ms == d.tls.handshake_timeout_ms);
  CHECK(c.storage.segment_bytes == d.storage.segment_bytes);
  CHECK(c.storage.max_bytes == d.storage.max_bytes);
  CHECK(c.storage.checkpoint_every_bytes == d.storage.checkpoint_every_bytes);
  CHECK(c.limits.max_frame_bytes == d.limits.max_frame_bytes);
  CHECK(c.limits.max_headers == d.limits.max_headers);
  CHECK(c.limits.max_header_bytes == d.limits.max_header_bytes);
  CHECK(c.limits.max_connections == d.limits.max_connections);
  CHECK(c.limits.max_memory_bytes == d.limits.max_memory_bytes);
  CHECK(c.stomp.heartbeat_send_ms == d.stomp.heartbeat_send_ms);
  CHECK(c.stomp.heartbeat_receive_ms == d.stomp.heartbeat_receive_ms);
  CHECK(c.stomp.default_prefetch == d.stomp.default_prefetch);
  CHECK(c.delivery.max_redeliveries == d.delivery.max_redeliveries);
  CHECK(c.delivery.dead_letter == d.delivery.dead_letter);
  CHECK(c.delivery.shared_dlq == d.delivery.shared_dlq);
  CHECK(c.delivery.expired_to_dlq == d.delivery.expired_to_dlq);
  CHECK(c.log.level == d.log.level);
}

TEST_CASE("endpoints print IPv6 hosts in brackets", "[config]") {
  CHECK(endpoint{"0.0.0.0", 61613}.to_string() == "0.0.0.0:61613");
  CHECK(endpoint{"::1", 61613}.to_string() == "[::1]:61613");
  CHECK(endpoint{"broker-1.example.com", 1}.to_string() == "broker-1.example.com:1");
}

TEST_CASE("sizes take binary units without a space and nothing else", "[config]") {
  using tandem::broker::config_util::parse_size;
  using tandem::broker::config_util::value_error;
  CHECK(parse_size("1048576") == 1048576);
  CHECK(parse_size("64K") == 64 * 1024);
  CHECK(parse_size("64KiB") == 64 * 1024);
  CHECK(parse_size("64MiB") == 64ull << 20);
  CHECK(parse_size("2G") == 2ull << 30);
  CHECK(parse_size("1TiB") == 1ull << 40);
  CHECK_THROWS_WITH(parse_size("64MB"), Contains("ambiguous"));
  CHECK_THROWS_WITH(parse_size("10 MiB"), Contains("without a space"));
  CHECK_THROWS_AS(parse_size("64mib"), value_error);
  CHECK_THROWS_AS(parse_size("1.5MiB"), value_error);
  CHECK_THROWS_AS(parse_size("-1"), value_error);
  CHECK_THROWS_AS(parse_size(""), value_error);
  CHECK_THROWS_WITH(parse_size("99999999999999999999"), Contains("too large"));
  CHECK_THROWS_WITH(parse_size("17179869184GiB"), Contains("too large"));
}

TEST_CASE("a bad size names the file, line, key and value", "[config]") {
  CHECK(error_of(lines({"node:", "  name: node-1", "listeners:", "  stomp: 127.0.0.1:61613",
                        "storage:", "  path: /x", "  segment_bytes: lots"})) ==
        "node-1.yaml:7: storage.segment_bytes: expected a size such as 64MiB or 1048576, got 'lots'");
}

TEST_CASE("an unknown key is refused with the valid ones listed", "[config]") {
  CHECK(error_of(lines({"node:", "  name: node-1", "listners:", "  stomp: 127.0.0.1:61613"})) ==
        "node-1.yaml:3: listners: unknown key (expected one of: node, storage, listeners, tls, http, ha, limits, "
        "stomp, delivery, log, security)");
  CHECK(error_of(minimal + "storage:\n") == "node-1.yaml:7: storage: duplicate key (first given on line 3)");
  CHECK(error_of(lines({"node:", "  name: node-1", "  zone: a"})) ==
        "node-1.yaml:3: node.zone: unknown key (expected one of: name)");
  CHECK_THAT(error_of(minimal + "limits:\n  max_frames: 5\n"),
             StartsWith("node-1.yaml:8: limits.max_frames: unknown key (expected one of: max_frame_bytes,"));
}

TEST_CASE("a value of the wrong shape is refused", "[config]") {
  CHECK(error_of(lines({"node:", "  name:", "    first: node"})) ==
        "node-1.yaml:2: node.name: expected a name of 1-64 characters from A-Z a-z 0-9 . _ -, got a map");
  CHECK(error_of(lines({"node: node-1"})) ==
        "node-1.yaml:1: node: expected a map with keys (name), got 'node-1'");
  CHECK_THAT(error_of(minimal + "limits:\n  max_headers: [1, 2]\n"),
             StartsWith("node-1.yaml:8: limits.max_headers: expected a whole number, got a list"));
  CHECK_THAT(error_of(minimal + "stomp:\n  heartbeat_send_ms: 10s\n"),
             StartsWith("node-1.yaml:8: stomp.heartbeat_send_ms: expected a whole number of milliseconds"));
  CHECK(error_of(minimal + "delivery:\n  expired_to_dlq: yes\n") ==
        "node-1.yaml:8: delivery.expired_to_dlq: expected true or false, got 'yes'");
  CHECK(error_of(minimal + "log:\n  level:\n") ==
        "node-1.yaml:8: log.level: expected one of trace|debug|info|warn|error|off, got nothing");
}

TEST_CASE("listener addresses must be HOST:PORT with a valid port", "[config]") {
  auto with_stomp = [](const char* value) {
    return error_of(lines({"node:", "  name: node-1", "storage:", "  path: /x", "listeners:"}) +
                    "  stomp: " + value + "\n");
  };
  CHECK(with_stomp("61613") == "node-1.yaml:6: listeners.stomp: expected HOST:PORT, got '61613'");
  CHECK_THAT(with_stomp("127.0.0.1:0"), Contains("the port must be a number from 1 to 65535"));
  CHECK_THAT(with_stomp("127.0.0.1:65536"), Contains("got '127.0.0.1:65536'"));
  CHECK_THAT(with_stomp("::1:61613"), Contains("an IPv6 host needs brackets"));
  CHECK_THAT(with_stomp("':61613'"), Contains("the host is missing"));
  CHECK_THAT(with_stomp("'[::1]'"), Contains("the port is missing"));
  CHECK(tandem::broker::config_util::parse_endpoint("[::]:1").to_string() == "[::]:1");
}

TEST_CASE("values outside their range are refused with the range", "[config]") {
  CHECK(error_of(lines({"node:", "  name: node-1", "listeners:", "  stomp: 127.0.0.1:61613",
                        "storage:", "  path: /x", "  segment_bytes: 512KiB"})) ==
        "node-1.yaml:7: storage.segment_bytes: must be between 1MiB and 4GiB, got '512KiB'");
  CHECK_THAT(error_of(minimal + "limits:\n  max_frame_bytes: 100\n"),
             Contains("limits.max_frame_bytes: must be between 1KiB and 1GiB, got '100'"));
  CHECK_THAT(error_of(minimal + "stomp:\n  default_prefetch: 0\n"),
             Contains(":8: stomp.default_prefetch: must be between 1 and 1000000, got '0'"));
  CHECK_THAT(error_of(minimal + "limits:\n  max_headers: 0\n"), Contains("limits.max_headers: must be"));
  CHECK_THAT(error_of(minimal + "stomp:\n  heartbeat_receive_ms: 5\n"),
             Contains("must be 0 or between 100 and 3600000, got '5'"));
  CHECK_THAT(error_of(minimal + "delivery:\n  max_redeliveries: -1\n"),
             Contains("delivery.max_redeliveries: expected a whole number, got '-1'"));
  CHECK_THAT(error_of(minimal + "delivery:\n  dead_letter: per-queue\n"),
             Contains("expected one of individual|shared, got 'per-queue'"));
  CHECK_THAT(error_of(minimal + "delivery:\n  shared_dlq: /queue/DLQ\n"),
             Contains("delivery.shared_dlq: expected a queue name without /queue/"));
  CHECK_THAT(error_of(minimal + "log:\n  level: verbose\n"),
             Contains("node-1.yaml:8: log.level: expected one of trace|debug|info|warn|error|off"));
}

TEST_CASE("rules that span two keys blame the key the file gave", "[config]") {
  CHECK(error_of(lines({"node:", "  name: node-1", "listeners:", "  stomp: 127.0.0.1:61613",
                        "storage:", "  path: /x", "  max_bytes: 16MiB"})) ==
        "node-1.yaml:7: storage.max_bytes: storage.max_bytes (16MiB) must be 0 (unlimited) or at "
        "least storage.segment_bytes (64MiB)");
  CHECK_THAT(error_of(minimal + "limits:\n  max_memory_bytes: 8MiB\n"),
             Contains(":8: limits.max_memory_bytes: limits.max_frame_bytes (10MiB) must not exceed"));
  CHECK_THAT(error_of(minimal + "limits:\n  max_frame_bytes: 1KiB\n  max_header_bytes: 2KiB\n"),
             Contains(":9: limits.max_header_bytes: limits.max_header_bytes (2KiB) must not exceed"));
}

TEST_CASE("node names and required keys are checked", "[config]") {
  CHECK(error_of(lines({"storage:", "  path: /x", "listeners:", "  stomp: 127.0.0.1:61613"})) ==
        "node-1.yaml: node.name: required key is missing");
  CHECK(error_of(lines({"node:", "  # name: node-1", "storage:", "  path: /x", "listeners:",
                        "  stomp: 127.0.0.1:61613"})) ==
        "node-1.yaml:1: node.name: required key is missing");
  CHECK(error_of(lines({"node:", "  name: node-1", "storage:", "  segment_bytes: 8MiB", "listeners:",
                        "  stomp: 127.0.0.1:61613"})) ==
        "node-1.yaml:3: storage.path: required key is missing (or give storage.url for an NFS server)");
  CHECK(error_of(lines({"node:", "  name: node-1", "storage:", "  path: /x"})) ==
        "node-1.yaml: listeners.stomp: required key is missing");
  CHECK_THAT(error_of(lines({"node:", "  name: node 1"})), Contains("node.name: expected a name"));
  CHECK_THAT(error_of(lines({"node:", "  name: ''"})), Contains("got ''"));
  CHECK_THAT(error_of(lines({"node:", "  name: node/1"})), Contains("got 'node/1'"));
}

TEST_CASE("an empty, non-map or malformed file is refused clearly", "[config]") {
  CHECK_THAT(error_of(""), StartsWith("node-1.yaml: the configuration is empty"));
  CHECK_THAT(error_of("# only a comment\n"), StartsWith("node-1.yaml: the configuration is empty"));
  CHECK_THAT(error_of("- node\n- storage\n"),
             StartsWith("node-1.yaml:1: expected a map of sections (node, storage, listeners"));
  CHECK_THAT(error_of("just text\n"), Contains("got 'just text'"));
  CHECK_THAT(error_of(lines({"node:", "  name: node-1", " storage: x"})),
             StartsWith("node-1.yaml:3: not valid YAML: "));
  CHECK_THAT(error_of(lines({"node:", "  name: [node-1", "storage:"})), StartsWith("node-1.yaml:"));
  CHECK(error_of("node:\n\tname: node-1\n") ==
        "node-1.yaml:2: not valid YAML: illegal map value (column 6; indent with spaces, not tabs)");
}

TEST_CASE("load_config reads a file and names it in errors", "[config]") {
  auto dir = std::filesystem::temp_directory_path() / ("tandem-config-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string good = (dir / "node-1.yaml").string();
  std::string bad = (dir / "bad.yaml").string();
  std::ofstream(good) << minimal;
  std::ofstream(bad) << minimal << "log:\n  level: loud\n";

  config c = load_config(good);
  CHECK(c.source_file == good);
  CHECK(c.node.name == "node-1");
  CHECK_THROWS_WITH(load_config(bad), StartsWith(bad + ":8: log.level: "));
  std::string missing = (dir / "missing.yaml").string();
  CHECK_THROWS_WITH(load_config(missing),
                    missing + ": cannot read the configuration file: No such file or directory");
  CHECK_THROWS_WITH(load_config(dir.string()), Contains("it is a directory"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("HA keys are read and an unsafe lease is refused", "[config]") {
  auto c = parse_config(lines({"node:", "  name: node-1", "storage:", "  url: nfs://127.0.0.1/export/tandem?version=4",
                               "listeners:", "  stomp: 127.0.0.1:61613", "  http: 127.0.0.1:8161", "  ha: 127.0.0.1:61616",
                               "ha:", "  lease_ttl_ms: 2000", "  renew_interval_ms: 200", "  safety_margin_ms: 400",
                               "  poll_interval_ms: 100", "  fast_takeover: false", "  exit_on_fence: true"}),
                        "node-1.yaml");
  CHECK(c.storage.url == "nfs://127.0.0.1/export/tandem?version=4");
  CHECK(c.storage.path.empty());
  CHECK(c.listeners.http.port == 8161);
  CHECK(c.listeners.ha.port == 61616);
  CHECK(c.ha.lease_ttl_ms == 2000);
  CHECK(c.ha.renew_interval_ms == 200);
  CHECK_FALSE(c.ha.fast_takeover);
  CHECK(c.ha.exit_on_fence);

  CHECK_THAT(error_of(lines({"node:", "  name: n", "storage:", "  path: /d", "listeners:", "  stomp: 127.0.0.1:1",
                             "ha:", "  lease_ttl_ms: 3000", "  renew_interval_ms: 1500"})),
             Catch::Contains("node-1.yaml:9: ha.renew_interval_ms: ha.renew_interval_ms (1500) must be at most a third "
                             "of ha.lease_ttl_ms (3000)"));
  CHECK(error_of(lines({"node:", "  name: n", "storage:", "  path: /d", "  url: nfs://h/e", "listeners:",
                        "  stomp: 127.0.0.1:1"})) == "node-1.yaml:5: storage.url: give storage.path or storage.url, not both");
  CHECK_THAT(error_of(lines({"node:", "  name: n", "storage:", "  url: /mnt/x", "listeners:", "  stomp: 127.0.0.1:1"})),
             Catch::Contains("storage.url: expected an NFS URL"));
  CHECK(error_of(lines({"node:", "  name: n", "storage:", "  path: /d", "listeners:", "  stomp: 127.0.0.1:7000",
                        "  http: 127.0.0.1:7000"})) == "node-1.yaml:7: listeners.http: listeners.stomp and listeners.http both use port 7000");
}
