#include <catch2/catch.hpp>

#include <algorithm>
#include <future>

#include "tests/unit/storage/store_test_support.h"

using namespace tandem::storage;
using namespace tandem::storage::test;

namespace {
store_options with_epoch(const scratch_dir& dir, std::uint64_t epoch) {
  store_options o;
  o.directory = dir.path();
  o.epoch = epoch_t(epoch);
  o.segment_bytes = 4096;
  return o;
}

std::vector<std::string> bodies(store& s, const std::string& container) {
  std::vector<std::string> out;
  for (auto seq : pending_seqs(s.recovered(), container)) out.push_back(s.read_message(message_seq(seq))->body);
  return out;
}
}  // namespace

TEST_CASE("stale active cannot append after takeover", "[store][fencing]") {
  scratch_dir dir;
  posix_file_system disk;
  fault_injecting_file_system old_node(disk), new_node(disk);
  auto stale = open_store(old_node, with_epoch(dir, 1));
  add_sync(*stale, make_message("/queue/a", "before takeover"));

  auto active = open_store(new_node, with_epoch(dir, 2));
  REQUIRE(bodies(*active, "/queue/a") == std::vector<std::string>{"before takeover"});

  // The old active has not noticed yet: it keeps appending to its segment, and rolls.
  for (int i = 0; i < 20; ++i) add_sync(*stale, make_message("/queue/a", "stale " + std::to_string(i) + std::string(400, '.')));
  add_sync(*active, make_message("/queue/a", "after takeover"));
  crash(stale, old_node);
  crash(active, new_node);

  auto next = open_store(disk, with_epoch(dir, 3));
  REQUIRE(bodies(*next, "/queue/a") == std::vector<std::string>{"before takeover", "after takeover"});
}

TEST_CASE("a writer with an older epoch than the journal refuses to open", "[store][fencing]") {
  scratch_dir dir;
  posix_file_system fs;
  open_store(fs, with_epoch(dir, 5))->close();
  auto s = store::open(fs, with_epoch(dir, 4));
  REQUIRE_FALSE(s.ok());
  REQUIRE(s.code() == errc::closed);
  REQUIRE(s.err().message.find("fenced") != std::string::npos);
}

TEST_CASE("a writer whose lease is no longer held writes and deletes nothing", "[store][fencing]") {
  scratch_dir dir;
  posix_file_system fs;
  std::atomic<bool> lease_held{true};
  auto o = with_epoch(dir, 1);
  o.may_write = [&] { return lease_held.load(); };
  auto s = open_store(fs, o);
  auto kept = add_sync(*s, make_message("/queue/a", "while holding"));

  lease_held = false;
  batch b;
  b.add_message(make_message("/queue/a", "after the lease ran out"));
  auto ec = write_sync(*s, b);
  REQUIRE(ec == errc::closed);  // the completion reports the fence; nothing was durable
  batch later;
  later.add_message(make_message("/queue/a", "later still"));
  REQUIRE(s->write(later, nullptr) == errc::closed);  // the store stays failed
  REQUIRE(s->last_error().message.find("fenced") != std::string::npos);
  s->abandon();  // no checkpoint, no flush

  auto next = open_store(fs, with_epoch(dir, 2));
  REQUIRE(bodies(*next, "/queue/a") == std::vector<std::string>{"while holding"});
  REQUIRE(next->read_message(kept).ok());
}

TEST_CASE("an abandoned store fails queued and later writes without touching the disk", "[store][fencing]") {
  scratch_dir dir;
  posix_file_system fs;
  auto s = open_store(fs, with_epoch(dir, 1));
  add_sync(*s, make_message("/queue/a", "one"));
  s->abandon();
  batch b;
  b.add_message(make_message("/queue/a", "two"));
  REQUIRE(s->write(b, [](std::error_code) { FAIL("a refused write must not complete"); }) == errc::closed);
  auto next = open_store(fs, with_epoch(dir, 2));
  REQUIRE(bodies(*next, "/queue/a") == std::vector<std::string>{"one"});
}

TEST_CASE("abandon returns while the writer is stuck in a storage call, and nothing queued is written",
          "[store][fencing]") {
  // A fenced node must close its listeners at once, even when its NFS server stopped answering:
  // abandon() may not wait for the writer's call to time out.
  scratch_dir dir;
  posix_file_system disk;
  fault_injecting_file_system fs(disk);
  auto s = open_store(fs, with_epoch(dir, 1));
  add_sync(*s, make_message("/queue/a", "durable"));

  fs.stall(fault_op::sync);
  std::promise<std::error_code> stuck_done, queued_done;
  batch first;
  first.add_message(make_message("/queue/a", "in flight"));
  REQUIRE_FALSE(s->write(first, [&](std::error_code ec) { stuck_done.set_value(ec); }));
  fs.wait_stalled(fault_op::sync, 1);  // the writer is inside fdatasync
  batch second;
  second.add_message(make_message("/queue/a", "queued behind it"));
  REQUIRE_FALSE(s->write(second, [&](std::error_code ec) { queued_done.set_value(ec); }));

  s->abandon();  // returns although the sync is still blocked
  REQUIRE(s->read_message(message_seq(1)).code() == errc::closed);
  batch third;
  third.add_message(make_message("/queue/a", "after abandon"));
  REQUIRE(s->write(third, nullptr) == errc::closed);
  auto writes_before = fs.calls(fault_op::write);

  fs.release(fault_op::sync);  // the storage call returns at last
  // The write that was in progress is in doubt; the queued one failed at the fence unwritten.
  REQUIRE(queued_done.get_future().get() == errc::closed);
  stuck_done.get_future().get();
  s.reset();  // joins the writer
  REQUIRE(fs.calls(fault_op::write) == writes_before);

  auto next = open_store(disk, with_epoch(dir, 2));
  auto after = bodies(*next, "/queue/a");
  REQUIRE(after.front() == "durable");
  REQUIRE(std::find(after.begin(), after.end(), "queued behind it") == after.end());
  REQUIRE(std::find(after.begin(), after.end(), "after abandon") == after.end());
}
