// The lease protocol, driven deterministically: each node is a lease_state_machine with its
// own manual clock (as on its own host) over one real directory, optionally through the
// fault-injecting file system.

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <thread>

#include "storage/fault_injecting_file_system.h"
#include "storage/lease_file.h"
#include "tests/unit/storage/lease_test_support.h"
#include "tests/unit/storage/storage_test_support.h"

namespace tandem::storage::test {
namespace {

const auto ttl = 3000ms;
const auto poll = 100ms;

struct lease_fixture {
  scratch_dir dir;
  posix_file_system fs{dir.path()};
  fault_injecting_file_system faulty{fs};

  std::string epoch_path(std::uint64_t e) const { return dir.file("lease/" + epoch_file_name(epoch_t(e))); }
  std::optional<lease_record> record(std::uint64_t e) {
    auto r = read_lease_record(fs, "lease", epoch_t(e));
    return r ? *r : std::nullopt;
  }
  bool exists(std::uint64_t e) const { return std::filesystem::exists(epoch_path(e)); }
};

// `a` acquires epoch 1 on an empty directory.
void acquire_first(lease_node& a) {
  a.tick();
  REQUIRE(a.holding());
  REQUIRE(a.acquired_epoch() == epoch_t(1));
}

}  // namespace

TEST_CASE("first contender on an empty directory acquires epoch 1 and writes its record", "[lease]") {
  lease_fixture f;
  lease_node a(f.fs, lease_opts("node-a"), 100h);
  acquire_first(a);
  auto rec = f.record(1);
  REQUIRE(rec);
  CHECK(rec->holder == "node-a");
  CHECK(rec->ha_address == "node-a:61617");
  CHECK(rec->counter == 1);
  CHECK_FALSE(rec->released);
  CHECK(a.sm.valid_until() == a.clk.now() + ttl - 500ms);
  auto st = a.sm.observe();
  CHECK(st.role == lease_role::holding);
  CHECK(st.my_epoch == epoch_t(1));
}

TEST_CASE("the standby sees the holder's console address in its record", "[lease]") {
  lease_fixture f;
  auto oa = lease_opts("node-a");
  oa.console_url = "http://10.0.0.5:8161/";
  lease_node a(f.fs, oa, 100h);
  lease_node b(f.fs, lease_opts("node-b"), 7h);
  acquire_first(a);
  run_nodes({&a, &b}, 1s, [&] { return b.sm.observe().record_valid; });
  auto st = b.sm.observe();
  CHECK(st.holder == "node-a");
  CHECK(st.console == "http://10.0.0.5:8161/");
  REQUIRE(f.record(1));
  CHECK(f.record(1)->console == "http://10.0.0.5:8161/");
}

TEST_CASE("an empty or lagging lease directory never hands out an epoch the journal already used", "[lease]") {
  lease_fixture f;
  auto o = lease_opts("node-a");
  o.epoch_floor = epoch_t(7);  // the journal was written by epoch 7 before the lease directory was wiped
  lease_node a(f.fs, o, 100h);
  a.tick();
  REQUIRE(a.holding());
  CHECK(a.acquired_epoch() == epoch_t(8));
  CHECK(f.exists(8));
  CHECK_FALSE(f.exists(1));
}

TEST_CASE("two contenders: exactly one holds, the other stays standby while renewals continue", "[lease]") {
  lease_fixture f;
  lease_node a(f.fs, lease_opts("node-a"), 100h);
  lease_node b(f.fs, lease_opts("node-b"), 7h);
  std::uint64_t last_counter = 0;
  bool counter_always_grew = true;
  // Both start together; run for 20 ttl.
  run_nodes({&a, &b}, 60s, [&] {
    if (a.holding() == b.holding()) return true;  // both or neither: stop and fail below
    auto st = (a.holding() ? b : a).sm.observe();
    if (st.seen && st.record_valid) {
      if (st.counter < last_counter) counter_always_grew = false;
      last_counter = st.counter;
    }
    return false;
  });
  CHECK(a.holding() != b.holding());
  auto& holder = a.holding() ? a : b;
  auto& standby = a.holding() ? b : a;
  CHECK(holder.count(lease_event::kind::acquired) == 1);
  CHECK(holder.count(lease_event::kind::lost) == 0);
  CHECK(standby.events.empty());
  CHECK(counter_always_grew);
  CHECK(last_counter >= 100);  // about one renewal per 500 ms for 60 s
  auto st = standby.sm.observe();
  CHECK(st.newest_epoch == epoch_t(1));
  CHECK(st.holder == holder.sm.options().holder_name);
  CHECK(st.since_change < 1s);
}

TEST_CASE("expiry: a silent holder is taken over after ttl of the contender's own clock, not before", "[lease]") {
  lease_fixture f;
  lease_node a(f.fs, lease_opts("node-a"), 100h);
  acquire_first(a);
  lease_node b(f.fs, lease_opts("node-b"), 3h);
  run_nodes({&a, &b}, 2s);
  a.frozen = true;  // hung: no more renewals
  clock::time_point last_change;
  bool claimed = run_nodes({&a, &b}, 10s, [&] {
    if (!b.holding()) last_change = b.last_change();
    return b.holding();
  });
  REQUIRE(claimed);
  CHECK(b.acquired_epoch() == epoch_t(2));
  auto waited = b.clk.now() - last_change;
  CHECK(waited >= ttl);
  CHECK(waited < ttl + poll + 10ms);
  // Both clocks ran at the same rate: the frozen holder's validity ended at least one safety
  // margin before the takeover.
  CHECK(a.sm.valid_until() + 500ms <= a.clk.now());
}

TEST_CASE("a holder that dies right after creating its epoch is taken over after ttl", "[lease]") {
  lease_fixture f;
  std::filesystem::create_directories(f.dir.file("lease"));
  std::ofstream(f.epoch_path(1)).close();  // created, no record ever written
  lease_node b(f.fs, lease_opts("node-b"), 3h);
  auto start = b.clk.now();
  REQUIRE(run_nodes({&b}, 10s, [&] { return b.holding(); }));
  CHECK(b.acquired_epoch() == epoch_t(2));
  CHECK(b.clk.now() - start >= ttl);
}

TEST_CASE("a heartbeat change is dated after the read that saw it, not when the poll began", "[lease]") {
  lease_fixture f;
  lease_node a(f.fs, lease_opts("node-a"), 100h);
  acquire_first(a);
  lease_node b(f.faulty, lease_opts("node-b"), 3h);
  auto poll_started = b.clk.now();
  f.faulty.stall(fault_op::read);
  std::thread polling([&] { b.tick(); });
  f.faulty.wait_stalled(fault_op::read, 1);
  b.clk.advance(2s);  // the read is slow: the record it returns may have been written just now
  f.faulty.release(fault_op::read);
  polling.join();
  CHECK(b.last_change() == poll_started + 2s);
  CHECK(b.sm.observe().since_change == 0ms);
}

TEST_CASE("a garbled record counts as no change of the heartbeat", "[lease]") {
  lease_fixture f;
  lease_node a(f.fs, lease_opts("node-a"), 100h);
  acquire_first(a);
  lease_node b(f.fs, lease_opts("node-b"), 3h);
  run_nodes({&a, &b}, 1s);
  a.frozen = true;
  auto seen_at = b.clk.now();  // b has seen a's last counter by now (it polls every 100 ms)
  {
    std::ofstream out(f.epoch_path(1), std::ios::in | std::ios::out);
    out << "garbage garbage garbage";
  }
  REQUIRE(run_nodes({&a, &b}, 10s, [&] { return b.holding(); }));
  CHECK(b.clk.now() - seen_at >= ttl - 500ms);  // counted from the last valid change
  CHECK(b.clk.now() - seen_at <= ttl);
}

TEST_CASE("a suspended holder that resumes reports lost before any I/O, then sees the newer epoch", "[lease]") {
  lease_fixture f;
  lease_node a(f.faulty, lease_opts("node-a"), 100h);
  acquire_first(a);
  lease_node b(f.fs, lease_opts("node-b"), 3h);
  run_nodes({&a, &b}, 1s);
  a.frozen = true;  // SIGSTOP: a does nothing; its monotonic clock keeps running
  REQUIRE(run_nodes({&a, &b}, 10s, [&] { return b.holding(); }));
  a.clk.advance(5s);
  REQUIRE(a.clk.now() >= a.sm.valid_until());

  auto writes = f.faulty.calls(fault_op::write);
  auto opens = f.faulty.calls(fault_op::open);
  a.frozen = false;
  auto ev = a.tick();  // SIGCONT: first thing it does
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].what == lease_event::kind::lost);
  CHECK(ev[0].epoch == epoch_t(1));
  CHECK(ev[0].reason.find("validity ended") != std::string::npos);
  CHECK(f.faulty.calls(fault_op::write) == writes);
  CHECK(f.faulty.calls(fault_op::open) == opens);
  CHECK_FALSE(a.holding());
  CHECK(a.sm.valid_until() == clock::time_point::min());

  a.tick();
  auto st = a.sm.observe();
  CHECK(st.role == lease_role::standby);
  CHECK(st.newest_epoch == epoch_t(2));
  CHECK(st.holder == "node-b");
  CHECK(b.holding());
}

