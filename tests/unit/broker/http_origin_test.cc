// The cross-site request guard (broker/http_origin.h): which requests may change anything.

#include <catch2/catch.hpp>

#include "broker/http_origin.h"

using namespace tandem::broker;
using Catch::Matchers::Contains;

namespace {

request_facts post(std::string_view origin = "", std::string_view fetch_site = "", bool header = true) {
  return request_facts{"POST", header, origin, fetch_site, "127.0.0.1:8161", false};
}

constexpr std::string_view public_url = "https://broker-1.example.com/";

}  // namespace

TEST_CASE("reading needs nothing; changing needs X-Tandem-Request", "[http][origin]") {
  CHECK_FALSE(cross_site_refusal({"GET", false, "https://evil.example", "cross-site", "h:1", false}, public_url));
  CHECK_FALSE(cross_site_refusal({"HEAD", false, "", "", "h:1", false}, public_url));
  CHECK_FALSE(cross_site_refusal(post(), public_url));
  auto missing = cross_site_refusal(post("", "", false), public_url);
  REQUIRE(missing);
  CHECK_THAT(*missing, Contains("a POST request must carry the header X-Tandem-Request"));
  request_facts del{"DELETE", false, "", "", "h:1", false};
  REQUIRE(cross_site_refusal(del, public_url));
  CHECK_THAT(*cross_site_refusal(del, public_url), Contains("DELETE"));
  CHECK(changes_state("PUT"));
  CHECK_FALSE(changes_state("OPTIONS"));
}

TEST_CASE("Sec-Fetch-Site: cross-site is refused even with the header", "[http][origin]") {
  auto r = cross_site_refusal(post("", "cross-site"), public_url);
  REQUIRE(r);
  CHECK_THAT(*r, Contains("Sec-Fetch-Site: cross-site"));
  CHECK_FALSE(cross_site_refusal(post("", "same-origin"), public_url));
  CHECK_FALSE(cross_site_refusal(post("", "none"), public_url));
}

TEST_CASE("an Origin must be the request's own or http.public_url's", "[http][origin]") {
  CHECK_FALSE(cross_site_refusal(post("http://127.0.0.1:8161"), public_url));
  CHECK_FALSE(cross_site_refusal(post("https://broker-1.example.com"), public_url));
  CHECK_FALSE(cross_site_refusal(post("HTTPS://Broker-1.Example.com:443"), public_url));
  auto other = cross_site_refusal(post("https://evil.example"), public_url);
  REQUIRE(other);
  CHECK_THAT(*other, Contains("origin 'https://evil.example'"));
  CHECK_THAT(*other, Contains("http://127.0.0.1:8161"));
  CHECK(cross_site_refusal(post("null"), public_url));
  CHECK(cross_site_refusal(post("http://127.0.0.1:8162"), public_url));      // another port is another origin
  CHECK(cross_site_refusal(post("https://127.0.0.1:8161"), public_url));     // and another scheme
  // Over HTTPS the request's own origin is https.
  CHECK_FALSE(cross_site_refusal({"POST", true, "https://n:8443", "", "n:8443", true}, ""));
}

TEST_CASE("origins compare without a default port, path or case", "[http][origin]") {
  CHECK(origin_of("HTTP://Node-1:80/console/") == "http://node-1");
  CHECK(origin_of("https://node-1:443") == "https://node-1");
  CHECK(origin_of("https://node-1:8443/") == "https://node-1:8443");
  CHECK(origin_of("http://[::1]:80") == "http://[::1]");
  CHECK(origin_of("http://node-1:8080") == "http://node-1:8080");
  CHECK(origin_of("ftp://x").empty());
  CHECK(origin_of("http://").empty());
}
