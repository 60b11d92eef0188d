// The broker core when its journal fails: the node hears of it (on_store_failure) before any
// client hears of the failed operation, so a node can close its connections first and clients
// re-send to the node that takes over instead of being refused by this one.

#include <catch2/catch.hpp>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>

#include <future>
#include <string>
#include <vector>

#include "broker/broker.h"
#include "storage/fault_injecting_file_system.h"
#include "tests/unit/storage/storage_test_support.h"

using namespace tandem;
using namespace tandem::broker;
using storage::fault_op;

namespace {

struct fixture {
  storage::test::scratch_dir dir;
  storage::posix_file_system disk;
  storage::fault_injecting_file_system fs{disk};
  asio::io_context io;
  config cfg;
  std::unique_ptr<storage::store> store;
  std::unique_ptr<tandem::broker::broker> core;
  std::vector<std::string> events;  // in the order they happened

  fixture() {
    cfg.node.name = "node-1";
    storage::store_options o;
    o.directory = dir.path();
    store = std::move(storage::store::open(fs, o).value());
    core = std::make_unique<tandem::broker::broker>(io, cfg, *store);
    core->recover();
    core->on_store_failure([this](const error& e) { events.push_back("store failed: " + e.message); });
  }

  void send(const std::string& body) {
    auto m = std::make_shared<message>();
    m->destination = "/queue/q";
    m->persistent = true;
    m->body = body;
    m->message_id = "p:" + body;
    core->send(m, "p", events.size() + 1, [this, body](const error& e) {
      events.push_back(body + (e ? ": " + e.message : ": ok"));
    });
  }

  void run_until(std::size_t n) {
    // The writer thread posts later: keep the loop waiting for it (bounded).
    auto work = asio::make_work_guard(io);
    for (int i = 0; i < 5000 && events.size() < n; ++i) io.run_for(std::chrono::milliseconds(1));
    work.reset();
    io.restart();
  }
};

}  // namespace

TEST_CASE("a failed journal write is reported to the node before the sender hears of it", "[broker][store]") {
  fixture f;
  f.send("one");
  f.run_until(1);
  REQUIRE(f.events == std::vector<std::string>{"one: ok"});

  f.fs.fail_next(fault_op::sync, 1);
  f.send("two");
  f.run_until(3);
  REQUIRE(f.events.size() == 3);
  CHECK(f.events[1].rfind("store failed: ", 0) == 0);
  CHECK(f.events[2].rfind("two: journal write failed", 0) == 0);
  CHECK(f.events[2].find("in doubt") != std::string::npos);

  // Reported once: a later write is refused (the store has failed) without a second report.
  f.send("three");
  f.run_until(4);
  REQUIRE(f.events.size() == 4);
  CHECK(f.events[3].rfind("three: the store failed", 0) == 0);
}

TEST_CASE("a write refused because the store already failed reports the failure first", "[broker][store]") {
  // The writer failed (a checkpoint or another session's write) but no completion has reached
  // the event loop yet: the next SEND is refused at once, and the node must hear of it before
  // the refusal goes back to the client.
  fixture f;
  f.fs.fail_next(fault_op::sync, 1);
  std::error_code failed;
  storage::batch b;
  storage::message_record r;
  r.destination = "/queue/other";
  r.containers = {"/queue/other"};
  r.body = "x";
  b.add_message(r);
  std::promise<void> done;
  REQUIRE_FALSE(f.store->write(b, [&](std::error_code ec) { failed = ec; done.set_value(); }));
  done.get_future().wait();  // the writer has failed; nothing was posted to the loop
  REQUIRE(failed);
  REQUIRE(f.store->failed());

  f.send("refused");
  f.run_until(2);
  REQUIRE(f.events.size() == 2);
  CHECK(f.events[0].rfind("store failed: ", 0) == 0);
  CHECK(f.events[1].rfind("refused: the store failed", 0) == 0);
}

TEST_CASE("a completion that arrives after the broker is gone is dropped", "[broker][store]") {
  // A fenced node destroys its core while the abandoned store's writer may still complete
  // writes (a storage call that had to time out first).
  fixture f;
  f.fs.stall(fault_op::sync);
  f.send("in flight");
  f.fs.wait_stalled(fault_op::sync, 1);
  f.store->abandon();
  f.core.reset();
  f.fs.release(fault_op::sync);
  f.store.reset();  // joins the writer: its completion has been posted by now
  f.io.restart();
  f.io.run_for(std::chrono::milliseconds(50));
  CHECK(f.events.empty());
}