TEST_CASE("failing storage: the holder loses the lease at valid_until, not earlier", "[lease]") {
  lease_fixture f;
  lease_node a(f.faulty, lease_opts("node-a"), 100h);
  acquire_first(a);
  run_nodes({&a}, 1s);
  auto valid_until = a.sm.valid_until();
  SECTION("every write fails") { f.faulty.fail_next(fault_op::write, 1000000); }
  SECTION("every call fails") { f.faulty.set_down(true); }
  run_nodes({&a}, 10s, [&] {
    if (a.clk.now() < valid_until) {
      REQUIRE(a.holding());
      REQUIRE(a.sm.valid_until() == valid_until);  // failed renewals never extend
    }
    return !a.holding();
  });
  CHECK_FALSE(a.holding());
  REQUIRE(a.count(lease_event::kind::lost) == 1);
  CHECK(a.clk.now() == valid_until);  // lost at the first tick at or after valid_until
  CHECK(a.last_lost_reason().find("validity ended") != std::string::npos);
  CHECK(a.sm.observe().last_error.find("injected") != std::string::npos);
}

TEST_CASE("a renewal failure in between is absorbed by the next renewal", "[lease]") {
  lease_fixture f;
  lease_node a(f.faulty, lease_opts("node-a"), 100h);
  acquire_first(a);
  f.faulty.fail_next(fault_op::sync, 2);
  run_nodes({&a}, 10s);
  CHECK(a.holding());
  CHECK(a.count(lease_event::kind::lost) == 0);
  CHECK(a.sm.valid_until() > a.clk.now());
}

