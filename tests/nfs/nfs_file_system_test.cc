// nfs_file_system against a real NFS-Ganesha (tests/support/ganesha.py), NFSv3 and NFSv4.

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "storage/nfs_file_system.h"
#include "tests/support/ganesha_server.h"

using namespace tandem::storage;
using tandem::test::ganesha_server;

namespace {

std::unique_ptr<nfs_file_system> mount(const std::string& url) {
  auto fs = nfs_file_system::open(url);
  INFO(url << ": " << (fs ? std::string() : fs.err().describe()));
  REQUIRE(fs.ok());
  return std::move(*fs);
}

std::unique_ptr<file> open_ok(file_system& fs, const std::string& path, open_mode mode) {
  auto f = fs.open(path, mode);
  INFO(path << ": " << (f ? std::string() : f.err().describe()));
  REQUIRE(f.ok());
  return std::move(*f);
}

std::string read_all(file& f) {
  auto sz = f.size();
  REQUIRE(sz.ok());
  std::string out(*sz, '\0');
  auto n = f.read_at(0, out.data(), out.size());
  REQUIRE(n.ok());
  out.resize(*n);
  return out;
}

std::string local_contents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(gen());
  return s;
}

#define REQUIRE_OK(expr)                         \
  do {                                           \
    auto _s = (expr);                            \
    INFO(#expr << ": " << _s.describe());        \
    REQUIRE_FALSE(_s);                           \
  } while (0)

}  // namespace

TEST_CASE("every file_system operation round-trips over NFS", "[nfs]") {
  ganesha_server server;
  int version = GENERATE(3, 4);
  INFO("NFSv" << version);
  auto fs = mount(server.url(version));
  REQUIRE(fs->nfs_version() == version);

  REQUIRE_OK(fs->mkdirs("store/sub"));
  REQUIRE_OK(fs->mkdirs("store/sub"));  // already there: fine
  auto st = fs->stat("store/sub");
  REQUIRE(st.ok());
  REQUIRE(st->is_directory);

  {
    auto f = open_ok(*fs, "store/a.log", open_mode::create_exclusive);
    REQUIRE_OK(f->write_at(0, "hello", 5));
    REQUIRE_OK(f->append(" world", 6));
    REQUIRE_OK(f->sync());
    REQUIRE(*f->size() == 11);
    REQUIRE(read_all(*f) == "hello world");
    char buf[16] = {};
    auto n = f->read_at(6, buf, sizeof buf);  // past the end: a short read, not an error
    REQUIRE(n.ok());
    REQUIRE(std::string(buf, *n) == "world");
    REQUIRE_OK(f->truncate(5));
    REQUIRE(*f->size() == 5);
    REQUIRE(f->path() == "store/a.log");
  }
  REQUIRE_OK(fs->sync_dir("store"));
  // What the client wrote is what the server's disk holds.
  REQUIRE(local_contents(server.export_dir() + "/store/a.log") == "hello");

  auto again = fs->open("store/a.log", open_mode::create_exclusive);
  REQUIRE(again.code() == std::errc::file_exists);
  {
    auto f = open_ok(*fs, "store/a.log", open_mode::create);  // kept when present
    REQUIRE(read_all(*f) == "hello");
    auto g = open_ok(*fs, "store/new.log", open_mode::create);  // created when missing
    REQUIRE(*g->size() == 0);
    auto r = open_ok(*fs, "store/a.log", open_mode::read_only);
    REQUIRE(read_all(*r) == "hello");
    auto w = open_ok(*fs, "store/a.log", open_mode::read_write);
    REQUIRE_OK(w->write_at(5, "!", 1));
    REQUIRE(read_all(*r) == "hello!");  // another handle sees it
  }
  auto missing = fs->open("store/none", open_mode::read_only);
  REQUIRE(missing.code() == std::errc::no_such_file_or_directory);
  INFO(missing.err().message);
  REQUIRE(missing.err().message.find("store/none") != std::string::npos);
  REQUIRE(missing.err().message.find("127.0.0.1") != std::string::npos);

  REQUIRE_OK(fs->rename("store/a.log", "store/b.log"));
  REQUIRE(fs->stat("store/a.log").code() == std::errc::no_such_file_or_directory);
  REQUIRE(fs->stat("store/b.log")->size == 6);
  auto names = fs->list("store");
  REQUIRE(names.ok());
  std::sort(names->begin(), names->end());
  REQUIRE(*names == std::vector<std::string>{"b.log", "new.log", "sub"});
  REQUIRE_OK(fs->remove("store/b.log"));
  REQUIRE(fs->remove("store/b.log").code == std::errc::no_such_file_or_directory);
  REQUIRE(fs->list("store")->size() == 2);
}

TEST_CASE("a URL the backend cannot use is refused with a reason", "[nfs]") {
  REQUIRE(nfs_file_system::open("http://127.0.0.1/export").code() == std::errc::invalid_argument);
  REQUIRE(nfs_file_system::open("nfs://127.0.0.1:2049/export").code() == std::errc::invalid_argument);
  REQUIRE(nfs_file_system::open("nfs://127.0.0.1/export?timeout=soon").code() == std::errc::invalid_argument);
  REQUIRE(nfs_file_system::open("nfs://127.0.0.1/export?version=5").code() == std::errc::invalid_argument);
}

