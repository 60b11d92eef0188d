#include "storage/message_index.h"

#include <algorithm>

namespace tandem::storage {

container_id message_index::intern(std::string_view name) {
  auto it = ids_.find(std::string(name));
  if (it != ids_.end()) return it->second;
  auto id = static_cast<container_id>(names_.size());
  names_.emplace_back(name);
  ids_.emplace(names_.back(), id);
  name_bytes_ += name.size() + 8;
  return id;
}

void message_index::account(const index_entry& e, std::int64_t sign) {
  auto& s = segments_[e.segment];
  s.live_bytes += static_cast<std::uint64_t>(sign * static_cast<std::int64_t>(e.length));
  s.live_count += static_cast<std::uint64_t>(sign);
}

void message_index::add_message(std::uint64_t seq, const index_entry& e) {
  next_seq = std::max(next_seq, seq + 1);
  // Seqs almost always arrive in increasing order (writes, checkpoint load, replay): append.
  if (!messages_.empty() && seq <= messages_.rbegin()->first) {
    auto it = messages_.find(seq);
    if (it != messages_.end()) {
      relocate(seq, e.segment, e.offset, e.length);
      return;
    }
  }
  auto ins = messages_.emplace_hint(messages_.end(), seq, e);
  account(ins->second, +1);
}

bool message_index::relocate(std::uint64_t seq, std::uint64_t segment, std::uint64_t offset, std::uint32_t length) {
  auto it = messages_.find(seq);
  if (it == messages_.end()) return false;
  account(it->second, -1);
  it->second.segment = segment;
  it->second.offset = offset;
  it->second.length = length;
  account(it->second, +1);
  return true;
}

bool message_index::add_ref(std::uint64_t seq, container_id c) {
  auto it = messages_.find(seq);
  if (it == messages_.end()) return false;
  auto& cs = it->second.containers;
  if (std::find(cs.begin(), cs.end(), c) == cs.end()) cs.push_back(c);
  return true;
}

bool message_index::remove_ref(std::uint64_t seq, container_id c) {
  auto it = messages_.find(seq);
  if (it == messages_.end()) return false;
  auto& cs = it->second.containers;
  auto pos = std::find(cs.begin(), cs.end(), c);
  if (pos == cs.end()) return false;
  cs.erase(pos);
  if (cs.empty()) {
    account(it->second, -1);
    messages_.erase(it);
  }
  return true;
}

void message_index::remove_container(container_id c) {
  for (auto it = messages_.begin(); it != messages_.end();) {
    auto& cs = it->second.containers;
    cs.erase(std::remove(cs.begin(), cs.end(), c), cs.end());
    if (cs.empty()) {
      account(it->second, -1);
      it = messages_.erase(it);
    } else {
      ++it;
    }
  }
}

void message_index::remove_subscription(const std::string& container) {
  subscriptions_.erase(container);
  auto it = ids_.find(container);
  if (it != ids_.end()) remove_container(it->second);
}

namespace {
// A checkpoint's producer record: framing, the name's length and the seq count.
constexpr std::uint64_t kProducerOverhead = 24;
}  // namespace

void message_index::note_producer(std::string_view producer, std::uint64_t producer_seq, std::uint32_t window,
                                  std::size_t max_producers) {
  if (producer.empty()) return;
  std::string name(producer);
  auto it = producers_.find(name);
  if (it == producers_.end()) {
    producer_bytes_ += name.size() + kProducerOverhead;
    it = producers_.emplace(name, producer_seqs{{}, producer_order_.end()}).first;
    it->second.order = producer_order_.insert(producer_order_.end(), std::move(name));
  } else {
    producer_order_.splice(producer_order_.end(), producer_order_, it->second.order);  // now the newest
  }
  auto& seqs = it->second.seqs;
  if (seqs.insert(producer_seq).second) producer_bytes_ += 8;
  while (seqs.size() > window) {  // keep the newest
    seqs.erase(seqs.begin());
    producer_bytes_ -= 8;
  }
  while (producers_.size() > max_producers) {
    auto oldest = producers_.find(producer_order_.front());
    producer_bytes_ -= oldest->first.size() + kProducerOverhead + 8 * oldest->second.seqs.size();
    producers_.erase(oldest);
    producer_order_.pop_front();
  }
}

std::uint64_t message_index::encoded_size_estimate() const {
  return messages_.size() * 48 + producer_bytes_ + name_bytes_ + subscriptions_.size() * 128;
}

bool message_index::is_duplicate(const std::string& producer, std::uint64_t producer_seq) const {
  auto it = producers_.find(producer);
  return it != producers_.end() && it->second.seqs.count(producer_seq) > 0;
}

void message_index::note_segment(std::uint64_t segment, std::uint64_t epoch, std::uint64_t bytes) {
  auto& s = segments_[segment];
  s.epoch = epoch;
  s.bytes = std::max(s.bytes, bytes);
}

const index_entry* message_index::find(std::uint64_t seq) const {
  auto it = messages_.find(seq);
  return it == messages_.end() ? nullptr : &it->second;
}

void message_index::fill(recovered_state& out) const {
  std::vector<std::vector<pending_ref>*> by_id(names_.size(), nullptr);
  for (auto& [seq, e] : messages_) {
    for (container_id c : e.containers) {
      if (!by_id[c]) by_id[c] = &out.containers[names_[c]];
      by_id[c]->push_back(pending_ref{message_seq(seq), e.priority, e.expires_ms, e.size});
    }
  }
  for (auto& [name, sub] : subscriptions_) {
    out.containers[name];  // present even when empty
    out.durable_subscriptions.push_back(sub);
  }
}

}  // namespace tandem::storage
