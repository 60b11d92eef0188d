// Space reclamation: checkpoints, deletion of dead segments, compaction of sparse ones.
// The ordering argument is in store_impl.h.

#include <fmt/format.h>

#include "common/log.h"
#include "storage/checkpoint.h"
#include "storage/coding.h"
#include "storage/crc32c.h"
#include "storage/store_impl.h"

namespace tandem::storage {
namespace {

// The journal since the last checkpoint may always grow this far (a replay of tens of ms).
constexpr std::uint64_t kMinCheckpointInterval = 16ull << 20;

}  // namespace

std::error_code store_impl::checkpoint(completion done) {
  if (closed_) return refuse(errc::closed, "the store is closed");
  if (writer_->failed()) return refuse(errc::closed, "the store failed: " + writer_->failure().describe());
  return start_checkpoint(std::move(done));
}

void store_impl::forget_deleted() {
  // Forget segments the writer deleted (their read handles would pin the disk space).
  std::lock_guard lk(deleted_mu_);
  for (auto seg : deleted_) {
    readers_.erase(seg);
    segment_names_.erase(seg);
    index_.forget_segment(seg);
  }
  deleted_.clear();
}

void store_impl::maybe_maintain() {
  forget_deleted();
  if (checkpoint_running_.load(std::memory_order_acquire)) return;
  // A checkpoint costs about the size of the index to write (messages, producers' windows,
  // names). Recovery (and so a takeover) reads the newest checkpoint and replays the journal
  // after it: take one whenever the journal since the last has grown to 4x that cost, so a small
  // backlog is replayed in tens of milliseconds while checkpoints add at most a quarter to the
  // bytes written; never less often than every checkpoint_every_bytes.
  const std::uint64_t index_bytes = index_.encoded_size_estimate();
  const std::uint64_t interval =
      std::min(options_.checkpoint_every_bytes, std::max(kMinCheckpointInterval, 4 * index_bytes));
  bool due = bytes_since_checkpoint_ >= interval;
  if (!due && bytes_since_checkpoint_ > 0) {
    // Earlier when it frees at least what it costs (or when the size limit is being hit).
    std::uint64_t active = writer_->end().segment;
    std::uint64_t reclaimable = 0;
    for (auto& [seg, info] : index_.segments()) {
      if (seg >= active) continue;
      if (info.live_count == 0 || info.live_bytes < options_.compact_below_live_ratio * info.bytes)
        reclaimable += info.bytes - info.live_bytes;
    }
    std::uint64_t cost = std::max<std::uint64_t>(options_.segment_bytes, index_bytes);
    bool full = refused_full_;
    due = reclaimable > 0 && (reclaimable >= cost || full);
  }
  if (due) (void)start_checkpoint(nullptr);
}

std::error_code store_impl::start_checkpoint(completion done) {
  forget_deleted();
  checkpoint_running_.store(true, std::memory_order_release);
  const std::uint64_t active = writer_->end().segment;

  // 1. Compaction first, so the snapshot refers to the copies.
  std::vector<std::uint64_t> sparse;
  for (auto& [seg, info] : index_.segments()) {
    if (seg < active && info.live_count > 0 && info.live_bytes < options_.compact_below_live_ratio * info.bytes)
      sparse.push_back(seg);
  }
  for (auto seg : sparse) compact(seg);

  // 2. Snapshot at P; segments wholly before P with nothing live are then unnecessary.
  checkpoint::info ci;
  ci.number = next_checkpoint_++;
  ci.epoch = options_.epoch.value();
  ci.covers = writer_->end();
  std::vector<std::pair<std::uint64_t, std::string>> dead;
  for (auto& [seg, info] : index_.segments()) {
    if (seg < ci.covers.segment && info.live_count == 0 && segment_names_.count(seg))
      dead.emplace_back(seg, segment_names_[seg]);
  }
  auto bytes = std::make_shared<std::string>(checkpoint::encode(index_, ci));
  bytes_since_checkpoint_ = 0;
  dirty_since_checkpoint_ = false;

  writer_->after_durable([this, bytes, ci, dead, done = std::move(done)](const status& err) {
    auto finish = [&](std::error_code ec) {
      checkpoint_running_.store(false, std::memory_order_release);
      if (done) done(ec);
    };
    if (err) return finish(err.code);
    if (!may_write()) return finish(make_error_code(errc::closed));  // fenced: write nothing
    if (auto s = checkpoint::write_file(fs_, options_.directory, ci.epoch, ci.number, *bytes)) {
      // The journal is intact; only reclamation is postponed. Not a store failure.
      log::error("journal", "checkpoint {} failed: {}", ci.number, s.describe());
      return finish(s.code);
    }
    checkpoints_.fetch_add(1);
    // The new checkpoint is durable: the previous one (perhaps an earlier epoch's, loaded at
    // takeover) is no longer needed. Its bytes leave the store's size as the new one's enter.
    std::string path = join_path(options_.directory, checkpoint::file_name(ci.epoch, ci.number));
    if (!checkpoint_path_.empty() && checkpoint_path_ != path) {
      if (auto s = fs_.remove(checkpoint_path_); s && s.code != std::errc::no_such_file_or_directory)
        log::warn("journal", "cannot delete the previous checkpoint {}: {}", checkpoint_path_, s.describe());
    }
    bytes_on_disk_ += static_cast<std::int64_t>(bytes->size()) - static_cast<std::int64_t>(checkpoint_file_bytes_);
    checkpoint_path_ = std::move(path);
    checkpoint_file_bytes_ = bytes->size();
    std::vector<std::uint64_t> removed;
    // A node that may have lost its lease deletes nothing: the new active may still need it.
    const bool fenced = !may_write();
    if (fenced && !dead.empty())
      log::warn("journal", "not deleting {} segments: the lease is not provably held", dead.size());
    for (auto& [seg, name] : dead) {
      if (fenced) break;
      auto st = fs_.stat(name);
      if (!st && st.code() == std::errc::no_such_file_or_directory) continue;  // already gone
      if (auto s = fs_.remove(name)) {
        log::warn("journal", "cannot delete segment {}: {}", name, s.describe());
        continue;
      }
      if (st) bytes_on_disk_ -= static_cast<std::int64_t>(st->size);
      segments_deleted_.fetch_add(1);
      removed.push_back(seg);
    }
    if (!removed.empty()) (void)fs_.sync_dir(options_.directory);
    {
      std::lock_guard lk(deleted_mu_);
      deleted_.insert(deleted_.end(), removed.begin(), removed.end());
    }
    log::debug("journal", "checkpoint {} at segment {} offset {}: {} bytes, {} segments deleted", ci.number,
               ci.covers.segment, ci.covers.offset, bytes->size(), removed.size());
    finish({});
  });

  // Informational marker in the journal (recovery does not depend on it).
  auto marker = std::make_shared<std::string>();
  auto start = journal::begin_record(*marker);
  journal::encode_checkpoint_marker(*marker, {ci.number, ci.covers});
  journal::end_record(*marker, start, journal::record_type::checkpoint_marker);
  std::size_t size = marker->size();
  note_append(writer_->append(marker, nullptr), size);
  dirty_since_checkpoint_ = false;
  bytes_since_checkpoint_ = 0;
  return {};
}

namespace {

// Shared by the fills of one compaction: a read handle opened on the writer thread.
struct compaction_source {
  file_system* fs;
  std::string path;
  std::unique_ptr<file> f;
};

void write_padding(char* dst, std::size_t size) {
  std::string rec;
  auto start = journal::begin_record(rec);
  rec.append(size - journal::record_header_size, '\0');
  journal::end_record(rec, start, journal::record_type::padding);
  std::memcpy(dst, rec.data(), size);
}

}  // namespace

void store_impl::compact(std::uint64_t segment) {
  auto name = segment_names_.find(segment);
  if (name == segment_names_.end()) return;
  auto src = std::make_shared<compaction_source>(compaction_source{&fs_, name->second, nullptr});
  std::vector<std::uint64_t> seqs;
  for (auto& [seq, e] : index_.messages()) {
    if (e.segment == segment) seqs.push_back(seq);
  }
  for (auto seq : seqs) {
    const index_entry e = *index_.find(seq);
    std::string prefix;
    std::vector<std::string> containers;
    for (auto c : e.containers) containers.push_back(index_.container_name(c));
    journal::encode_relocated_prefix(prefix, containers);
    // Space is reserved before the old record is read (on the writer thread). The new
    // payload is prefix + u32 length + the message payload, which is never longer than the
    // old record's whole payload plus 4; any slack is zero padding inside the record.
    std::size_t size = journal::record_header_size + prefix.size() + 4 + (e.length - journal::record_header_size);
    journal::position old{segment, e.offset};
    std::uint32_t old_len = e.length;
    auto fill = [src, prefix, old, old_len, size](char* dst) {
      std::string raw(old_len, '\0');
      bool ok = false;
      if (!src->f) {
        auto f = src->fs->open(src->path, open_mode::read_only);
        if (f) src->f = std::move(*f);
      }
      if (src->f) {
        auto n = src->f->read_at(old.offset, raw.data(), raw.size());
        ok = n && *n == raw.size();
      }
      std::optional<journal::record_view> rec;
      if (ok) rec = journal::check_record(raw.data(), raw.size());
      std::string_view payload;
      if (rec && rec->type == journal::record_type::message_added) {
        payload = rec->payload;
      } else if (rec && rec->type == journal::record_type::message_relocated) {
        std::vector<std::string_view> ignored;
        if (!journal::decode_relocated(rec->payload, ignored, payload)) rec.reset();
      } else {
        rec.reset();
      }
      if (!rec) {
        log::error("journal", "compaction: cannot read the record at segment {} offset {}; message lost to padding",
                   old.segment, old.offset);
        write_padding(dst, size);
        return;
      }
      std::string out;
      out.reserve(size);
      auto start = journal::begin_record(out);
      out.append(prefix);
      coding::put_str(out, payload);
      out.resize(size, '\0');
      journal::end_record(out, start, journal::record_type::message_relocated);
      std::memcpy(dst, out.data(), size);
    };
    auto t = writer_->append_deferred(size, fill, nullptr);
    note_append(t, size);
    // Until the copy is in the file, reads are served from where the message is now: its
    // original buffer if that is not written yet either, else its old location (deleted
    // only after a checkpoint that follows the copy).
    auto prev = inflight_.find(seq);
    if (prev != inflight_.end() && prev->second.ticket > writer_->written_ticket()) {
      inflight in = prev->second;
      in.ticket = t.id;
      inflight_[seq] = in;
    } else {
      inflight_[seq] = inflight{nullptr, 0, t.id, true, old, old_len};
    }
    inflight_order_.emplace_back(t.id, seq);
    index_.relocate(seq, t.pos.segment, t.pos.offset, static_cast<std::uint32_t>(size));
  }
  segments_compacted_.fetch_add(1);
  log::debug("journal", "compacting segment {}: {} live messages moved to the head", segment, seqs.size());
}

}  // namespace tandem::storage
