#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <thread>

#include "storage/checkpoint.h"
#include "storage/journal_reader.h"
#include "storage/message_index.h"
#include "tests/unit/storage/store_test_support.h"

using namespace tandem::storage;
using namespace tandem::storage::test;

namespace {
store_options options_for(const scratch_dir& dir) {
  store_options o;
  o.directory = dir.path();
  return o;
}
}  // namespace

TEST_CASE("written messages are recovered in order after reopen", "[store]") {
  scratch_dir dir;
  posix_file_system fs;
  std::vector<message_seq> seqs;
  {
    auto s = open_store(fs, options_for(dir));
    for (int i = 0; i < 10; ++i) seqs.push_back(add_sync(*s, make_message("/queue/a", "body " + std::to_string(i))));
    durable_subscription sub{"durable:c1:s1", "c1", "s1", "/topic/t", ""};
    batch b;
    b.add_subscription(sub);
    REQUIRE_FALSE(write_sync(*s, b));
    auto m = s->read_message(seqs[3]);
    REQUIRE(m.ok());
    REQUIRE(m->body == "body 3");
    s->close();
  }
  auto s = open_store(fs, options_for(dir));
  auto& r = s->recovered();
  std::vector<std::uint64_t> expected;
  for (auto q : seqs) expected.push_back(q.value());
  REQUIRE(pending_seqs(r, "/queue/a") == expected);
  REQUIRE(r.durable_subscriptions.size() == 1);
  REQUIRE(r.containers.count("durable:c1:s1") == 1);
  auto m = s->read_message(seqs[7]);
  REQUIRE(m.ok());
  REQUIRE(m->body == "body 7");
  REQUIRE(m->headers.front().key == "content-type");
  // New seqs continue after the recovered ones.
  auto next = add_sync(*s, make_message("/queue/a", "later"));
  REQUIRE(next > seqs.back());
}

TEST_CASE("read_message serves a message whose bytes are not written yet", "[store]") {
  scratch_dir dir;
  posix_file_system disk;
  fault_injecting_file_system fs(disk);
  auto s = open_store(fs, options_for(dir));
  fs.stall(fault_op::write);
  batch b;
  b.add_message(make_message("/queue/a", "in flight"));
  completions c;
  REQUIRE_FALSE(s->write(b, c.make()));
  fs.wait_stalled(fault_op::write, 1);
  auto m = s->read_message(b.ops()[0].message.seq);
  REQUIRE(m.ok());
  REQUIRE(m->body == "in flight");
  fs.release(fault_op::write);
  c.wait_for(1);
  REQUIRE(s->read_message(b.ops()[0].message.seq)->body == "in flight");
}

TEST_CASE("recovery after drop_unsynced keeps every record whose completion succeeded", "[store][crash]") {
  scratch_dir dir;
  posix_file_system disk;
  fault_injecting_file_system fs(disk);
  auto s = open_store(fs, options_for(dir));
  std::vector<message_seq> acked;
  for (int i = 0; i < 50; ++i) acked.push_back(add_sync(*s, make_message("/queue/a", "acked " + std::to_string(i))));

  // 50 more are written but their fsync never completes before the host dies.
  fs.stall(fault_op::sync);
  completions late;
  std::vector<message_seq> unacked;
  for (int i = 0; i < 50; ++i) {
    batch b;
    b.add_message(make_message("/queue/a", "late " + std::to_string(i)));
    REQUIRE_FALSE(s->write(b, late.make()));
    unacked.push_back(b.ops()[0].message.seq);
  }
  fs.wait_stalled(fault_op::sync, 1);
  fs.set_down(true);
  fs.release(fault_op::sync);
  late.wait_for(50);
  REQUIRE(late.errors() == 50);  // never reported durable
  s.reset();
  fs.set_down(false);
  fs.drop_unsynced();

  s = open_store(fs, options_for(dir));
  auto got = pending_seqs(s->recovered(), "/queue/a");
  for (auto q : acked) REQUIRE(std::find(got.begin(), got.end(), q.value()) != got.end());
  for (auto q : acked) REQUIRE(s->read_message(q).ok());
  REQUIRE(s->recovered().corrupt_records_skipped == 0);
}

