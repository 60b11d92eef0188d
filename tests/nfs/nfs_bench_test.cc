// Latency and throughput of the nfs backend against a local Ganesha, next to posix on /tmp.
// Hidden from ctest (tag [.bench]); run:  build-nfs/tests/nfs_tests "[.bench]"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <vector>

#include <fmt/format.h>

#include "storage/nfs_file_system.h"
#include "tests/support/ganesha_server.h"

using namespace tandem::storage;
using tandem::test::ganesha_server;
using bench_clock = std::chrono::steady_clock;

namespace {

double us_since(bench_clock::time_point t) {
  return std::chrono::duration<double, std::micro>(bench_clock::now() - t).count();
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}

void run(const std::string& label, file_system& fs) {
  // 4 KiB pwrite + fsync, as the journal's group commit does for a lone producer.
  const std::string block(4096, 'x');
  auto f = fs.open("bench-latency", open_mode::create_exclusive);
  REQUIRE(f.ok());
  std::vector<double> lat;
  for (int i = 0; i < 1000; ++i) {
    auto t = bench_clock::now();
    REQUIRE_FALSE((*f)->write_at(static_cast<std::uint64_t>(i) * block.size(), block.data(), block.size()));
    REQUIRE_FALSE((*f)->sync());
    lat.push_back(us_since(t));
  }
  // Streaming: 1 MiB writes, fsync every 8 MiB, 64 MiB in all.
  const std::string chunk(1 << 20, 'y');
  auto g = fs.open("bench-stream", open_mode::create_exclusive);
  REQUIRE(g.ok());
  auto t0 = bench_clock::now();
  for (int i = 0; i < 64; ++i) {
    REQUIRE_FALSE((*g)->write_at(static_cast<std::uint64_t>(i) * chunk.size(), chunk.data(), chunk.size()));
    if (i % 8 == 7) REQUIRE_FALSE((*g)->sync());
  }
  double mib_s = 64.0 / (us_since(t0) / 1e6);
  // Metadata: stat, open+close, rename.
  std::vector<double> st, oc, rn;
  for (int i = 0; i < 300; ++i) {
    auto t = bench_clock::now();
    REQUIRE(fs.stat("bench-latency").ok());
    st.push_back(us_since(t));
    t = bench_clock::now();
    { REQUIRE(fs.open("bench-latency", open_mode::read_only).ok()); }
    oc.push_back(us_since(t));
    t = bench_clock::now();
    REQUIRE_FALSE(fs.rename(i % 2 ? "bench-renamed" : "bench-stream", i % 2 ? "bench-stream" : "bench-renamed"));
    rn.push_back(us_since(t));
  }
  std::cout << fmt::format("{:<10} 4KiB write+fsync p50 {:6.0f} us p99 {:6.0f} us | stream {:7.1f} MiB/s | "
                           "stat {:5.0f} us  open+close {:5.0f} us  rename {:5.0f} us\n",
                           label, percentile(lat, 0.5), percentile(lat, 0.99), mib_s, percentile(st, 0.5),
                           percentile(oc, 0.5), percentile(rn, 0.5));
}

}  // namespace

TEST_CASE("nfs backend speed next to posix", "[.bench]") {
  ganesha_server server;
  {
    char tmpl[] = "/tmp/tandem-nfs-bench-XXXXXX";
    REQUIRE(::mkdtemp(tmpl));
    posix_file_system local(tmpl);
    run("posix/tmp", local);
    std::filesystem::remove_all(tmpl);
  }
  for (int v : {3, 4}) {
    auto fs = nfs_file_system::open(server.url(v));
    REQUIRE(fs.ok());
    run(fmt::format("nfs v{}", v), **fs);
    for (auto name : {"bench-latency", "bench-stream"}) REQUIRE_FALSE((*fs)->remove(name));
  }
}

TEST_CASE("how long calls take against a frozen and a killed server", "[.bench]") {
  ganesha_server server;
  for (int v : {3, 4}) {
    auto fs = nfs_file_system::open(server.url(v, 1000));
    REQUIRE(fs.ok());
    auto f = (*fs)->open(fmt::format("timing-{}", v), open_mode::create_exclusive);
    REQUIRE(f.ok());
    REQUIRE_FALSE((*f)->write_at(0, "x", 1));
    server.freeze();
    auto t = bench_clock::now();
    auto w = (*f)->write_at(1, "y", 1);
    double write_ms = us_since(t) / 1000;
    t = bench_clock::now();
    auto st = (*fs)->stat("timing");
    double stat_ms = us_since(t) / 1000;
    server.thaw();
    server.kill();
    t = bench_clock::now();
    auto k = (*fs)->stat("timing");
    double killed_ms = us_since(t) / 1000;
    server.restart();
    t = bench_clock::now();
    auto back = (*f)->write_at(1, "z", 1);
    double back_ms = us_since(t) / 1000;
    std::cout << fmt::format("nfs v{} timeout 1000 ms: frozen write {:.0f} ms ({}), frozen stat {:.0f} ms, "
                             "killed stat {:.1f} ms ({}), first write after restart {:.1f} ms ({})\n",
                             v, write_ms, w.describe(), stat_ms, killed_ms, k.err().describe(), back_ms,
                             back ? back.describe() : "ok");
  }
}
