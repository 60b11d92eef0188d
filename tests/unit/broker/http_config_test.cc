// listeners.https and http.public_url (broker/config.h), and the console address a node
// publishes (public_console_url).

#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "broker/config.h"
#include "tests/unit/broker/config_test_support.h"

using namespace tandem::broker;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

namespace fs = std::filesystem;

// The required keys on lines 1-6; `listeners_extra` continues the listeners map (line 7 on).
std::string config_with(const std::string& listeners_extra, const std::string& rest = "") {
  return "node:\n  name: node-1\nstorage:\n  path: /var/lib/tandem\n"
         "listeners:\n  stomp: 127.0.0.1:61613\n" + listeners_extra + rest;
}

std::string error_of(const std::string& text) { return test::config_error_of(text); }

// A certificate and key file that exist (their content is checked only when a node starts).
struct tls_files {
  tls_files() {
    std::string tmpl = (fs::temp_directory_path() / "tandem-http-config-XXXXXX").string();
    dir = mkdtemp(tmpl.data());
    std::ofstream(dir + "/server.pem") << "x";
    std::ofstream(dir + "/server.key") << "x";
  }
  ~tls_files() {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  }
  std::string section() const {
    return "tls:\n  cert_file: " + dir + "/server.pem\n  key_file: " + dir + "/server.key\n";
  }
  std::string dir;
};

}  // namespace

TEST_CASE("HTTPS is off by default and the console address follows listeners.http", "[config][http]") {
  config c = parse_config(config_with("  http: 127.0.0.1:8161\n"), "node-1.yaml");
  CHECK(c.listeners.https.port == 0);
  CHECK(c.http.public_url.empty());
  CHECK(public_console_url(c) == "http://127.0.0.1:8161/");
}

TEST_CASE("listeners.https takes the tls certificate and key", "[config][http]") {
  tls_files t;
  config c = parse_config(config_with("  https: 0.0.0.0:8443\n", t.section()), "node-1.yaml");
  CHECK(c.listeners.https.host == "0.0.0.0");
  CHECK(c.listeners.https.port == 8443);
  CHECK(c.tls.cert_file == t.dir + "/server.pem");
}

TEST_CASE("listeners.https without a certificate is refused", "[config][http]") {
  CHECK(error_of(config_with("  https: 127.0.0.1:8443\n")) ==
        "node-1.yaml:7: tls.cert_file: required key is missing (listeners.https serves TLS)");
}

TEST_CASE("tls keys are accepted with either TLS listener", "[config][http]") {
  tls_files t;
  CHECK_NOTHROW(parse_config(config_with("  stomp_ssl: 127.0.0.1:61614\n", t.section()), "node-1.yaml"));
  CHECK_NOTHROW(parse_config(config_with("  https: 127.0.0.1:8443\n", t.section()), "node-1.yaml"));
  CHECK_NOTHROW(parse_config(config_with("  https: 127.0.0.1:8443\n  stomp_ssl: 127.0.0.1:61614\n", t.section()),
                             "node-1.yaml"));
}

TEST_CASE("the HTTPS port may not be another listener's", "[config][http]") {
  tls_files t;
  CHECK_THAT(error_of(config_with("  http: 127.0.0.1:8161\n  https: 127.0.0.1:8161\n", t.section())),
             Contains("listeners.http and listeners.https both use port 8161"));
  CHECK_THAT(error_of(config_with("  https: 0.0.0.0:61613\n", t.section())),
             Contains("listeners.stomp and listeners.https both use port 61613"));
}

TEST_CASE("http.public_url is read and published as given", "[config][http]") {
  config c = parse_config(config_with("  http: 0.0.0.0:8161\n", "http:\n  public_url: https://broker-1.example.com/\n"),
                          "node-1.yaml");
  CHECK(c.http.public_url == "https://broker-1.example.com/");
  CHECK(public_console_url(c) == "https://broker-1.example.com/");
}

TEST_CASE("a bad http.public_url is refused with its line", "[config][http]") {
  const std::string http = "  http: 127.0.0.1:8161\n";
  CHECK_THAT(error_of(config_with(http, "http:\n  public_url: node-1:8161\n")),
             StartsWith("node-1.yaml:9: http.public_url: expected an http:// or https:// URL"));
  CHECK_THAT(error_of(config_with(http, "http:\n  public_url: http://node-1/?a=b\n")),
             Contains("without spaces or '='"));
  CHECK_THAT(error_of(config_with(http, "http:\n  public_url: 'http://node 1/'\n")), Contains("http.public_url"));
  CHECK_THAT(error_of(config_with(http, "http:\n  public_url: http://\n")), Contains("http.public_url"));
  CHECK_THAT(error_of(config_with(http, "http:\n  base: /\n")),
             Contains("http.base: unknown key (expected one of: public_url)"));
}

TEST_CASE("a wildcard listener publishes the HA listener's host", "[config][http]") {
  config c = parse_config(config_with("  http: 0.0.0.0:8161\n  ha: 10.0.1.10:61617\n"), "node-1.yaml");
  CHECK(public_console_url(c) == "http://10.0.1.10:8161/");
}

TEST_CASE("a wildcard listener without an HA host publishes the host name", "[config][http]") {
  config c = parse_config(config_with("  http: 0.0.0.0:8161\n"), "node-1.yaml");
  char name[256] = {};
  REQUIRE(gethostname(name, sizeof name - 1) == 0);
  CHECK(public_console_url(c) == "http://" + std::string(name) + ":8161/");
}

TEST_CASE("a node with only HTTPS publishes an https address", "[config][http]") {
  tls_files t;
  config c = parse_config(config_with("  https: 127.0.0.1:8443\n", t.section()), "node-1.yaml");
  CHECK(public_console_url(c) == "https://127.0.0.1:8443/");
}

TEST_CASE("a node with HTTP and HTTPS publishes the https address", "[config][http]") {
  tls_files t;
  config c = parse_config(config_with("  http: 127.0.0.1:8161\n  https: 127.0.0.1:8443\n", t.section()), "node-1.yaml");
  CHECK(public_console_url(c) == "https://127.0.0.1:8443/");
}

TEST_CASE("a node without HTTP publishes no console", "[config][http]") {
  config c = parse_config(config_with(""), "node-1.yaml");
  CHECK(public_console_url(c).empty());
}