TEST_CASE("checkpoint plus tail recovery equals full replay", "[store][checkpoint]") {
  scratch_dir dir, copy;
  posix_file_system disk;
  fault_injecting_file_system fs(disk);
  auto o = options_for(dir);
  {
    auto s = open_store(fs, o);
    std::vector<message_seq> seqs;
    for (int i = 0; i < 100; ++i) {
      auto m = make_message(i % 2 ? "/queue/odd" : "/queue/even", std::string(100, 'x'), "p", i);
      if (i % 10 == 0) m.containers.push_back("durable:c:s");
      seqs.push_back(add_sync(*s, m));
    }
    for (int i = 0; i < 100; i += 3) remove_sync(*s, i % 2 ? "/queue/odd" : "/queue/even", seqs[i]);
    checkpoint_sync(*s);
    for (int i = 100; i < 150; ++i) seqs.push_back(add_sync(*s, make_message("/queue/odd", "tail", "p", i)));
    for (int i = 1; i < 100; i += 4) remove_sync(*s, i % 2 ? "/queue/odd" : "/queue/even", seqs[i]);
    batch b;
    b.add_subscription({"durable:c:s", "c", "s", "/topic/t", ""});
    b.remove_ref("durable:c:s", seqs[10]);
    REQUIRE_FALSE(write_sync(*s, b));
    crash(s, fs);
  }
  REQUIRE(dir.names("checkpoint-").size() == 1);
  std::filesystem::copy(dir.path(), copy.path(), std::filesystem::copy_options::recursive);
  for (auto& n : copy.names("checkpoint-")) std::filesystem::remove(copy.file(n));

  auto with_ckpt = open_store(fs, o);
  auto o2 = o;
  o2.directory = copy.path();
  auto full = open_store(fs, o2);
  REQUIRE(with_ckpt->recovered().records_replayed < full->recovered().records_replayed);
  auto& a = with_ckpt->recovered().containers;
  auto& b = full->recovered().containers;
  REQUIRE(a.size() == b.size());
  for (auto& [name, refs] : a) {
    INFO(name);
    REQUIRE(b.count(name) == 1);
    REQUIRE(pending_seqs(with_ckpt->recovered(), name) == pending_seqs(full->recovered(), name));
  }
  REQUIRE(with_ckpt->is_duplicate("p", 120));
  REQUIRE(full->is_duplicate("p", 120));
  REQUIRE(with_ckpt->is_duplicate("p", 5));
}

TEST_CASE("segments are deleted once all their messages are removed", "[store][space]") {
  scratch_dir dir;
  posix_file_system fs;
  auto o = options_for(dir);
  o.segment_bytes = 4096;
  auto s = open_store(fs, o);
  std::vector<message_seq> seqs;
  for (int i = 0; i < 40; ++i) seqs.push_back(add_sync(*s, make_message("/queue/a", std::string(500, 'y'))));
  auto before = dir.names("journal-").size();
  REQUIRE(before > 4);
  for (auto q : seqs) remove_sync(*s, "/queue/a", q);
  checkpoint_sync(*s);
  REQUIRE(s->stats().segments_deleted >= before - 1);
  REQUIRE(dir.names("journal-").size() <= 2);
  REQUIRE(s->stats().live_messages == 0);
  s->close();
  s = open_store(fs, o);
  REQUIRE(s->recovered().containers.empty());
}

TEST_CASE("compaction moves live messages and frees the segment", "[store][space]") {
  scratch_dir dir;
  posix_file_system fs;
  auto o = options_for(dir);
  o.segment_bytes = 16 * 1024;
  auto s = open_store(fs, o);
  std::vector<message_seq> seqs;
  for (int i = 0; i < 100; ++i) seqs.push_back(add_sync(*s, make_message("/queue/a", std::string(500, 'a' + i % 26))));
  auto first_segment = dir.names("journal-").front();
  // Keep seqs[0] and seqs[1] alive (in the first segment), remove the rest.
  for (std::size_t i = 2; i < seqs.size(); ++i) remove_sync(*s, "/queue/a", seqs[i]);
  checkpoint_sync(*s);
  REQUIRE(s->stats().segments_compacted >= 1);
  auto names = dir.names("journal-");
  REQUIRE(std::find(names.begin(), names.end(), first_segment) == names.end());
  REQUIRE(s->read_message(seqs[0])->body == std::string(500, 'a'));
  REQUIRE(s->read_message(seqs[1])->body == std::string(500, 'b'));
  // A second round moves an already-moved message again.
  for (int i = 0; i < 100; ++i) remove_sync(*s, "/queue/a", add_sync(*s, make_message("/queue/a", std::string(500, 'z'))));
  checkpoint_sync(*s);
  REQUIRE(s->read_message(seqs[1])->body == std::string(500, 'b'));
  s->close();

  s = open_store(fs, o);
  REQUIRE(pending_seqs(s->recovered(), "/queue/a") == std::vector<std::uint64_t>{seqs[0].value(), seqs[1].value()});
  REQUIRE(s->read_message(seqs[0])->body == std::string(500, 'a'));
  REQUIRE(s->read_message(seqs[1])->body == std::string(500, 'b'));
}