TEST_CASE("a holder that sees a newer epoch loses the lease at once, even while valid", "[lease]") {
  lease_fixture f;
  lease_node a(f.fs, lease_opts("node-a"), 100h);
  acquire_first(a);
  run_nodes({&a}, 1s);
  std::ofstream(f.epoch_path(2)).close();  // e.g. a fast-path takeover by the peer
  REQUIRE(a.clk.now() < a.sm.valid_until());
  run_nodes({&a}, 1s, [&] { return !a.holding(); });
  CHECK_FALSE(a.holding());
  CHECK(a.last_lost_reason().find("epoch 2 exists") != std::string::npos);
  CHECK(a.sm.valid_until() == clock::time_point::min());
}

TEST_CASE("a holder whose epoch file was removed loses the lease at its next renewal", "[lease]") {
  lease_fixture f;
  lease_node a(f.fs, lease_opts("node-a"), 100h);
  acquire_first(a);
  std::filesystem::remove(f.epoch_path(1));
  run_nodes({&a}, 1s, [&] { return !a.holding(); });
  CHECK_FALSE(a.holding());
  CHECK(a.last_lost_reason().find("was removed") != std::string::npos);
}

TEST_CASE("stalled storage: a renewal that completes after valid_until does not extend it", "[lease]") {
  lease_fixture f;
  lease_node a(f.faulty, lease_opts("node-a"), 100h);
  acquire_first(a);
  run_nodes({&a}, 1s);
  auto valid_until = a.sm.valid_until();
  a.clk.set(a.sm.next_tick_at());
  f.faulty.stall(fault_op::write);
  std::vector<lease_event> ev;
  std::thread renewing([&] { ev = a.sm.tick(); });
  f.faulty.wait_stalled(fault_op::write, 1);

  a.clk.advance(5s);  // storage hangs for 5 s
  // Readable while the lease thread is stuck in I/O: the broker stops acknowledging.
  CHECK(a.sm.valid_until() == valid_until);
  CHECK(a.clk.now() > a.sm.valid_until());
  f.faulty.release(fault_op::write);
  renewing.join();

  REQUIRE(ev.size() == 1);
  CHECK(ev[0].what == lease_event::kind::lost);
  CHECK(ev[0].reason.find("renewal completed") != std::string::npos);
  CHECK(a.sm.valid_until() == clock::time_point::min());
}

