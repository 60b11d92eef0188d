// Randomised crash consistency: many rounds of writes, removals, checkpoints, compaction and
// segment deletion, each ended by a host crash at a random moment (drop_unsynced). After
// every reopen, everything acknowledged must be exactly as acknowledged.
#include <catch2/catch.hpp>

#include <map>
#include <random>
#include <set>

#include "common/log.h"
#include "tests/unit/storage/store_test_support.h"

using namespace tandem::storage;
using namespace tandem::storage::test;

TEST_CASE("acknowledged state survives random crashes during reclamation", "[store][crash]") {
  tandem::log::set_level(tandem::log::level::error);
  scratch_dir dir;
  posix_file_system disk;
  fault_injecting_file_system fs(disk);
  store_options o;
  o.directory = dir.path();
  o.segment_bytes = 8 * 1024;
  o.checkpoint_every_bytes = 24 * 1024;
  auto seed = GENERATE(4242u, 1u, 2u, 3u, 5u);
  std::mt19937 rng(seed);
  INFO("seed " << seed);

  // seq -> body of messages whose add was acknowledged and whose removal was never issued.
  std::map<std::uint64_t, std::string> must_exist;
  std::set<std::uint64_t> must_not_exist;  // removal acknowledged
  std::map<std::uint64_t, std::string> maybe;  // add issued; removal issued but not acknowledged
  std::set<std::uint64_t> uncertain_removals;  // of durable messages
  std::uint64_t next_body = 0;
  std::uint64_t deleted = 0, compacted = 0;

  for (int round = 0; round < 12; ++round) {
    auto s = open_store(fs, o);
    // Check the previous round's promises.
    auto pending = pending_seqs(s->recovered(), "/queue/c");
    std::set<std::uint64_t> present(pending.begin(), pending.end());
    for (auto& [seq, body] : must_exist) {
      INFO("round " << round << " seq " << seq);
      REQUIRE(present.count(seq) == 1);
      REQUIRE(s->read_message(message_seq(seq))->body == body);
    }
    for (auto seq : must_not_exist) {
      INFO("round " << round << " removed seq " << seq << " dir " << dir.path());
      REQUIRE(present.count(seq) == 0);
    }
    // Whatever survived of the uncertain ones is now certain until we touch it. A lost
    // uncertain add says nothing: its seq was never durable and may be assigned again.
    for (auto& [seq, body] : maybe) {
      if (present.count(seq)) must_exist[seq] = body;
      else if (uncertain_removals.count(seq)) must_not_exist.insert(seq);
    }
    maybe.clear();
    uncertain_removals.clear();

    int ops = 150 + static_cast<int>(rng() % 100);
    int crash_at = static_cast<int>(rng() % ops);
    completions uncertain;
    for (int i = 0; i < ops; ++i) {
      if (i == crash_at) fs.stall(fault_op::sync);  // from here on nothing becomes durable
      bool acked_phase = i < crash_at;
      batch b;
      std::vector<std::uint64_t> removing;
      // Remove mostly old messages, sometimes a recent one: segments die whole or thin out.
      for (int k = 0; k < 2 && !must_exist.empty() && rng() % 2 == 0; ++k) {
        auto it = must_exist.begin();
        if (rng() % 4 == 0) std::advance(it, rng() % must_exist.size());
        if (std::find(removing.begin(), removing.end(), it->first) != removing.end()) continue;
        b.remove_ref("/queue/c", message_seq(it->first));
        removing.push_back(it->first);
      }
      std::string body = "m" + std::to_string(next_body++) + std::string(rng() % 900, 'b');
      b.add_message(make_message("/queue/c", body));
      if (acked_phase) {
        REQUIRE_FALSE(write_sync(*s, b));
        for (auto r : removing) {
          must_exist.erase(r);
          must_not_exist.insert(r);
        }
        must_exist[b.ops().back().message.seq.value()] = body;
      } else {
        REQUIRE_FALSE(s->write(b, uncertain.make()));
        for (auto r : removing) {
          maybe[r] = must_exist[r];
          uncertain_removals.insert(r);
          must_exist.erase(r);
        }
        maybe[b.ops().back().message.seq.value()] = body;
      }
    }
    if (crash_at < ops) fs.wait_stalled(fault_op::sync, 1);
    deleted += s->stats().segments_deleted;
    compacted += s->stats().segments_compacted;
    fs.set_down(true);
    fs.release(fault_op::sync);
    s.reset();
    fs.set_down(false);
    fs.drop_unsynced();
    REQUIRE(uncertain.count() == static_cast<std::size_t>(ops - crash_at));
    REQUIRE(uncertain.errors() == uncertain.count());
  }
  INFO("segments deleted " << deleted << ", compacted " << compacted);
  REQUIRE(deleted > 0);
  REQUIRE(compacted > 0);
}
