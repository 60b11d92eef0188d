// The lease under real threads and the real monotonic clock: the exclusive-create race and
// the threaded `lease` class end to end with short timings. Assertions are on outcomes
// (who holds which epoch), never on durations; waits are bounded only to fail instead of hang.

#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <latch>
#include <mutex>
#include <thread>

#include "storage/fault_injecting_file_system.h"
#include "storage/lease.h"
#include "tests/unit/storage/lease_test_support.h"
#include "tests/unit/storage/storage_test_support.h"

namespace tandem::storage::test {
namespace {

lease_options short_opts(std::string name) {
  auto o = lease_opts(std::move(name));
  o.ttl = 300ms;
  o.renew_interval = 50ms;
  o.safety_margin = 50ms;
  o.poll_interval = 10ms;
  return o;
}

// Records a lease's callbacks; wait() blocks until a predicate over them holds.
class lease_events {
 public:
  std::function<void(epoch_t)> on_acquired() {
    return [this](epoch_t e) {
      std::lock_guard lk(mu_);
      acquired_.push_back(e);
      cv_.notify_all();
    };
  }
  std::function<void(std::string)> on_lost() {
    return [this](std::string reason) {
      std::lock_guard lk(mu_);
      lost_.push_back(std::move(reason));
      cv_.notify_all();
    };
  }
  // Bounded so a broken lease fails the test rather than hanging it (not a timing assertion).
  template <typename Pred>
  bool wait(Pred p) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, 30s, [&] { return p(acquired_, lost_); });
  }
  std::vector<epoch_t> acquired() const {
    std::lock_guard lk(mu_);
    return acquired_;
  }
  std::vector<std::string> lost() const {
    std::lock_guard lk(mu_);
    return lost_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<epoch_t> acquired_;
  std::vector<std::string> lost_;
};

// Polls a condition that no callback signals (e.g. which of two leases holds). Bounded so a
// broken lease fails the test rather than hanging it.
template <typename Pred>
bool eventually(Pred p) {
  for (int i = 0; i < 6000; ++i) {
    if (p()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return p();
}

auto acquired_any = [](const std::vector<epoch_t>& a, const std::vector<std::string>&) { return !a.empty(); };

}  // namespace

TEST_CASE("exclusive create race: two threads on an empty directory, exactly one winner, 200 times", "[lease]") {
  scratch_dir dir;
  posix_file_system fs(dir.path());
  int single_winner = 0;
  for (int i = 0; i < 200; ++i) {
    auto o1 = lease_opts("node-a"), o2 = lease_opts("node-b");
    o1.directory = o2.directory = "race-" + std::to_string(i);
    lease_state_machine a(fs, o1, clock::steady()), b(fs, o2, clock::steady());
    std::latch go(2);
    std::thread ta([&] { go.arrive_and_wait(); a.tick(); });
    std::thread tb([&] { go.arrive_and_wait(); b.tick(); });
    ta.join();
    tb.join();
    if (a.holding() != b.holding()) ++single_winner;
    auto& w = a.holding() ? a : b;
    CHECK(w.observe().my_epoch == epoch_t(1));
  }
  CHECK(single_winner == 200);
}

TEST_CASE("threaded lease: one of two acquires, the other takes over when it stops, then after a release",
          "[lease]") {
  scratch_dir dir;
  posix_file_system fs(dir.path());
  auto a = lease::create(fs, short_opts("node-a"));
  auto b = lease::create(fs, short_opts("node-b"));
  REQUIRE(a);
  REQUIRE(b);
  lease_events ea, eb;
  (*a)->start(ea.on_acquired(), ea.on_lost());
  (*b)->start(eb.on_acquired(), eb.on_lost());
  REQUIRE(eventually([&] { return (*a)->holding() || (*b)->holding(); }));

  auto* holder = (*a)->holding() ? a->get() : b->get();
  auto* standby = holder == a->get() ? b->get() : a->get();
  auto& eh = holder == a->get() ? ea : eb;
  auto& es = holder == a->get() ? eb : ea;
  CHECK(eh.acquired() == std::vector<epoch_t>{epoch_t(1)});
  CHECK(holder->valid_now());
  CHECK_FALSE(standby->holding());
  CHECK_FALSE(standby->valid_now());

  // The holder stops without releasing (as if it hung): the standby takes over after ttl.
  holder->stop();
  CHECK_FALSE(holder->valid_now());
  REQUIRE(es.wait(acquired_any));
  CHECK(es.acquired() == std::vector<epoch_t>{epoch_t(2)});
  CHECK(standby->valid_now());

  // A third node; the active releases; the new node claims at once (no lost callback).
  auto c = lease::create(fs, short_opts("node-c"));
  REQUIRE(c);
  lease_events ec;
  (*c)->start(ec.on_acquired(), ec.on_lost());
  REQUIRE_FALSE(standby->release());
  CHECK_FALSE(standby->valid_now());
  REQUIRE(ec.wait(acquired_any));
  CHECK(ec.acquired() == std::vector<epoch_t>{epoch_t(3)});
  CHECK(es.lost().empty());
  CHECK((*c)->observe().holder == "node-c");
  standby->stop();
  (*c)->stop();
  CHECK(eh.lost().empty());  // stop() is not a loss either
}

TEST_CASE("threaded lease: a holder that loses its storage calls on_lost and the peer takes over", "[lease]") {
  scratch_dir dir;
  posix_file_system fs(dir.path());
  fault_injecting_file_system faulty(fs);
  auto a = lease::create(faulty, short_opts("node-a"));
  REQUIRE(a);
  lease_events ea;
  (*a)->start(ea.on_acquired(), ea.on_lost());
  REQUIRE(ea.wait(acquired_any));

  auto b = lease::create(fs, short_opts("node-b"));
  REQUIRE(b);
  lease_events eb;
  (*b)->start(eb.on_acquired(), eb.on_lost());
  faulty.set_down(true);
  REQUIRE(ea.wait([](auto&, auto& lost) { return !lost.empty(); }));
  CHECK_FALSE((*a)->valid_now());
  CHECK(ea.lost().front().find("validity ended") != std::string::npos);
  REQUIRE(eb.wait(acquired_any));
  CHECK(eb.acquired() == std::vector<epoch_t>{epoch_t(2)});

  // Storage comes back: the old holder now stands by behind the new one.
  faulty.set_down(false);
  REQUIRE(eventually([&] {
    auto st = (*a)->observe();
    return st.record_valid && st.newest_epoch == epoch_t(2) && st.last_error.empty();
  }));
  CHECK_FALSE((*a)->holding());
  CHECK(ea.acquired().size() == 1);
}

TEST_CASE("threaded lease: a holder stuck in a storage call is reported lost at valid_until, once", "[lease]") {
  scratch_dir dir;
  posix_file_system fs(dir.path());
  fault_injecting_file_system faulty(fs);
  auto a = lease::create(faulty, short_opts("node-a"));
  REQUIRE(a);
  lease_events ea;
  (*a)->start(ea.on_acquired(), ea.on_lost());
  REQUIRE(ea.wait(acquired_any));

  faulty.stall(fault_op::write);  // the next renewal hangs, like a hard NFS mount
  faulty.wait_stalled(fault_op::write, 1);
  // Reported by the watchdog while the lease thread is still blocked in the write.
  REQUIRE(ea.wait([](auto&, auto& lost) { return !lost.empty(); }));
  CHECK(ea.lost().front().find("storage call still in progress") != std::string::npos);
  CHECK_FALSE((*a)->valid_now());
  CHECK_FALSE((*a)->holding());

  auto lists = faulty.calls(fault_op::list);
  faulty.release(fault_op::write);
  // The lease thread returns, gives the epoch up without a second report, and stands by.
  REQUIRE(eventually([&] { return faulty.calls(fault_op::list) > lists + 2; }));
  CHECK(ea.lost().size() == 1);
  (*a)->stop();
  CHECK(ea.lost().size() == 1);
}

TEST_CASE("threaded lease: stop() from a callback ends the lease without deadlock", "[lease]") {
  scratch_dir dir;
  posix_file_system fs(dir.path());
  auto a = lease::create(fs, short_opts("node-a"));
  REQUIRE(a);
  lease_events ea;
  auto record = ea.on_acquired();
  (*a)->start([&](epoch_t e) { (*a)->stop(); record(e); }, ea.on_lost());
  REQUIRE(ea.wait(acquired_any));
  CHECK_FALSE((*a)->valid_now());
  CHECK_FALSE((*a)->holding());
  a->reset();  // joins the threads
  CHECK(ea.lost().empty());
}

TEST_CASE("threaded lease: invalid options are refused with the key names", "[lease]") {
  scratch_dir dir;
  posix_file_system fs(dir.path());
  auto o = short_opts("node-a");
  o.renew_interval = 200ms;
  auto l = lease::create(fs, o);
  REQUIRE_FALSE(l);
  CHECK(l.err().message == "ha.renew_interval_ms (200) must be at most a third of ha.lease_ttl_ms (300)");
}

}  // namespace tandem::storage::test