TEST_CASE("stalled storage: a slow renewal that completes in time keeps the lease", "[lease]") {
  lease_fixture f;
  lease_node a(f.faulty, lease_opts("node-a"), 100h);
  acquire_first(a);
  run_nodes({&a}, 1s);
  a.clk.set(a.sm.next_tick_at());
  auto started = a.clk.now();
  f.faulty.stall(fault_op::sync);
  std::vector<lease_event> ev;
  std::thread renewing([&] { ev = a.sm.tick(); });
  f.faulty.wait_stalled(fault_op::sync, 1);
  a.clk.advance(1s);
  f.faulty.release(fault_op::sync);
  renewing.join();
  CHECK(ev.empty());
  CHECK(a.holding());
  CHECK(a.sm.valid_until() == started + ttl - 500ms);  // counted from the start of the renewal
}

TEST_CASE("release: the standby claims at once and the releaser stands by", "[lease]") {
  lease_fixture f;
  lease_node a(f.fs, lease_opts("node-a"), 100h);
  acquire_first(a);
  lease_node b(f.fs, lease_opts("node-b"), 3h);
  run_nodes({&a, &b}, 2s);
  REQUIRE_FALSE(b.holding());

  REQUIRE_FALSE(a.sm.release());
  CHECK_FALSE(a.holding());
  CHECK(a.sm.valid_until() == clock::time_point::min());
  auto rec = f.record(1);
  REQUIRE(rec);
  CHECK(rec->released);

  auto released_at = b.clk.now();
  REQUIRE(run_nodes({&a, &b}, 5s, [&] { return b.holding(); }));
  CHECK(b.clk.now() - released_at <= poll);  // the next poll
  CHECK(b.acquired_epoch() == epoch_t(2));
  CHECK(a.count(lease_event::kind::lost) == 0);  // a release is not a loss
  run_nodes({&a, &b}, 10s);
  CHECK_FALSE(a.holding());
  CHECK(a.sm.observe().holder == "node-b");
}

TEST_CASE("release: with no peer, the releaser retakes the lease only after ttl", "[lease]") {
  lease_fixture f;
  lease_node a(f.fs, lease_opts("node-a"), 100h);
  acquire_first(a);
  run_nodes({&a}, 1s);
  REQUIRE_FALSE(a.sm.release());
  auto released_at = a.clk.now();
  REQUIRE(run_nodes({&a}, 10s, [&] { return a.holding(); }));
  CHECK(a.clk.now() - released_at >= ttl);
  CHECK(a.acquired_epoch() == epoch_t(2));
}

