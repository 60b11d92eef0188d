#pragma once
// The store's in-memory index: every live message (where its record is, what references it),
// durable subscriptions, producer windows for duplicate detection, and per-segment live-byte
// accounting for space reclamation. Built by recovery (checkpoint + replay) and then kept up
// to date by the store at write() time.
//
// Not thread-safe: owned by the store's caller thread (and by recovery before that).

#include <cstdint>
#include <list>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "storage/journal_format.h"
#include "storage/store.h"

namespace tandem::storage {

using container_id = std::uint32_t;

struct index_entry {
  std::uint64_t segment = 0;
  std::uint64_t offset = 0;
  std::uint32_t length = 0;  // whole record, header included
  std::uint32_t size = 0;    // headers + body bytes
  std::int64_t expires_ms = 0;
  std::uint8_t priority = 4;
  std::vector<container_id> containers;  // never empty while the entry exists
};

struct segment_info {
  std::uint64_t epoch = 0;
  std::uint64_t bytes = 0;       // file bytes (header + records), as written so far
  std::uint64_t live_bytes = 0;  // record bytes of live messages stored in it
  std::uint64_t live_count = 0;
};

class message_index {
 public:
  message_index() = default;
  // Not copyable: the producers' places in producer_order_ are iterators into this object's
  // own list. Moving keeps them valid.
  message_index(const message_index&) = delete;
  message_index& operator=(const message_index&) = delete;
  message_index(message_index&&) = default;
  message_index& operator=(message_index&&) = default;

  container_id intern(std::string_view name);
  const std::string& container_name(container_id id) const { return names_[id]; }
  const std::vector<std::string>& container_names() const { return names_; }

  // Adds a live message; an existing seq is moved to the new location instead (compaction's
  // copy replayed) and keeps its current references.
  void add_message(std::uint64_t seq, const index_entry& e);
  // Moves a message's record. Returns false if the seq is not live.
  bool relocate(std::uint64_t seq, std::uint64_t segment, std::uint64_t offset, std::uint32_t length);
  bool add_ref(std::uint64_t seq, container_id c);
  // Removes one reference; the message dies with its last one.
  bool remove_ref(std::uint64_t seq, container_id c);
  // Removes every reference `c` holds (a durable subscription going away).
  void remove_container(container_id c);

  void add_subscription(const durable_subscription& s) { subscriptions_[s.container] = s; }
  void remove_subscription(const std::string& container);

  // Remembers `producer_seq` for duplicate detection: the newest `window` seqs of each producer,
  // and at most `max_producers` producers, forgetting the one that sent least recently (every
  // client and every run of a tool is a new producer: without a bound, a long-lived broker's
  // memory and checkpoints would grow with every producer it ever saw).
  void note_producer(std::string_view producer, std::uint64_t producer_seq, std::uint32_t window,
                     std::size_t max_producers);
  bool is_duplicate(const std::string& producer, std::uint64_t producer_seq) const;

  void note_segment(std::uint64_t segment, std::uint64_t epoch, std::uint64_t bytes);
  void forget_segment(std::uint64_t segment) { segments_.erase(segment); }

  const index_entry* find(std::uint64_t seq) const;
  const std::map<std::uint64_t, index_entry>& messages() const { return messages_; }
  const std::map<std::string, durable_subscription>& subscriptions() const { return subscriptions_; }
  // Every remembered producer with its seqs, the one that sent least recently first.
  template <typename Fn>
  void for_each_producer(Fn&& fn) const {
    for (const auto& name : producer_order_) fn(name, producers_.at(name).seqs);
  }
  std::size_t producer_count() const { return producers_.size(); }
  // About the bytes a checkpoint of this index takes (messages, producers' windows, names,
  // subscriptions): what a checkpoint costs to write.
  std::uint64_t encoded_size_estimate() const;
  std::map<std::uint64_t, segment_info>& segments() { return segments_; }
  const std::map<std::uint64_t, segment_info>& segments() const { return segments_; }

  std::uint64_t next_seq = 1;

  // The recovered_state view: containers in ascending seq order, subscriptions.
  void fill(recovered_state& out) const;

 private:
  void account(const index_entry& e, std::int64_t sign);

  std::map<std::uint64_t, index_entry> messages_;
  std::vector<std::string> names_;
  std::uint64_t name_bytes_ = 0;  // names_ as a checkpoint writes them (name + 8 each)
  std::unordered_map<std::string, container_id> ids_;
  std::map<std::string, durable_subscription> subscriptions_;
  struct producer_seqs {
    std::set<std::uint64_t> seqs;
    std::list<std::string>::iterator order;  // its place in producer_order_
  };
  std::unordered_map<std::string, producer_seqs> producers_;
  std::list<std::string> producer_order_;  // least recently noted first
  std::uint64_t producer_bytes_ = 0;       // names plus 8 bytes per remembered seq
  std::map<std::uint64_t, segment_info> segments_;
};

}  // namespace tandem::storage
