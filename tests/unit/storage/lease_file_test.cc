// The lease record format, epoch file names and option validation.

#include <catch2/catch.hpp>

#include <type_traits>

#include <fmt/format.h>

#include "storage/crc32c.h"
#include "storage/epoch.h"
#include "storage/lease_file.h"
#include "storage/lease_options.h"
#include "storage/store.h"

namespace tandem::storage {
namespace {

lease_record sample() { return lease_record{epoch_t(7), 42, false, "node-a", "10.0.0.5:61617", ""}; }

}  // namespace

// Including both storage/epoch.h and storage/store.h compiles only while their epoch_t agree.

TEST_CASE("lease record is one readable line that round-trips", "[lease]") {
  auto text = encode_lease_record(sample());
  CHECK(text.rfind("tandem-lease v1 epoch=7 counter=42 released=0 holder=node-a ha=10.0.0.5:61617 crc32c=", 0) == 0);
  CHECK(text.back() == '\n');
  auto back = decode_lease_record(text);
  REQUIRE(back);
  CHECK(*back == sample());

  auto released = sample();
  released.released = true;
  released.ha_address = "";
  auto r2 = decode_lease_record(encode_lease_record(released));
  REQUIRE(r2);
  CHECK(*r2 == released);
}

TEST_CASE("the worked example in LEASE.md decodes", "[lease]") {
  auto r = decode_lease_record(
      "tandem-lease v1 epoch=42 counter=17 released=0 holder=node-a ha=10.0.0.5:61618 crc32c=99bdba8b\n");
  REQUIRE(r);
  CHECK(*r == (lease_record{epoch_t(42), 17, false, "node-a", "10.0.0.5:61618", ""}));
}

TEST_CASE("lease record carries the holder's console address when it has one", "[lease]") {
  auto r = sample();
  r.console = "http://10.0.0.5:8161/";
  auto text = encode_lease_record(r);
  CHECK(text.rfind("tandem-lease v1 epoch=7 counter=42 released=0 holder=node-a ha=10.0.0.5:61617 "
                   "console=http://10.0.0.5:8161/ crc32c=", 0) == 0);
  auto back = decode_lease_record(text);
  REQUIRE(back);
  CHECK(*back == r);

  SECTION("with an empty HA address") {
    r.ha_address = "";
    auto b = decode_lease_record(encode_lease_record(r));
    REQUIRE(b);
    CHECK(*b == r);
  }
  SECTION("without a console the record is the one older nodes write and read") {
    CHECK(encode_lease_record(sample()).find("console") == std::string::npos);
  }
}

TEST_CASE("a record written before the console field existed still decodes", "[lease]") {
  // Bytes as a node without the console field wrote them (the LEASE.md example).
  auto r = decode_lease_record(
      "tandem-lease v1 epoch=42 counter=17 released=0 holder=node-a ha=10.0.0.5:61618 crc32c=99bdba8b\n");
  REQUIRE(r);
  CHECK(r->console.empty());
  CHECK(r->ha_address == "10.0.0.5:61618");
}

TEST_CASE("a record with an unknown or empty trailing field is rejected", "[lease]") {
  // A correct checksum over a body the grammar does not allow: only the grammar refuses it.
  auto reencode = [](const std::string& extra) {
    std::string body = "tandem-lease v1 epoch=7 counter=42 released=0 holder=node-a ha=10.0.0.5:61617" + extra;
    return decode_lease_record(fmt::format("{} crc32c={:08x}\n", body, crc32c::value(body.data(), body.size())));
  };
  REQUIRE(reencode(" console=http://x/"));
  CHECK_FALSE(reencode(" zone=a"));
  CHECK_FALSE(reencode(" console="));
  CHECK_FALSE(reencode(" console=http://x/ zone=a"));
}

TEST_CASE("damaged lease record is rejected, trailing bytes are ignored", "[lease]") {
  auto text = encode_lease_record(sample());
  SECTION("any flipped byte") {
    for (std::size_t i = 0; i + 1 < text.size(); ++i) {
      auto bad = text;
      bad[i] = static_cast<char>(bad[i] ^ 0x01);
      CHECK_FALSE(decode_lease_record(bad));
    }
  }
  SECTION("torn: any prefix") {
    for (std::size_t n = 0; n < text.size(); ++n) CHECK_FALSE(decode_lease_record(text.substr(0, n)));
  }
  SECTION("empty and zero-filled") {
    CHECK_FALSE(decode_lease_record(""));
    CHECK_FALSE(decode_lease_record(std::string(64, '\0')));
  }
  SECTION("leftover bytes of an older, longer record") {
    auto r = decode_lease_record(text + "junk from before\n");
    REQUIRE(r);
    CHECK(*r == sample());
  }
}

TEST_CASE("epoch file names sort like numbers and parse back", "[lease]") {
  CHECK(epoch_file_name(epoch_t(7)) == "epoch-00000000000000000007");
  CHECK(epoch_file_name(epoch_t(UINT64_MAX)) == "epoch-18446744073709551615");
  CHECK(epoch_file_name(epoch_t(9)) < epoch_file_name(epoch_t(10)));
  CHECK(parse_epoch_file_name("epoch-00000000000000000012") == epoch_t(12));
  CHECK_FALSE(parse_epoch_file_name("epoch-12"));
  CHECK_FALSE(parse_epoch_file_name("epoch-0000000000000000001x"));
  CHECK_FALSE(parse_epoch_file_name("epoch-00000000000000000012.tmp"));
  CHECK_FALSE(parse_epoch_file_name("journal-00000000000000000012"));
}

TEST_CASE("lease options: defaults are valid and meet the failover targets", "[lease]") {
  lease_options o;
  o.holder_name = "node-a";
  CHECK_FALSE(validate(o));
  CHECK(o.ttl <= std::chrono::milliseconds(3000));
  // A hung holder costs at most ttl + two poll intervals (see LEASE.md): within ttl + 0.5 s.
  CHECK(2 * o.poll_interval <= std::chrono::milliseconds(500));
  CHECK(fast_takeover_wait(o) < o.ttl);
}

TEST_CASE("lease options: errors name the configuration keys and values", "[lease]") {
  using std::chrono::milliseconds;
  lease_options o;
  o.holder_name = "node-a";
  auto message = [&] { return validate(o).message; };

  SECTION("renew interval too long for the ttl") {
    o.renew_interval = milliseconds(1500);
    CHECK(message() == "ha.renew_interval_ms (1500) must be at most a third of ha.lease_ttl_ms (3000)");
  }
  SECTION("margin leaves no room for a failed renewal") {
    o.safety_margin = milliseconds(2500);
    CHECK(message() ==
          "ha.safety_margin_ms (2500) must be at most ha.lease_ttl_ms (3000) minus twice ha.renew_interval_ms (500)");
  }
  SECTION("zero margin") {
    o.safety_margin = milliseconds(0);
    CHECK(message() == "ha.safety_margin_ms (0) must be positive");
  }
  SECTION("poll slower than renewals") {
    o.poll_interval = milliseconds(600);
    CHECK(message() == "ha.poll_interval_ms (600) must be at most ha.renew_interval_ms (500)");
  }
  SECTION("negative ttl") {
    o.ttl = milliseconds(-1);
    CHECK(message() == "ha.lease_ttl_ms (-1) must be positive");
  }
  SECTION("holder name with a space") {
    o.holder_name = "node a";
    CHECK(message().find("node.name ('node a')") == 0);
  }
  SECTION("empty holder name") {
    o.holder_name = "";
    CHECK(validate(o).code == std::errc::invalid_argument);
  }
  SECTION("address with '='") {
    o.ha_address = "a=b";
    CHECK(message().find("ha.address ('a=b')") == 0);
  }
  SECTION("console URL with a space") {
    o.console_url = "http://node 1/";
    CHECK(message().find("http.public_url ('http://node 1/')") == 0);
  }
}

}  // namespace tandem::storage
