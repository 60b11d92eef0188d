// The listeners.stomp_ssl and tls.* configuration keys (broker/config.h), and the node's
// certificate checks at start (broker/tls_context.h) for files that are readable but wrong.

#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "broker/config.h"
#include "tests/unit/broker/config_test_support.h"
#include "broker/tls_context.h"

using namespace tandem::broker;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

namespace fs = std::filesystem;

// A temporary directory with a few files in it, removed at the end of the test.
class temp_dir {
 public:
  temp_dir() {
    std::string tmpl = (fs::temp_directory_path() / "tandem-tls-config-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~temp_dir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  std::string file(const std::string& name, const std::string& text) const {
    auto p = (fs::path(path_) / name).string();
    std::ofstream(p) << text;
    return p;
  }
  std::string path(const std::string& name) const { return (fs::path(path_) / name).string(); }

 private:
  std::string path_;
};

// The required keys on lines 1-4; the listeners map is continued by the caller's lines.
std::string config_with(const std::string& listeners_extra, const std::string& rest) {
  return "node:\n  name: node-1\nstorage:\n  path: /var/lib/tandem\n"
         "listeners:\n  stomp: 127.0.0.1:61613\n" + listeners_extra + rest;
}

std::string error_of(const std::string& text) { return test::config_error_of(text); }

// Any PEM-looking text OpenSSL will not take as a certificate or a key.
const char* not_a_certificate = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n";

}  // namespace

TEST_CASE("the TLS listener is off unless listeners.stomp_ssl is set", "[config][tls]") {
  config c = parse_config(config_with("", ""), "node-1.yaml");
  CHECK(c.listeners.stomp_ssl.port == 0);
  CHECK(c.tls.cert_file.empty());
  CHECK(c.tls.handshake_timeout_ms == 10000);
}

TEST_CASE("stomp_ssl and the tls keys are read with their files", "[config][tls]") {
  temp_dir d;
  auto cert = d.file("server.pem", "x");
  auto key = d.file("server.key", "x");
  auto ca = d.file("ca.pem", "x");
  config c = parse_config(config_with("  stomp_ssl: 0.0.0.0:61614\n", "tls:\n  cert_file: " + cert +
                                                                        "\n  key_file: " + key + "\n  ca_file: " +
                                                                        ca + "\n  handshake_timeout_ms: 2500\n"),
                          "node-1.yaml");
  CHECK(c.listeners.stomp_ssl.host == "0.0.0.0");
  CHECK(c.listeners.stomp_ssl.port == 61614);
  CHECK(c.tls.cert_file == cert);
  CHECK(c.tls.key_file == key);
  CHECK(c.tls.ca_file == ca);
  CHECK(c.tls.handshake_timeout_ms == 2500);
}

TEST_CASE("stomp_ssl without a certificate and key is refused", "[config][tls]") {
  temp_dir d;
  auto cert = d.file("server.pem", "x");
  CHECK(error_of(config_with("  stomp_ssl: 127.0.0.1:61614\n", "")) ==
        "node-1.yaml:7: tls.cert_file: required key is missing (listeners.stomp_ssl serves TLS)");
  CHECK(error_of(config_with("  stomp_ssl: 127.0.0.1:61614\n", "tls:\n  cert_file: " + cert + "\n")) ==
        "node-1.yaml:7: tls.key_file: required key is missing (listeners.stomp_ssl serves TLS)");
}

TEST_CASE("tls keys without the TLS listener are refused", "[config][tls]") {
  temp_dir d;
  auto cert = d.file("server.pem", "x");
  CHECK(error_of(config_with("", "tls:\n  cert_file: " + cert + "\n")) ==
        "node-1.yaml:8: tls.cert_file: is set but neither listeners.stomp_ssl nor listeners.https is: no listener would use it");
}

