// A queue deleted while an open transaction holds the acknowledgement of one of its messages:
// the acknowledgement goes with the queue (the message is deleted for good, in the journal too),
// and the transaction's ABORT or COMMIT afterwards finds nothing of it - no pointer to the
// deleted container, no message coming back, no count moved on a new queue of the same name.

#include <catch2/catch.hpp>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>

#include <optional>
#include <string>
#include <vector>

#include "broker/broker.h"
#include "tests/unit/storage/storage_test_support.h"

using namespace tandem;
using namespace tandem::broker;

namespace {

struct recording_sink : delivery_sink {
  std::vector<std::uint64_t> ack_ids;
  std::vector<std::string> ended;
  bool writable() const override { return true; }
  void deliver(subscription&, const queued&, std::uint64_t ack_id) override { ack_ids.push_back(ack_id); }
  void subscription_ended(subscription&, const std::string& reason) override { ended.push_back(reason); }
};

struct fixture {
  storage::test::scratch_dir dir;
  storage::posix_file_system disk;
  asio::io_context io;
  config cfg;
  std::unique_ptr<storage::store> store;
  std::unique_ptr<tandem::broker::broker> core;

  fixture() {
    cfg.node.name = "node-1";
    open();
  }

  void open() {
    storage::store_options o;
    o.directory = dir.path();
    store = std::move(storage::store::open(disk, o).value());
    core = std::make_unique<tandem::broker::broker>(io, cfg, *store);
    core->recover();
  }

  // A restart: what the journal says is all that is left.
  void reopen() {
    core.reset();
    store.reset();
    io.restart();
    open();
  }

  // Runs the loop until `done` (journal completions are posted from the writer thread), bounded.
  void run_until(const bool& done) {
    auto work = asio::make_work_guard(io);
    for (int i = 0; i < 5000 && !done; ++i) io.run_for(std::chrono::milliseconds(1));
    work.reset();
    io.restart();
    REQUIRE(done);
  }

  void send(const std::string& body) {
    auto m = std::make_shared<message>();
    m->destination = "/queue/q";
    m->persistent = true;
    m->body = body;
    m->message_id = core->next_message_id();
    bool done = false;
    core->send(m, "", 0, [&](const error& e) {
      REQUIRE_FALSE(e);
      done = true;
    });
    run_until(done);
  }

  // "held" sent to /queue/q, delivered to `sub` and acknowledged inside the open `tx`.
  recording_sink sink;
  std::optional<subscription> sub;
  transaction tx;
  void ack_in_transaction() {
    send("held");
    sub.emplace(sink, "s", ack_mode::client_individual, 10, std::nullopt);
    REQUIRE_FALSE(core->subscribe(*sub, "/queue/q", "", "", nullptr));
    REQUIRE(sink.ack_ids.size() == 1);
    core->begin(tx);
    REQUIRE(core->acknowledge(*sub, sink.ack_ids[0], false, &tx, nullptr));
    REQUIRE(tx.acks.size() == 1);
    REQUIRE(sub->unacked().empty());
  }
  subscription* find_sub(const std::string& id) { return id == "s" && sub ? &*sub : nullptr; }

  void delete_queue() {
    bool done = false;
    REQUIRE(core->delete_queue("/queue/q", "/queue/q was deleted", [&](const error& e, std::size_t) {
      REQUIRE_FALSE(e);
      done = true;
    }));
    run_until(done);
  }
};

}  // namespace

TEST_CASE("a queue deleted under an open transaction takes the message it acknowledged; abort brings nothing back",
          "[broker][transactions]") {
  fixture f;
  f.ack_in_transaction();

  f.delete_queue();
  CHECK(f.sink.ended == std::vector<std::string>{"/queue/q was deleted"});
  CHECK(f.tx.acks.empty());  // went with the queue
  CHECK(f.core->find_container("/queue/q") == nullptr);

  // The session still has the subscription (it closes after its ERROR is written) and aborts.
  f.core->abort(f.tx, [&](const std::string& id) { return f.find_sub(id); });
  CHECK(f.sub->unacked().empty());
  CHECK_FALSE(f.core->reject(*f.sub, f.sink.ack_ids[0], nullptr));
  CHECK(f.core->find_container("/queue/q") == nullptr);

  f.reopen();
  CHECK(f.store->recovered().containers.count("/queue/q") == 0);
  CHECK(f.core->find_container("/queue/q") == nullptr);
}

TEST_CASE("a commit after its acknowledged message's queue was deleted and made again touches the new queue not at all",
          "[broker][transactions]") {
  fixture f;
  f.ack_in_transaction();

  f.delete_queue();
  f.send("new");  // a queue of the same name again
  bool committed = false;
  f.core->commit(f.tx, [&](const error& e) {
    CHECK_FALSE(e);
    committed = true;
  });
  f.run_until(committed);
  auto view = f.core->queue_view("/queue/q");
  REQUIRE(view);
  CHECK(view->depth == 1);
  CHECK(view->dequeued == 0);

  f.reopen();
  const auto& pending = f.store->recovered().containers;
  REQUIRE(pending.count("/queue/q") == 1);
  CHECK(pending.at("/queue/q").size() == 1);  // "new" only
  auto page = f.core->browse("/queue/q", 0, 10);
  REQUIRE(page);
  REQUIRE(page->messages.size() == 1);
  CHECK(page->messages[0].body == "new");
}

TEST_CASE("abort gives an acknowledgement back to the subscription that still holds its queue",
          "[broker][transactions]") {
  fixture f;
  f.ack_in_transaction();
  f.core->abort(f.tx, [&](const std::string& id) { return f.find_sub(id); });
  REQUIRE(f.sub->unacked().size() == 1);
  CHECK(f.sub->unacked()[0].source == f.core->find_container("/queue/q"));
  f.core->unsubscribe(*f.sub, false);
}
