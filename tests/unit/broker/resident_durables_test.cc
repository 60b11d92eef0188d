#include <catch2/catch.hpp>

#include "broker/resident_durables.h"

using namespace tandem::broker;

namespace {

message_ptr journaled(std::size_t body_bytes, std::uint64_t seq) {
  auto m = std::make_shared<message>();
  m->body.assign(body_bytes, 'x');
  m->stored = tandem::storage::message_seq(seq);
  m->account();
  return m;
}

}  // namespace

TEST_CASE("shedding pages out the newest journaled bodies first, until under the budget", "[memory]") {
  resident_durables r;
  auto base = resident_message_bytes();
  auto a = journaled(1000, 1), b = journaled(1000, 2), c = journaled(1000, 3);
  for (auto& m : {a, b, c}) r.note(m);
  CHECK(r.shed(base + 1500) >= 2000);
  CHECK(a->loaded);
  CHECK_FALSE(b->loaded);
  CHECK_FALSE(c->loaded);
  CHECK(resident_message_bytes() <= base + 1500);
}

TEST_CASE("shedding skips messages already gone and stops when nothing is left", "[memory]") {
  resident_durables r;
  auto base = resident_message_bytes();
  auto kept = journaled(500, 1);
  r.note(kept);
  r.note(journaled(500, 2));  // consumed at once: only an expired note remains
  CHECK(r.shed(base - 1) == 500);
  CHECK_FALSE(kept->loaded);
  CHECK(r.size() == 0);
}

TEST_CASE("notes of consumed messages are swept as the list grows", "[memory]") {
  resident_durables r;
  auto alive = journaled(10, 1);
  r.note(alive);
  for (int i = 0; i < 5000; ++i) r.note(journaled(10, 100 + i));
  CHECK(r.size() < 2100);  // swept at 1024, then at twice what was alive
}