TEST_CASE("store_full refuses adds but accepts removals", "[store][limit]") {
  scratch_dir dir;
  posix_file_system fs;
  auto o = options_for(dir);
  o.segment_bytes = 8 * 1024;
  o.max_store_bytes = 32 * 1024;
  auto s = open_store(fs, o);
  std::vector<message_seq> seqs;
  std::error_code refused;
  for (int i = 0; i < 200 && !refused; ++i) {
    batch b;
    b.add_message(make_message("/queue/a", std::string(1000, 'f')));
    completions c;
    refused = s->write(b, c.make());
    if (!refused) {
      c.wait_for(1);
      seqs.push_back(b.ops()[0].message.seq);
    }
  }
  REQUIRE(refused == errc::store_full);
  REQUIRE(s->last_error().message.find("limit 32768") != std::string::npos);
  REQUIRE(s->stats().bytes_on_disk <= o.max_store_bytes);
  // Consumers can still drain a full store...
  for (auto q : seqs) remove_sync(*s, "/queue/a", q);
  checkpoint_sync(*s);
  // ...which frees the space again.
  batch b;
  b.add_message(make_message("/queue/a", std::string(1000, 'g')));
  REQUIRE_FALSE(write_sync(*s, b));
}

TEST_CASE("duplicate detection survives reopen", "[store][dedup]") {
  scratch_dir dir;
  posix_file_system disk;
  fault_injecting_file_system fs(disk);
  auto o = options_for(dir);
  o.producer_window = 3;
  auto s = open_store(fs, o);
  for (std::uint64_t i = 1; i <= 5; ++i) add_sync(*s, make_message("/queue/a", "m", "producer-1", i));
  REQUIRE(s->is_duplicate("producer-1", 5));
  REQUIRE(s->is_duplicate("producer-1", 3));
  REQUIRE_FALSE(s->is_duplicate("producer-1", 2));  // outside the window of 3
  REQUIRE_FALSE(s->is_duplicate("producer-1", 6));
  REQUIRE_FALSE(s->is_duplicate("producer-2", 5));
  SECTION("after a crash (journal replay)") { crash(s, fs); }
  SECTION("after a clean close (checkpoint)") { s->close(); s.reset(); }
  s = open_store(fs, o);
  REQUIRE(s->is_duplicate("producer-1", 5));
  REQUIRE(s->is_duplicate("producer-1", 4));
  REQUIRE_FALSE(s->is_duplicate("producer-1", 6));
}

TEST_CASE("an I/O error fails the batch and the store", "[store][failure]") {
  scratch_dir dir;
  posix_file_system disk;
  fault_injecting_file_system fs(disk);
  auto s = open_store(fs, options_for(dir));
  add_sync(*s, make_message("/queue/a", "fine"));
  fs.fail_next(fault_op::write, 1);
  batch b;
  b.add_message(make_message("/queue/a", "doomed"));
  completions c;
  REQUIRE_FALSE(s->write(b, c.make()));
  c.wait_for(1);
  REQUIRE(c.errors() == 1);
  batch again;
  again.add_message(make_message("/queue/a", "after"));
  REQUIRE(s->write(again, nullptr) == errc::closed);
  REQUIRE(s->last_error().message.find("injected") != std::string::npos);
}

