#include <catch2/catch.hpp>

#include <random>

#include "storage/journal_reader.h"
#include "storage/journal_writer.h"
#include "tests/unit/storage/storage_test_support.h"

using namespace tandem::storage;
using namespace tandem::storage::journal;
using namespace tandem::storage::test;

namespace {

std::string ref_record(std::uint64_t seq, const std::string& container) {
  std::string out;
  auto start = begin_record(out);
  encode_ref(out, seq, container);
  end_record(out, start, record_type::ref_added);
  return out;
}

// Writes `n` ref_added records (seq 1..n) into segment 1 and returns their positions.
std::vector<position> write_records(file_system& fs, const std::string& dir, int n) {
  writer_options o;
  o.directory = dir;
  auto w = journal_writer::open(fs, o, 1);
  REQUIRE(w.ok());
  std::vector<position> at;
  completions done;
  for (int i = 1; i <= n; ++i) {
    auto t = (*w)->append(std::make_shared<std::string>(ref_record(i, "/queue/q" + std::to_string(i))), done.make());
    at.push_back(t.pos);
  }
  done.wait_for(n);
  (*w)->close();
  REQUIRE(done.errors() == 0);
  return at;
}

struct read_result {
  std::vector<std::uint64_t> seqs;
  std::size_t corruptions = 0;
};

read_result read_all(file_system& fs, const std::string& path) {
  auto r = segment_reader::open(fs, path, 1);
  REQUIRE(r.ok());
  read_result out;
  segment_reader::entry e;
  while (r->next(e)) {
    ref_payload p;
    REQUIRE(decode_ref(e.payload, p));
    out.seqs.push_back(p.seq);
  }
  out.corruptions = r->corruptions().size();
  return out;
}

}  // namespace

TEST_CASE("torn tail record is ignored at every byte offset", "[journal][reader]") {
  scratch_dir dir;
  posix_file_system fs;
  auto at = write_records(fs, dir.path(), 3);
  std::string path = dir.file(segment_file_name(1, 1));
  std::uint64_t end = at[2].offset + ref_record(3, "/queue/q3").size();
  REQUIRE(end <= file_size(path));  // the writer may keep zero-filled space after the log
  std::string original;
  {
    auto f = fs.open(path, open_mode::read_only);
    original.resize(end);
    (void)(*f)->read_at(0, original.data(), end);
  }
  for (std::uint64_t cut = at[2].offset; cut < end; ++cut) {
    truncate_tail(path, cut);
    auto r = read_all(fs, path);
    INFO("cut at " << cut);
    REQUIRE(r.seqs == std::vector<std::uint64_t>{1, 2});
    REQUIRE(r.corruptions == 0);
    // restore for the next cut
    auto f = fs.open(path, open_mode::read_write);
    (void)(*f)->write_at(0, original.data(), original.size());
  }
}

TEST_CASE("zero-filled space after the log is the end of the log", "[journal][reader]") {
  scratch_dir dir;
  posix_file_system fs;
  write_records(fs, dir.path(), 2);
  std::string path = dir.file(segment_file_name(1, 1));
  auto f = fs.open(path, open_mode::read_write);
  std::string zeros(4096, '\0');
  REQUIRE_FALSE((*f)->append(zeros.data(), zeros.size()));
  auto r = read_all(fs, path);
  REQUIRE(r.seqs == std::vector<std::uint64_t>{1, 2});
  REQUIRE(r.corruptions == 0);
}

TEST_CASE("bad crc in the middle is skipped and counted, later records survive", "[journal][reader]") {
  scratch_dir dir;
  posix_file_system fs;
  auto at = write_records(fs, dir.path(), 5);
  std::string path = dir.file(segment_file_name(1, 1));
  SECTION("damaged payload byte") { corrupt_byte(path, at[1].offset + record_header_size + 3); }
  SECTION("damaged length field") { corrupt_byte(path, at[1].offset + 7); }
  SECTION("damaged type byte") { corrupt_byte(path, at[1].offset + 8); }
  auto r = read_all(fs, path);
  REQUIRE(r.seqs == std::vector<std::uint64_t>{1, 3, 4, 5});
  REQUIRE(r.corruptions == 1);
}

TEST_CASE("garbage never crashes the reader", "[journal][reader]") {
  scratch_dir dir;
  posix_file_system fs;
  std::mt19937 rng(12345);
  for (int round = 0; round < 50; ++round) {
    std::string bytes = encode_segment_header({1, 1});
    for (int i = 0; i < 3; ++i) bytes += ref_record(i + 1, "/queue/x");
    std::size_t n = rng() % 2000;
    for (std::size_t i = 0; i < n; ++i) bytes.push_back(static_cast<char>(rng()));
    // and sometimes damage the valid part too
    if (round % 3 == 0) bytes[40 + rng() % 40] ^= 0x77;
    std::string path = dir.file("garbage.log");
    (void)fs.remove(path);
    auto f = fs.open(path, open_mode::create);
    REQUIRE_FALSE((*f)->write_at(0, bytes.data(), bytes.size()));
    auto r = segment_reader::open(fs, path, 1);
    REQUIRE(r.ok());
    segment_reader::entry e;
    int count = 0;
    while (r->next(e)) ++count;
    REQUIRE(count <= 3 + 2000 / static_cast<int>(record_header_size));
  }
}
