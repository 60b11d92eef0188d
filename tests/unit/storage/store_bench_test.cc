// Measurements, not assertions on time: run with
//   storage_tests "[.bench]"          (TANDEM_BENCH_DIR picks the disk, default /work/tmp)
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "common/log.h"
#include "tests/unit/storage/store_test_support.h"

using namespace tandem::storage;
using namespace tandem::storage::test;

namespace {

std::string bench_root() {
  const char* env = std::getenv("TANDEM_BENCH_DIR");
  std::string root = env ? env : "/work/tmp";
  std::filesystem::create_directories(root);
  return root;
}

struct bench_dir {
  std::string path;
  bench_dir() {
    std::string tmpl = bench_root() + "/tandem-bench-XXXXXX";
    path = ::mkdtemp(tmpl.data());
  }
  ~bench_dir() { std::filesystem::remove_all(path); }
};

// One caller thread keeps up to `window` writes in flight (like the broker's event loop
// with `window` producers each waiting for its receipt). Returns messages per second.
double run(store& s, int count, int window, std::size_t body_size) {
  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0, done = 0;
  std::string body(body_size, 'x');
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < count; ++i) {
    {
      std::unique_lock lk(mu);
      cv.wait(lk, [&] { return in_flight < window; });
      ++in_flight;
    }
    batch b;
    b.add_message(make_message("/queue/bench", body, "p", static_cast<std::uint64_t>(i)));
    auto ec = s.write(b, [&](std::error_code) {
      std::lock_guard lk(mu);
      --in_flight;
      ++done;
      cv.notify_all();
    });
    REQUIRE_FALSE(ec);
  }
  std::unique_lock lk(mu);
  cv.wait(lk, [&] { return done == count; });
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return count / secs;
}

}  // namespace

TEST_CASE("bench: group commit throughput with 1 and 8 producers", "[.bench]") {
  tandem::log::set_level(tandem::log::level::warn);
  posix_file_system fs;
  for (int window : {1, 8, 64}) {
    bench_dir dir;
    store_options o;
    o.directory = dir.path;
    auto s = open_store(fs, o);
    int count = window == 1 ? 3000 : 20000;
    auto before = s->stats();
    double rate = run(*s, count, window, 100);
    auto after = s->stats();
    std::printf("producers=%d: %.0f msgs/s, %.2f appends per fsync\n", window, rate,
                double(after.appends - before.appends) / double(after.fsyncs - before.fsyncs));
  }
  {
    bench_dir dir;
    store_options o;
    o.directory = dir.path;
    auto s = open_store(fs, o);
    double rate = run(*s, 100000, 2000, 1024);
    std::printf("streaming 1 KiB, 2000 in flight: %.0f msgs/s\n", rate);
  }
}

TEST_CASE("bench: reopening a store with 1M pending 1 KiB messages", "[.bench]") {
  tandem::log::set_level(tandem::log::level::warn);
  posix_file_system fs;
  bench_dir dir;
  store_options o;
  o.directory = dir.path;
  {
    auto s = open_store(fs, o);
    double rate = run(*s, 1000000, 4000, 1024);
    std::printf("wrote 1,000,000 x 1 KiB at %.0f msgs/s; %llu bytes on disk, %llu checkpoints\n", rate,
                static_cast<unsigned long long>(s->stats().bytes_on_disk),
                static_cast<unsigned long long>(s->stats().checkpoints));
    auto t0 = std::chrono::steady_clock::now();
    s->close();
    std::printf("close (final checkpoint): %.0f ms\n",
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  auto t0 = std::chrono::steady_clock::now();
  auto s = open_store(fs, o);
  double wall = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::printf("reopen: %.0f ms wall (recovery_ms %.0f), %zu pending in /queue/bench, %llu records replayed\n", wall,
              s->recovered().recovery_ms, s->recovered().containers.at("/queue/bench").size(),
              static_cast<unsigned long long>(s->recovered().records_replayed));
  REQUIRE(s->recovered().containers.at("/queue/bench").size() == 1000000);
  s.reset();

  // The same backlog after a crash: recovery replays the tail written since the last
  // checkpoint (up to checkpoint_every_bytes, 256 MiB by default).
  fault_injecting_file_system faulty(fs);
  s = open_store(faulty, o);
  run(*s, 200000, 4000, 1024);
  crash(s, faulty);
  t0 = std::chrono::steady_clock::now();
  s = open_store(fs, o);
  wall = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::printf("reopen after a crash: %.0f ms wall, %zu pending, %llu records replayed\n", wall,
              s->recovered().containers.at("/queue/bench").size(),
              static_cast<unsigned long long>(s->recovered().records_replayed));
  REQUIRE(s->recovered().containers.at("/queue/bench").size() == 1200000);
  s->close();
}
