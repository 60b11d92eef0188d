#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "storage/fault_injecting_file_system.h"
#include "storage/journal_reader.h"
#include "storage/journal_writer.h"
#include "tests/unit/storage/storage_test_support.h"

using namespace tandem::storage;
using namespace tandem::storage::journal;
using namespace tandem::storage::test;

namespace {

std::shared_ptr<std::string> ref_record(std::uint64_t seq) {
  auto out = std::make_shared<std::string>();
  auto start = begin_record(*out);
  encode_ref(*out, seq, "/queue/group");
  end_record(*out, start, record_type::ref_added);
  return out;
}

std::vector<std::uint64_t> read_seqs(file_system& fs, const scratch_dir& dir) {
  std::vector<std::uint64_t> seqs;
  auto names = dir.names("journal-");
  for (auto& n : names) {
    std::uint64_t e, s;
    REQUIRE(parse_segment_file_name(n, e, s));
    auto r = segment_reader::open(fs, dir.file(n), s);
    REQUIRE(r.ok());
    REQUIRE(r->corruptions().empty());
    segment_reader::entry en;
    while (r->next(en)) {
      ref_payload p;
      REQUIRE(decode_ref(en.payload, p));
      seqs.push_back(p.seq);
    }
  }
  return seqs;
}

}  // namespace

TEST_CASE("group commit: 8 concurrent appenders share fsyncs", "[journal][writer]") {
  scratch_dir dir;
  posix_file_system fs;
  writer_options o;
  o.directory = dir.path();
  auto w = journal_writer::open(fs, o, 1);
  REQUIRE(w.ok());
  constexpr int threads = 8, per_thread = 200;
  std::vector<std::atomic<int>> called(threads * per_thread);
  std::vector<std::thread> ts;
  std::atomic<int> errors{0};
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        int id = t * per_thread + i;
        // Each appender waits for durability before its next append, like a producer
        // waiting for its receipt.
        std::mutex m;
        std::condition_variable cv;
        bool done = false;
        (*w)->append(ref_record(static_cast<std::uint64_t>(id)), [&, id](std::error_code ec) {
          if (ec) ++errors;
          called[id].fetch_add(1);
          std::lock_guard lk(m);
          done = true;
          cv.notify_one();
        });
        std::unique_lock lk(m);
        cv.wait(lk, [&] { return done; });
      }
    });
  }
  for (auto& t : ts) t.join();
  auto stats = (*w)->stats();
  (*w)->close();
  REQUIRE(errors == 0);
  for (auto& c : called) REQUIRE(c.load() == 1);
  REQUIRE(stats.appends == threads * per_thread);
  INFO("fsyncs " << stats.fsyncs << " for " << stats.appends << " appends");
  REQUIRE(stats.fsyncs < stats.appends);
  auto seqs = read_seqs(fs, dir);
  std::sort(seqs.begin(), seqs.end());
  REQUIRE(seqs.size() == threads * per_thread);
  for (int i = 0; i < threads * per_thread; ++i) REQUIRE(seqs[i] == static_cast<std::uint64_t>(i));
}

TEST_CASE("appends queued while an fsync runs are written and synced together", "[journal][writer]") {
  scratch_dir dir;
  posix_file_system disk;
  fault_injecting_file_system fs(disk);
  writer_options o;
  o.directory = dir.path();
  auto w = journal_writer::open(fs, o, 1);
  REQUIRE(w.ok());
  auto syncs_before = (*w)->stats().fsyncs;
  fs.stall(fault_op::sync);
  completions done;
  (*w)->append(ref_record(1), done.make());
  fs.wait_stalled(fault_op::sync, 1);  // the first group's fsync is in progress
  for (int i = 2; i <= 50; ++i) (*w)->append(ref_record(i), done.make());
  fs.release(fault_op::sync);
  done.wait_for(50);
  REQUIRE(done.errors() == 0);
  REQUIRE((*w)->stats().fsyncs - syncs_before == 2);
  (*w)->close();
}

TEST_CASE("writer rolls to a new segment past segment_bytes", "[journal][writer]") {
  scratch_dir dir;
  posix_file_system fs;
  writer_options o;
  o.directory = dir.path();
  o.segment_bytes = 1024;
  auto w = journal_writer::open(fs, o, 1);
  REQUIRE(w.ok());
  completions done;
  for (int i = 0; i < 200; ++i) (*w)->append(ref_record(i), done.make());
  done.wait_for(200);
  (*w)->close();
  REQUIRE(dir.names("journal-").size() > 5);
  auto seqs = read_seqs(fs, dir);
  REQUIRE(seqs.size() == 200);
  for (int i = 0; i < 200; ++i) REQUIRE(seqs[i] == static_cast<std::uint64_t>(i));
}

TEST_CASE("preallocated segments read back the same records", "[journal][writer]") {
  scratch_dir dir;
  posix_file_system fs;
  writer_options o;
  o.directory = dir.path();
  o.segment_bytes = 64 * 1024;
  o.preallocate = true;
  auto w = journal_writer::open(fs, o, 1);
  REQUIRE(w.ok());
  completions done;
  for (int i = 0; i < 3000; ++i) (*w)->append(ref_record(i), done.make());
  done.wait_for(3000);
  (*w)->close();
  auto seqs = read_seqs(fs, dir);
  REQUIRE(seqs.size() == 3000);
  REQUIRE(file_size(dir.file(dir.names("journal-").front())) == 64 * 1024);
}

TEST_CASE("an fsync error fails the batch and every later append", "[journal][writer]") {
  scratch_dir dir;
  posix_file_system disk;
  fault_injecting_file_system fs(disk);
  writer_options o;
  o.directory = dir.path();
  auto w = journal_writer::open(fs, o, 1);
  REQUIRE(w.ok());
  completions first;
  (*w)->append(ref_record(1), first.make());
  first.wait_for(1);
  REQUIRE(first.errors() == 0);
  fs.fail_next(fault_op::sync, 1);
  completions second;
  (*w)->append(ref_record(2), second.make());
  second.wait_for(1);
  REQUIRE(second.errors() == 1);
  REQUIRE((*w)->failed());
  completions third;
  (*w)->append(ref_record(3), third.make());
  third.wait_for(1);
  REQUIRE(third.errors() == 1);
  (*w)->close();
}