TEST_CASE("a torn transaction applies none of its ops", "[store][txn]") {
  scratch_dir dir;
  posix_file_system disk;
  fault_injecting_file_system fs(disk);
  auto o = options_for(dir);
  auto s = open_store(fs, o);
  auto keep = add_sync(*s, make_message("/queue/a", "before"));
  batch complete;
  complete.add_message(make_message("/queue/a", "t1"));
  complete.remove_ref("/queue/a", keep);
  REQUIRE_FALSE(write_sync(*s, complete));
  batch torn;
  torn.add_message(make_message("/queue/b", "x"));
  torn.add_message(make_message("/queue/b", "y"));
  torn.add_message(make_message("/queue/b", "z"));
  REQUIRE_FALSE(write_sync(*s, torn));
  crash(s, fs);

  // Cut the last segment just before the torn transaction's commit record.
  auto names = dir.names("journal-");
  std::string path = dir.file(names.back());
  std::uint64_t commit_at = 0;
  {
    std::uint64_t e, seg;
    journal::parse_segment_file_name(names.back(), e, seg);
    auto r = journal::segment_reader::open(disk, path, seg);
    journal::segment_reader::entry en;
    while (r->next(en))
      if (en.type == journal::record_type::txn_commit) commit_at = en.pos.offset;
  }
  REQUIRE(commit_at > 0);
  truncate_tail(path, commit_at + 5);

  s = open_store(fs, o);
  auto& r = s->recovered();
  REQUIRE(r.containers.count("/queue/b") == 0);
  REQUIRE(pending_seqs(r, "/queue/a") == std::vector<std::uint64_t>{complete.ops()[0].message.seq.value()});
}

TEST_CASE("a full store drained by consumers accepts adds again by itself", "[store][limit]") {
  scratch_dir dir;
  posix_file_system fs;
  auto o = options_for(dir);
  o.segment_bytes = 8 * 1024;
  o.max_store_bytes = 40 * 1024;
  auto s = open_store(fs, o);
  std::vector<message_seq> seqs;
  for (;;) {
    batch b;
    b.add_message(make_message("/queue/a", std::string(1000, 'f')));
    auto ec = write_sync(*s, b);
    if (ec) {
      REQUIRE(ec == errc::store_full);
      break;
    }
    seqs.push_back(b.ops()[0].message.seq);
  }
  for (auto q : seqs) remove_sync(*s, "/queue/a", q);
  // No explicit checkpoint: the store reclaims space on its own once it has been full.
  // An empty batch completes after every job queued before it, reclamation included.
  batch nothing;
  REQUIRE_FALSE(write_sync(*s, nothing));
  REQUIRE(s->stats().segments_deleted > 0);
  batch b;
  b.add_message(make_message("/queue/a", std::string(1000, 'g')));
  REQUIRE_FALSE(write_sync(*s, b));
}

namespace {
// A local directory that reports itself like the nfs backend: zeros ahead of the data do not help.
class no_zero_fill final : public file_system {
 public:
  tandem::result<std::unique_ptr<file>> open(const std::string& p, open_mode m) override { return disk_.open(p, m); }
  status rename(const std::string& a, const std::string& b) override { return disk_.rename(a, b); }
  status remove(const std::string& p) override { return disk_.remove(p); }
  tandem::result<std::vector<std::string>> list(const std::string& d) override { return disk_.list(d); }
  tandem::result<file_stat> stat(const std::string& p) override { return disk_.stat(p); }
  status mkdirs(const std::string& d) override { return disk_.mkdirs(d); }
  status sync_dir(const std::string& d) override { return disk_.sync_dir(d); }
  bool zero_fill_helps() const override { return false; }

 private:
  posix_file_system disk_;
};
}  // namespace

TEST_CASE("the journal preallocates only where zero fill helps", "[store]") {
  // On NFSv4 the zeros of a 1 MiB preallocation cost 266 WRITE round trips: a node's first
  // receipt after a takeover waited 30 s for them at a 100 ms round trip.
  scratch_dir dir;
  std::uint64_t size_posix = 0, size_nfs_like = 0;
  {
    posix_file_system fs;
    auto s = open_store(fs, options_for(dir));
    add_sync(*s, make_message("/queue/a", "one"));
    s->close();
    size_posix = file_size(dir.file(dir.names("journal-").back()));
  }
  scratch_dir other;
  {
    no_zero_fill fs;
    auto s = open_store(fs, options_for(other));
    add_sync(*s, make_message("/queue/a", "one"));
    s->close();
    size_nfs_like = file_size(other.file(other.names("journal-").back()));
  }
  posix_file_system disk;
  auto again = open_store(disk, options_for(other));
  auto seqs = pending_seqs(again->recovered(), "/queue/a");
  REQUIRE(seqs.size() == 1);
  CHECK(again->read_message(message_seq(seqs[0]))->body == "one");
  CHECK(size_posix >= (1u << 20));
  CHECK(size_nfs_like < 4096);
}

