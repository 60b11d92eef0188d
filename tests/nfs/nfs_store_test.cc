// The message store (storage/store.h) running over the nfs backend against a real Ganesha.

#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "storage/nfs_file_system.h"
#include "storage/store.h"
#include "tests/support/ganesha_server.h"

using namespace tandem::storage;
using tandem::test::ganesha_server;

namespace {

// Waits (bounded) for one write's completion.
class waiter {
 public:
  completion make() {
    return [this](std::error_code ec) {
      std::lock_guard lk(mu_);
      ++done_;
      if (ec) first_error_ = first_error_ ? first_error_ : ec;
      cv_.notify_all();
    };
  }
  std::error_code wait(int n) {
    std::unique_lock lk(mu_);
    bool ok = cv_.wait_for(lk, std::chrono::seconds(60), [&] { return done_ >= n; });
    REQUIRE(ok);
    return first_error_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int done_ = 0;
  std::error_code first_error_;
};

message_record make_message(const std::string& queue, std::string body) {
  message_record m;
  m.destination = queue;
  m.containers = {queue};
  m.timestamp_ms = 1700000000000;
  m.headers = {{"content-type", "text/plain"}};
  m.body = std::move(body);
  return m;
}

std::string body_for(int i) {
  // Sizes from tiny to several NFSv4 WRITEs.
  return std::string(static_cast<std::size_t>(10 + (i * 977) % 9000), static_cast<char>('a' + i % 26)) + std::to_string(i);
}

std::unique_ptr<store> open_store(file_system& fs, const store_options& o) {
  auto s = store::open(fs, o);
  INFO((s ? std::string() : s.err().describe()));
  REQUIRE(s.ok());
  return std::move(*s);
}

}  // namespace

TEST_CASE("messages written through the store over NFS are recovered after reopen", "[nfs][store]") {
  ganesha_server server;
  int version = GENERATE(3, 4);
  INFO("NFSv" << version);
  auto fs = nfs_file_system::open(server.url(version));
  REQUIRE(fs.ok());
  store_options o;
  o.directory = "broker/store";
  o.segment_bytes = 128 << 10;  // several segments
  const int count = 120;
  std::vector<message_seq> seqs;
  {
    auto s = open_store(**fs, o);
    waiter w;
    for (int i = 0; i < count; ++i) {
      batch b;
      b.add_message(make_message(i % 2 ? "/queue/odd" : "/queue/even", body_for(i)));
      REQUIRE_FALSE(s->write(b, w.make()));
      seqs.push_back(b.ops()[0].message.seq);
    }
    REQUIRE_FALSE(w.wait(count));
    batch ack;  // acknowledge the first even message
    ack.remove_ref("/queue/even", seqs[0]);
    waiter w2;
    REQUIRE_FALSE(s->write(ack, w2.make()));
    REQUIRE_FALSE(w2.wait(1));
    REQUIRE(s->stats().segments > 1);
    s->close();
  }
  // A fresh file system (as a restarted broker would have) recovers everything.
  auto fs2 = nfs_file_system::open(server.url(version));
  REQUIRE(fs2.ok());
  auto s = open_store(**fs2, o);
  auto& r = s->recovered();
  REQUIRE(r.corrupt_records_skipped == 0);
  REQUIRE(r.containers.at("/queue/odd").size() == count / 2);
  REQUIRE(r.containers.at("/queue/even").size() == count / 2 - 1);
  for (int i : {1, 2, 7, 64, 119}) {
    auto m = s->read_message(seqs[static_cast<std::size_t>(i)]);
    INFO("message " << i << ": " << (m ? std::string() : m.err().describe()));
    REQUIRE(m.ok());
    REQUIRE(m->body == body_for(i));
  }
}