TEST_CASE("a missing certificate, key or CA file is named with the reason", "[config][tls]") {
  temp_dir d;
  auto cert = d.file("server.pem", "x");
  auto key = d.file("server.key", "x");
  auto missing = d.path("missing.pem");
  const std::string ssl = "  stomp_ssl: 127.0.0.1:61614\n";
  CHECK(error_of(config_with(ssl, "tls:\n  cert_file: " + missing + "\n  key_file: " + key + "\n")) ==
        "node-1.yaml:9: tls.cert_file: cannot read '" + missing + "': No such file or directory");
  CHECK(error_of(config_with(ssl, "tls:\n  cert_file: " + cert + "\n  key_file: " + missing + "\n")) ==
        "node-1.yaml:10: tls.key_file: cannot read '" + missing + "': No such file or directory");
  CHECK(error_of(config_with(ssl, "tls:\n  cert_file: " + cert + "\n  key_file: " + key + "\n  ca_file: " +
                                      missing + "\n")) ==
        "node-1.yaml:11: tls.ca_file: cannot read '" + missing + "': No such file or directory");
}

TEST_CASE("a directory given as the key file is refused", "[config][tls]") {
  temp_dir d;
  auto cert = d.file("server.pem", "x");
  fs::create_directory(d.path("keys"));
  CHECK_THAT(error_of(config_with("  stomp_ssl: 127.0.0.1:61614\n",
                                  "tls:\n  cert_file: " + cert + "\n  key_file: " + d.path("keys") + "\n")),
             Contains("tls.key_file: cannot read '" + d.path("keys") + "': it is a directory"));
}

TEST_CASE("the TLS port may not be another listener's", "[config][tls]") {
  temp_dir d;
  auto cert = d.file("server.pem", "x");
  auto key = d.file("server.key", "x");
  const std::string tls = "tls:\n  cert_file: " + cert + "\n  key_file: " + key + "\n";
  CHECK_THAT(error_of(config_with("  stomp_ssl: 127.0.0.1:61613\n", tls)),
             Contains("listeners.stomp and listeners.stomp_ssl both use port 61613"));
  CHECK_THAT(error_of(config_with("  http: 127.0.0.1:8161\n  stomp_ssl: 0.0.0.0:8161\n", tls)),
             Contains("listeners.stomp_ssl and listeners.http both use port 8161"));
}

TEST_CASE("a handshake timeout out of range is refused", "[config][tls]") {
  temp_dir d;
  auto cert = d.file("server.pem", "x");
  auto key = d.file("server.key", "x");
  CHECK_THAT(error_of(config_with("  stomp_ssl: 127.0.0.1:61614\n", "tls:\n  cert_file: " + cert + "\n  key_file: " +
                                                                     key + "\n  handshake_timeout_ms: 50\n")),
             StartsWith("node-1.yaml:11: tls.handshake_timeout_ms: must be between 100 and 600000"));
}

TEST_CASE("an unknown tls key is refused with the known ones", "[config][tls]") {
  CHECK_THAT(error_of(config_with("", "tls:\n  certificate: /x\n")),
             Contains("tls.certificate: unknown key (expected one of: cert_file, key_file, ca_file, "
                      "handshake_timeout_ms)"));
}

TEST_CASE("a certificate file that is not PEM stops the node with the file named", "[tls]") {
  temp_dir d;
  config::tls_t t;
  t.cert_file = d.file("server.pem", "hello\n");
  t.key_file = d.file("server.key", "hello\n");
  auto ctx = make_tls_context(t);
  REQUIRE_FALSE(ctx);
  CHECK_THAT(ctx.err().message, StartsWith("tls.cert_file '" + t.cert_file + "': not a PEM certificate chain"));

  t.cert_file = d.file("garbled.pem", not_a_certificate);
  ctx = make_tls_context(t);
  REQUIRE_FALSE(ctx);
  CHECK_THAT(ctx.err().message, StartsWith("tls.cert_file '" + t.cert_file + "': not a PEM certificate chain"));
}

TEST_CASE("an unreadable certificate file stops the node with the reason", "[tls]") {
  temp_dir d;
  config::tls_t t;
  t.cert_file = d.path("gone.pem");
  t.key_file = d.file("server.key", "x");
  auto ctx = make_tls_context(t);
  REQUIRE_FALSE(ctx);
  CHECK(ctx.err().message == "tls.cert_file '" + t.cert_file + "': cannot read: No such file or directory");
}