TEST_CASE("writes larger than one NFSv4 WRITE arrive intact", "[nfs]") {
  ganesha_server server;
  int version = GENERATE(3, 4);
  INFO("NFSv" << version);
  auto fs = mount(server.url(version));
  const std::string data = random_bytes(1 << 20, 7);
  auto f = open_ok(*fs, "big", open_mode::create_exclusive);
  REQUIRE_OK(f->write_at(0, data.data(), data.size()));
  REQUIRE_OK(f->append(data.data(), 10000));
  REQUIRE_OK(f->sync());
  std::string back(data.size() + 10000, '\0');
  auto n = f->read_at(0, back.data(), back.size());
  REQUIRE(n.ok());
  REQUIRE(*n == back.size());
  REQUIRE(back.compare(0, data.size(), data) == 0);
  REQUIRE(back.compare(data.size(), 10000, data, 0, 10000) == 0);
  REQUIRE(local_contents(server.export_dir() + "/big") == back);
}

TEST_CASE("of two threads racing to create one file exactly one wins", "[nfs][race]") {
  ganesha_server server;
  int version = GENERATE(3, 4);
  INFO("NFSv" << version);
  auto fs = mount(server.url(version));
  for (int round = 0; round < 100; ++round) {
    const std::string name = "epoch-" + std::to_string(round);
    std::atomic<int> wins{0}, exists{0}, others{0};
    std::atomic<bool> go{false};
    std::mutex mu;
    std::string other_error;
    auto contender = [&] {
      while (!go.load()) std::this_thread::yield();
      auto f = fs->open(name, open_mode::create_exclusive);
      if (f.ok()) {
        ++wins;
      } else if (f.code() == std::errc::file_exists) {
        ++exists;
      } else {
        ++others;
        std::lock_guard lock(mu);
        other_error = f.err().describe();
      }
    };
    std::thread a(contender), b(contender);
    go = true;
    a.join();
    b.join();
    INFO("round " << round << ": " << wins << " won, " << exists << " saw file_exists, " << others
                   << " failed otherwise: " << other_error);
    REQUIRE(wins == 1);
    REQUIRE(exists == 1);
  }
}

TEST_CASE("writers, readers and directory calls from several threads share one file system", "[nfs][threads]") {
  // The broker's pattern: a journal writer, readers with their own handles, a lease thread
  // and directory scans, all at once on one nfs_file_system.
  ganesha_server server;
  int version = GENERATE(3, 4);
  INFO("NFSv" << version);
  auto fs = mount(server.url(version));
  REQUIRE_FALSE(fs->mkdirs("journal"));
  constexpr int writers = 3, records = 150;
  const std::string record = random_bytes(5000, 11);  // more than one NFSv4 WRITE
  std::atomic<int> failures{0};
  std::mutex mu;
  std::string first_failure;
  auto fail = [&](const std::string& what) {
    ++failures;
    std::lock_guard lock(mu);
    if (first_failure.empty()) first_failure = what;
  };
  std::atomic<bool> writing{true};
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      auto f = fs->open("journal/segment-" + std::to_string(w), open_mode::create_exclusive);
      if (!f) return fail(f.err().describe());
      for (int i = 0; i < records; ++i) {
        if (auto s = (*f)->append(record.data(), record.size())) return fail(s.describe());
        if (i % 10 == 9)
          if (auto s = (*f)->sync()) return fail(s.describe());
      }
      if (auto s = (*f)->sync()) fail(s.describe());
    });
  }
  std::thread scanner([&] {
    while (writing) {
      auto names = fs->list("journal");
      if (!names) return fail(names.err().describe());
      for (auto& n : *names) {
        auto r = fs->open("journal/" + n, open_mode::read_only);
        if (!r) return fail(r.err().describe());
        std::string buf(record.size(), '\0');
        auto got = (*r)->read_at(0, buf.data(), buf.size());
        if (!got) return fail(got.err().describe());
        if (*got == buf.size() && buf != record) return fail("read back different bytes from " + n);
      }
    }
  });
  std::thread lease([&] {
    auto f = fs->open("lease", open_mode::create);
    if (!f) return fail(f.err().describe());
    for (std::uint64_t beat = 0; writing; ++beat) {
      if (auto s = (*f)->write_at(0, &beat, sizeof beat)) return fail(s.describe());
      if (auto s = (*f)->sync()) return fail(s.describe());
    }
  });
  for (auto& t : threads) t.join();
  writing = false;
  scanner.join();
  lease.join();
  INFO(first_failure);
  REQUIRE(failures == 0);
  for (int w = 0; w < writers; ++w) {
    auto st = fs->stat("journal/segment-" + std::to_string(w));
    REQUIRE(st.ok());
    REQUIRE(st->size == records * record.size());
    REQUIRE(local_contents(server.export_dir() + "/journal/segment-" + std::to_string(w)).substr(record.size() * 77, record.size()) == record);
  }
}