TEST_CASE("a store with a small index checkpoints long before checkpoint_every_bytes", "[store][checkpoint]") {
  // A takeover replays the journal since the newest checkpoint: with few pending messages the
  // store checkpoints every 16 MiB of journal, not every 256 MiB (the default maximum).
  scratch_dir dir;
  posix_file_system disk;
  fault_injecting_file_system fs(disk);
  auto o = options_for(dir);
  REQUIRE(o.checkpoint_every_bytes == 256ull << 20);
  const int count = 400;  // 400 x 64 KiB = 25 MiB of journal, an index of 400 entries
  {
    auto s = open_store(fs, o);
    for (int i = 0; i < count; ++i) add_sync(*s, make_message("/queue/big", std::string(64 << 10, 'b'), "p", i));
    for (int waited = 0; s->stats().checkpoints == 0 && waited < 500; ++waited) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    REQUIRE(s->stats().checkpoints >= 1);
    crash(s, fs);
  }
  auto s = open_store(fs, o);
  REQUIRE(pending_seqs(s->recovered(), "/queue/big").size() == count);
  REQUIRE(s->recovered().records_replayed < count);  // the checkpoint covers the first 16 MiB
}

TEST_CASE("checkpoint_every_bytes below 16 MiB is the interval", "[store][checkpoint]") {
  scratch_dir dir;
  posix_file_system disk;
  fault_injecting_file_system fs(disk);
  auto o = options_for(dir);
  o.checkpoint_every_bytes = 1 << 20;
  auto s = open_store(fs, o);
  for (int i = 0; i < 64; ++i) add_sync(*s, make_message("/queue/q", std::string(64 << 10, 'b'), "p", i));
  for (int waited = 0; s->stats().checkpoints < 2 && waited < 500; ++waited) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(s->stats().checkpoints >= 2);  // 4 MiB written, 1 MiB apart
}

TEST_CASE("duplicate detection forgets the producer that sent least recently past max_producers",
          "[store][dedup]") {
  scratch_dir dir;
  posix_file_system disk;
  fault_injecting_file_system fs(disk);
  auto o = options_for(dir);
  o.max_producers = 3;
  {
    auto s = open_store(fs, o);
    add_sync(*s, make_message("/queue/q", "a", "p1", 1));
    add_sync(*s, make_message("/queue/q", "b", "p2", 1));
    add_sync(*s, make_message("/queue/q", "c", "p3", 1));
    add_sync(*s, make_message("/queue/q", "a2", "p1", 2));  // p1 sends again: p2 is now the oldest
    add_sync(*s, make_message("/queue/q", "d", "p4", 1));   // a fourth producer: p2 is forgotten
    REQUIRE_FALSE(s->is_duplicate("p2", 1));
    REQUIRE(s->is_duplicate("p1", 1));
    REQUIRE(s->is_duplicate("p3", 1));
    REQUIRE(s->is_duplicate("p4", 1));
    checkpoint_sync(*s);
    crash(s, fs);
  }
  // The checkpoint keeps the order: after a restart p3 is the next to be forgotten.
  auto s = open_store(fs, o);
  REQUIRE(s->is_duplicate("p1", 2));
  REQUIRE(s->is_duplicate("p3", 1));
  add_sync(*s, make_message("/queue/q", "e", "p5", 1));
  REQUIRE_FALSE(s->is_duplicate("p3", 1));
  REQUIRE(s->is_duplicate("p1", 2));
  REQUIRE(s->is_duplicate("p4", 1));
  REQUIRE(s->is_duplicate("p5", 1));
}

