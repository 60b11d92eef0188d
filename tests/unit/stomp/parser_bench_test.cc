// Throughput of the parser on 1 KiB SEND frames. Hidden tag: run explicitly with
//   stomp_tests "[.bench]"
// It prints frames/s; it asserts only that every frame came out (no timed assertions).

#include <catch2/catch.hpp>

#include <chrono>
#include <iostream>

#include "stomp/encoder.h"
#include "stomp/parser.h"

using namespace tandem::stomp;

TEST_CASE("parser throughput on 1 KiB SEND frames", "[.bench][stomp]") {
  frame f{"SEND",
          {{"destination", "/queue/orders"},
           {"persistent", "true"},
           {"receipt", "r-123456"},
           {"content-type", "application/json"},
           {"priority", "4"}},
          std::string(1024, 'x')};
  std::string wire;
  for (int i = 0; i < 1000; ++i) encode(f, version::v1_2, wire);  // ~1.2 MB
  constexpr std::size_t read_size = 64 * 1024;                      // one socket read
  constexpr int rounds = 200;                                        // 200,000 frames

  parser p({}, version::v1_2);
  std::size_t frames = 0, bytes = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int round = 0; round < rounds; ++round) {
    for (std::size_t at = 0; at < wire.size(); at += read_size) {
      const std::size_t n = std::min(read_size, wire.size() - at);
      p.feed(wire.data() + at, n);
      bytes += n;
      for (;;) {
        auto r = p.next();
        REQUIRE(r);
        if (!*r) break;
        ++frames;
      }
    }
  }
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  REQUIRE(frames == 1000u * rounds);
  std::cout << "parsed " << frames << " frames (" << bytes / (1 << 20) << " MiB) in "
            << elapsed.count() << " s: " << static_cast<long>(frames / elapsed.count())
            << " frames/s, " << static_cast<long>(bytes / elapsed.count() / (1 << 20))
            << " MiB/s\n";

  std::string out;
  const auto enc_start = std::chrono::steady_clock::now();
  for (int i = 0; i < 200000; ++i) {
    out.clear();
    encode(f, version::v1_2, out);
  }
  const std::chrono::duration<double> enc = std::chrono::steady_clock::now() - enc_start;
  std::cout << "encoded 200000 frames in " << enc.count() << " s: "
            << static_cast<long>(200000 / enc.count()) << " frames/s\n";
}
