#pragma once
// Helpers for store tests: message factories, a crash that leaves no checkpoint behind, and
// a synchronous write.

#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "storage/fault_injecting_file_system.h"
#include "storage/store.h"
#include "tests/unit/storage/storage_test_support.h"

namespace tandem::storage::test {

inline message_record make_message(const std::string& container, std::string body, std::string producer = {},
                                   std::uint64_t producer_seq = 0) {
  message_record m;
  m.destination = container;
  m.containers = {container};
  m.producer_id = std::move(producer);
  m.producer_seq = producer_seq;
  m.timestamp_ms = 1700000000000;
  m.headers = {{"content-type", "text/plain"}};
  m.body = std::move(body);
  return m;
}

inline std::unique_ptr<store> open_store(file_system& fs, const store_options& o) {
  auto s = store::open(fs, o);
  INFO((s.ok() ? std::string() : s.err().describe()));
  REQUIRE(s.ok());
  return std::move(*s);
}

// Writes and waits until durable; returns the completion's error.
inline std::error_code write_sync(store& s, batch& b) {
  completions c;
  auto ec = s.write(b, c.make());
  if (ec) return ec;
  c.wait_for(1);
  return c.codes().front();
}

inline message_seq add_sync(store& s, message_record m) {
  batch b;
  b.add_message(std::move(m));
  REQUIRE_FALSE(write_sync(s, b));
  return b.ops()[0].message.seq;
}

inline void remove_sync(store& s, const std::string& container, message_seq seq) {
  batch b;
  b.remove_ref(container, seq);
  REQUIRE_FALSE(write_sync(s, b));
}

inline void checkpoint_sync(store& s) {
  completions c;
  REQUIRE_FALSE(s.checkpoint(c.make()));
  c.wait_for(1);
  REQUIRE_FALSE(c.codes().front());
}

// The process dies: nothing more reaches the disk (no checkpoint at close).
inline void crash(std::unique_ptr<store>& s, fault_injecting_file_system& fs) {
  fs.set_down(true);
  s.reset();
  fs.set_down(false);
}

inline std::vector<std::uint64_t> pending_seqs(const recovered_state& r, const std::string& container) {
  std::vector<std::uint64_t> out;
  auto it = r.containers.find(container);
  if (it == r.containers.end()) return out;
  for (auto& p : it->second) out.push_back(p.seq.value());
  return out;
}

}  // namespace tandem::storage::test