TEST_CASE("fast path: holder presumed dead and heartbeat unchanged for a renew interval is taken over early",
          "[lease]") {
  lease_fixture f;
  lease_node a(f.fs, lease_opts("node-a"), 100h);
  acquire_first(a);
  lease_node b(f.fs, lease_opts("node-b"), 3h);
  run_nodes({&a, &b}, 2s);
  a.frozen = true;  // killed: no renewals
  b.sm.holder_presumed_dead(epoch_t(1));
  clock::time_point last_change;
  REQUIRE(run_nodes({&a, &b}, 10s, [&] {
    if (!b.holding()) last_change = b.last_change();
    return b.holding();
  }));
  auto waited = b.clk.now() - last_change;
  CHECK(waited >= fast_takeover_wait(b.sm.options()));
  CHECK(waited < ttl);
  CHECK(b.acquired_epoch() == epoch_t(2));
}

TEST_CASE("fast path: presumed dead but heartbeat still moving is not taken over", "[lease]") {
  lease_fixture f;
  lease_node a(f.fs, lease_opts("node-a"), 100h);
  acquire_first(a);
  lease_node b(f.fs, lease_opts("node-b"), 3h);
  run_nodes({&a, &b}, 1s);
  b.sm.holder_presumed_dead(epoch_t(1));  // a forged refusal: a is alive and renewing
  run_nodes({&a, &b}, 20s);
  CHECK(a.holding());
  CHECK_FALSE(b.holding());
  CHECK(b.events.empty());
}

TEST_CASE("fast path: a hint for an older epoch, or with fast takeover off, waits the full ttl", "[lease]") {
  lease_fixture f;
  lease_node a(f.fs, lease_opts("node-a"), 100h);
  acquire_first(a);
  auto opts = lease_opts("node-b");
  epoch_t hint(1);
  SECTION("fast takeover disabled") { opts.fast_takeover = false; }
  SECTION("hint names another epoch") { hint = epoch_t(7); }
  lease_node b(f.fs, opts, 3h);
  run_nodes({&a, &b}, 1s);
  a.frozen = true;
  b.sm.holder_presumed_dead(hint);
  clock::time_point last_change;
  REQUIRE(run_nodes({&a, &b}, 10s, [&] {
    if (!b.holding()) last_change = b.last_change();
    return b.holding();
  }));
  CHECK(b.clk.now() - last_change >= ttl);
}

TEST_CASE("wall-clock timestamps are irrelevant: file times in the past or future change nothing", "[lease]") {
  lease_fixture f;
  lease_node a(f.fs, lease_opts("node-a"), 100h);
  acquire_first(a);
  lease_node b(f.fs, lease_opts("node-b"), 3h);
  auto stamp = GENERATE(-1000000, 1000000);  // hours: decades ago / ahead
  run_nodes({&a, &b}, 1s, [&] {
    std::filesystem::last_write_time(f.epoch_path(1), std::filesystem::file_time_type::clock::now() +
                                                          std::chrono::hours(stamp));
    return false;
  });
  CHECK_FALSE(b.holding());  // a file that "looks" ancient is not expired
  a.frozen = true;
  clock::time_point last_change;
  REQUIRE(run_nodes({&a, &b}, 10s, [&] {
    if (!b.holding()) last_change = b.last_change();
    return b.holding();
  }));
  CHECK(b.clk.now() - last_change >= ttl);  // nor is one from the future kept alive
}

TEST_CASE("old epoch files are removed by the holder, keeping the last few", "[lease]") {
  lease_fixture f;
  std::filesystem::create_directories(f.dir.file("lease"));
  for (int e = 1; e <= 10; ++e) std::ofstream(f.epoch_path(e)).close();
  lease_node b(f.fs, lease_opts("node-b"), 3h);
  REQUIRE(run_nodes({&b}, 10s, [&] { return b.holding(); }));
  CHECK(b.acquired_epoch() == epoch_t(11));
  std::vector<std::string> left;
  for (auto& e : std::filesystem::directory_iterator(f.dir.file("lease"))) left.push_back(e.path().filename());
  std::sort(left.begin(), left.end());
  REQUIRE(left.size() == 5);
  CHECK(left.front() == epoch_file_name(epoch_t(7)));
  CHECK(left.back() == epoch_file_name(epoch_t(11)));
}

}  // namespace tandem::storage::test