TEST_CASE("replaying a compaction copy does not change which producers are remembered", "[store][dedup]") {
  // A compaction's copies are replayed when the checkpoint after them was not written; they
  // are not new sends and must not make their producer the most recent one.
  scratch_dir dir;
  posix_file_system disk;
  fault_injecting_file_system fs(disk);
  auto o = options_for(dir);
  o.segment_bytes = 32 * 1024;
  o.max_producers = 2;
  std::vector<message_seq> fillers;
  {
    auto s = open_store(fs, o);
    add_sync(*s, make_message("/queue/keep", std::string(5000, 'k'), "p1", 1));
    for (int i = 0; i < 60; ++i) fillers.push_back(add_sync(*s, make_message("/queue/a", std::string(500, 'f'))));
    add_sync(*s, make_message("/queue/keep", "x", "p2", 1));
    add_sync(*s, make_message("/queue/keep", "y", "p3", 1));
    for (auto f : fillers) remove_sync(*s, "/queue/a", f);
    INFO("checkpoints before the manual one: " << s->stats().checkpoints);
    REQUIRE(s->stats().checkpoints == 0);
    REQUIRE_FALSE(s->is_duplicate("p1", 1));
    REQUIRE(s->is_duplicate("p2", 1));
    REQUIRE(s->is_duplicate("p3", 1));
    fs.fail_next(fault_op::rename, 1);  // the checkpoint after the compaction is not written
    completions c;
    REQUIRE_FALSE(s->checkpoint(c.make()));
    c.wait_for(1);
    REQUIRE(c.codes().front());
    REQUIRE(s->stats().segments_compacted >= 1);
    crash(s, fs);
  }
  auto s = open_store(fs, o);
  CHECK_FALSE(s->is_duplicate("p1", 1));
  CHECK(s->is_duplicate("p2", 1));
  CHECK(s->is_duplicate("p3", 1));
}

TEST_CASE("the checkpoint cost estimate counts the producers' windows", "[store][checkpoint]") {
  // The checkpoint interval is 4x this estimate: an estimate that missed the producers would
  // checkpoint a store with few messages and many busy producers far too often.
  message_index index;
  for (int p = 0; p < 300; ++p) {
    for (std::uint64_t seq = 1; seq <= 200; ++seq) {
      index.note_producer("producer-" + std::to_string(p), seq, 100, 1000);
    }
  }
  index.intern("/queue/a");
  const auto actual = checkpoint::encode(index, checkpoint::info{}).size();
  const auto estimate = index.encoded_size_estimate();
  INFO("encoded " << actual << " bytes, estimated " << estimate);
  REQUIRE(actual > 300 * 100 * 8);  // the windows are most of it
  REQUIRE(estimate >= actual / 2);
  REQUIRE(estimate <= actual * 2);
  // Forgetting producers gives their bytes back.
  for (int p = 0; p < 300; ++p) index.note_producer("other-" + std::to_string(p), 1, 100, 10);
  REQUIRE(index.producer_count() == 10);
  REQUIRE(index.encoded_size_estimate() < 10 * 64 + 64);
}

TEST_CASE("the store's size counts its checkpoint, and a takeover's first checkpoint replaces the old epoch's",
          "[store][checkpoint][limit]") {
  // Without zero-fill preallocation, so the files' sizes are exactly what was written.
  scratch_dir dir;
  no_zero_fill fs;
  auto o = options_for(dir);
  o.epoch = epoch_t(1);
  // The checkpoint's marker record goes into the journal after the checkpoint completes; a
  // later write's completion means it is on disk too.
  auto bytes_in_dir = [&] {
    std::uint64_t total = 0;
    for (auto& n : dir.names("")) total += std::filesystem::file_size(dir.file(n));
    return total;
  };
  {
    auto s = open_store(fs, o);
    for (int i = 0; i < 200; ++i) add_sync(*s, make_message("/queue/q", std::string(200, 'c'), "p", i));
    checkpoint_sync(*s);
    add_sync(*s, make_message("/queue/q", "after the marker", "p", 1000));
    REQUIRE(dir.names("checkpoint-").size() == 1);
    CHECK(s->stats().bytes_on_disk == bytes_in_dir());
    add_sync(*s, make_message("/queue/q", "more", "p", 200));
    checkpoint_sync(*s);
    add_sync(*s, make_message("/queue/q", "after the marker", "p", 1000));
    REQUIRE(dir.names("checkpoint-").size() == 1);
    CHECK(s->stats().bytes_on_disk == bytes_in_dir());
    s->close();  // its own checkpoint, the last of epoch 1
  }
  const auto old_checkpoint = dir.names("checkpoint-").front();

  o.epoch = epoch_t(2);  // the other node takes over
  auto s = open_store(fs, o);
  add_sync(*s, make_message("/queue/q", "after takeover", "p", 201));
  CHECK(s->stats().bytes_on_disk == bytes_in_dir());
  checkpoint_sync(*s);
  add_sync(*s, make_message("/queue/q", "after the marker", "p", 1001));
  auto now = dir.names("checkpoint-");
  REQUIRE(now.size() == 1);
  CHECK(now.front() != old_checkpoint);
  CHECK(s->stats().bytes_on_disk == bytes_in_dir());
}
