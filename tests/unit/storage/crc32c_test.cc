#include <catch2/catch.hpp>

#include <string>

#include "storage/crc32c.h"

using namespace tandem::storage;

TEST_CASE("crc32c matches the standard check values", "[crc32c]") {
  REQUIRE(crc32c::value("123456789", 9) == 0xe3069283u);
  std::string zeros(32, '\0');
  REQUIRE(crc32c::value(zeros.data(), zeros.size()) == 0x8a9136aau);
  std::string ones(32, '\xff');
  REQUIRE(crc32c::value(ones.data(), ones.size()) == 0x62a8ab43u);
}

TEST_CASE("crc32c hardware and table paths agree, and extend composes", "[crc32c]") {
  std::string data;
  for (int i = 0; i < 1000; ++i) data.push_back(static_cast<char>(i * 7 + 3));
  for (std::size_t n : {0u, 1u, 7u, 8u, 9u, 63u, 64u, 999u, 1000u}) {
    REQUIRE(crc32c::value(data.data(), n) == crc32c::extend_portable(0, data.data(), n));
  }
  auto whole = crc32c::value(data.data(), data.size());
  REQUIRE(crc32c::extend(crc32c::value(data.data(), 333), data.data() + 333, data.size() - 333) == whole);
}

TEST_CASE("masked crc differs from the crc and unmasks back", "[crc32c]") {
  std::uint32_t crc = crc32c::value("foo", 3);
  REQUIRE(crc32c::mask(crc) != crc);
  REQUIRE(crc32c::mask(crc32c::mask(crc)) != crc);
  REQUIRE(crc32c::unmask(crc32c::mask(crc)) == crc);
  REQUIRE(crc32c::unmask(crc32c::unmask(crc32c::mask(crc32c::mask(crc)))) == crc);
}
