// Opening a store: load the newest valid checkpoint, replay the journal after its position,
// finish any interrupted segment deletion, and start a fresh segment for this writer.

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <tuple>

#include <fmt/format.h>

#include "common/log.h"
#include "storage/checkpoint.h"
#include "storage/journal_reader.h"
#include "storage/store_impl.h"

namespace tandem::storage {

result<std::unique_ptr<store>> store::open(file_system& fs, store_options options) {
  auto s = std::make_unique<store_impl>(fs, std::move(options));
  if (auto err = s->recover()) return err;
  return std::unique_ptr<store>(std::move(s));
}

namespace {
struct seg_file {
  std::uint64_t segment, epoch;
  std::string name;
};
}  // namespace

status store_impl::recover() {
  auto t0 = std::chrono::steady_clock::now();
  const std::string& dir = options_.directory;
  if (auto s = fs_.mkdirs(dir)) return s;
  auto names = fs_.list(dir);
  if (!names) return names.err();

  std::vector<seg_file> segs;
  std::vector<std::tuple<std::uint64_t, std::uint64_t, std::string>> ckpts;  // epoch, number, path
  for (auto& n : *names) {
    std::uint64_t a, b;
    if (journal::parse_segment_file_name(n, a, b)) {
      segs.push_back({b, a, join_path(dir, n)});
    } else if (checkpoint::parse_file_name(n, a, b)) {
      ckpts.emplace_back(a, b, join_path(dir, n));
    } else if (n.size() > 4 && n.substr(n.size() - 4) == ".tmp" && n.rfind("checkpoint-", 0) == 0) {
      (void)fs_.remove(join_path(dir, n));  // a checkpoint interrupted before its rename
    }
  }
  std::sort(segs.begin(), segs.end(), [](auto& x, auto& y) { return std::tie(x.segment, x.epoch) < std::tie(y.segment, y.epoch); });
  std::sort(ckpts.rbegin(), ckpts.rend());  // newest epoch first, then newest number

  // Fencing (FORMAT.md): find where each takeover sealed the log it took over. A writer of a
  // NEWER epoch than ours means we are the stale one.
  std::vector<seal> seals;
  for (auto& s : segs) {
    if (s.epoch > options_.epoch.value())
      return status{make_error_code(errc::closed),
                    fmt::format("{} belongs to epoch {}, newer than this writer's epoch {}: fenced", s.name, s.epoch,
                                options_.epoch.value())};
    if (auto sl = read_seal(s.name, s.segment)) seals.push_back(*sl);
  }

  // Newest checkpoint that validates completely; a damaged one is skipped, not fatal. One
  // that covers more of an older epoch's log than the takeover sealed was written by a
  // stale writer after the takeover and is not trusted.
  journal::position from{0, 0};
  std::uint64_t loaded = 0, ckpt_epoch = 0, max_number = 0, loaded_bytes = 0;
  std::string loaded_path;
  for (auto& [epoch, number, path] : ckpts) {
    max_number = std::max(max_number, number);
    if (!loaded_path.empty()) continue;
    message_index idx;
    auto r = checkpoint::load(fs_, path, idx);
    if (!r) {
      ++recovered_.corrupt_records_skipped;
      log::warn("journal", "ignoring checkpoint {}: {}", path, r.err().describe());
      continue;
    }
    bool stale = false;
    for (auto& sl : seals) stale |= sl.epoch > r->epoch && r->covers > sl.sealed;
    if (stale) {
      log::warn("journal", "ignoring checkpoint {}: written by epoch {} after a newer epoch took over", path, r->epoch);
      continue;
    }
    index_ = std::move(idx);
    from = r->covers;
    loaded = number;
    ckpt_epoch = r->epoch;
    loaded_path = path;
    loaded_bytes = r->file_bytes;
  }
  next_checkpoint_ = max_number + 1;
  for (auto& [epoch, number, path] : ckpts) {
    if (path != loaded_path) (void)fs_.remove(path);
  }
  checkpoint_path_ = loaded_path;
  checkpoint_file_bytes_ = loaded_bytes;
  bytes_on_disk_ += static_cast<std::int64_t>(loaded_bytes);
  if (!ckpts.empty() && loaded == 0 && !segs.empty() && segs.front().segment > 1)
    log::error("journal", "no valid checkpoint and the journal starts at segment {}: replaying what is left; "
               "messages whose segments were reclaimed are lost", segs.front().segment);

  for (auto& s : segs) {
    auto st = fs_.stat(s.name);
    std::uint64_t size = st ? st->size : 0;
    index_.note_segment(s.segment, s.epoch, size);
    bytes_on_disk_ += static_cast<std::int64_t>(size);
  }

  // Drop what a stale writer of an older epoch wrote after a newer writer took over.
  std::vector<replay_segment> to_replay;
  std::uint64_t last_live_segment = 0;
  for (auto& s : segs) {
    bool stale = ckpt_epoch > s.epoch && s.segment >= from.segment;
    std::uint64_t limit = UINT64_MAX;
    for (auto& sl : seals) {
      if (sl.epoch <= s.epoch) continue;
      if (sl.first_segment <= s.segment) stale = true;  // created after the takeover
      if (sl.sealed.segment == s.segment) limit = std::min(limit, sl.sealed.offset);
    }
    if (stale) {
      log::warn("journal", "ignoring {}: written by epoch {} after a newer epoch took over", s.name, s.epoch);
      index_.forget_segment(s.segment);
      continue;
    }
    segment_names_[s.segment] = s.name;
    last_live_segment = s.segment;
    if (s.segment >= from.segment) {
      std::uint64_t start = (s.segment == from.segment && s.epoch == ckpt_epoch) ? from.offset : 0;
      to_replay.push_back({s.segment, s.name, start, limit});
    }
  }
  if (auto s = replay(to_replay)) return s;

  // Segments before the checkpoint with nothing live: a deletion the last run did not finish.
  bool removed = false;
  for (auto& s : segs) {
    if (s.segment >= from.segment) continue;
    auto it = index_.segments().find(s.segment);
    if (it != index_.segments().end() && it->second.live_count > 0) continue;
    if (!fs_.remove(s.name)) {
      bytes_on_disk_ -= static_cast<std::int64_t>(it == index_.segments().end() ? 0 : it->second.bytes);
      index_.forget_segment(s.segment);
      segment_names_.erase(s.segment);
      removed = true;
    }
  }
  if (removed) (void)fs_.sync_dir(dir);

  // This writer's first segment; never append to a segment an earlier writer left.
  std::uint64_t first = segs.empty() ? 1 : segs.back().segment + 1;
  journal::epoch_start_payload es;
  es.epoch = options_.epoch.value();
  if (last_live_segment > 0) es.sealed = journal::position{last_live_segment, sealed_end_};
  journal::writer_options wo;
  wo.directory = dir;
  wo.epoch = options_.epoch.value();
  wo.segment_bytes = options_.segment_bytes;
  wo.preallocate = fs_.zero_fill_helps() && std::getenv("TANDEM_NO_PREALLOC") == nullptr;  // env: for measuring both
  wo.may_write = [this] { return may_write(); };
  if (!options_.metrics) options_.metrics = std::make_shared<journal_metrics>();
  wo.metrics = options_.metrics;
  auto w = journal::journal_writer::open(fs_, wo, first);
  if (!w) return w.err();
  writer_ = std::move(*w);
  segment_names_[first] = join_path(dir, journal::segment_file_name(wo.epoch, first));
  bytes_on_disk_ += static_cast<std::int64_t>(journal::segment_header_size);
  auto rec = std::make_shared<std::string>();
  auto start = journal::begin_record(*rec);
  journal::encode_epoch_start(*rec, es);
  journal::end_record(*rec, start, journal::record_type::epoch_start);
  std::size_t size = rec->size();
  note_append(writer_->append(rec, nullptr), size);
  dirty_since_checkpoint_ = recovered_.records_replayed > 0;

  index_.fill(recovered_);
  recovered_.recovery_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  log::info("journal", "recovered {}: {} live messages, {} containers, checkpoint {}, {} records replayed, "
            "{} corrupt skipped, {:.1f} ms; writing segment {} as epoch {}",
            dir, index_.messages().size(), recovered_.containers.size(), loaded, recovered_.records_replayed,
            recovered_.corrupt_records_skipped, recovered_.recovery_ms, first, es.epoch);
  return {};
}

std::optional<store_impl::seal> store_impl::read_seal(const std::string& path, std::uint64_t segment) {
  // epoch_start is the first record of a segment a writer opened at start-up.
  auto f = fs_.open(path, open_mode::read_only);
  if (!f) return std::nullopt;
  char buf[journal::segment_header_size + journal::record_header_size + 24];
  auto n = (*f)->read_at(0, buf, sizeof buf);
  if (!n || *n != sizeof buf) return std::nullopt;
  auto rec = journal::check_record(buf + journal::segment_header_size, sizeof buf - journal::segment_header_size);
  journal::epoch_start_payload es;
  if (!rec || rec->type != journal::record_type::epoch_start || !journal::decode_epoch_start(rec->payload, es))
    return std::nullopt;
  return seal{es.epoch, segment, es.sealed};
}

status store_impl::replay(const std::vector<replay_segment>& segments) {
  struct pending {
    journal::record_type type;
    std::string_view payload;
    journal::position pos;
    std::size_t size;
  };
  for (auto& [number, path, start, limit] : segments) {
    auto r = journal::segment_reader::open(fs_, path, number);
    if (!r) return r.err();
    if (r->header() && r->header()->segment != number)
      log::warn("journal", "segment {}: header says segment {}", path, r->header()->segment);
    if (start > journal::segment_header_size) r->seek(start);

    // A transaction is one contiguous write inside one segment: its ops apply only when
    // its commit follows with nothing else (and no damage) in between.
    std::vector<pending> txn;
    bool in_txn = false;
    std::uint64_t txn_id = 0;
    std::uint32_t txn_ops = 0;
    std::size_t corrupt_seen = r->corruptions().size();
    journal::segment_reader::entry e;
    bool sealed = false;
    while (r->next(e)) {
      if (e.pos.offset >= limit) {
        log::warn("journal", "{}: ignoring records after offset {}, sealed by a newer epoch", path, limit);
        sealed = true;
        break;
      }
      ++recovered_.records_replayed;
      if (r->corruptions().size() != corrupt_seen) {
        corrupt_seen = r->corruptions().size();
        if (in_txn) log::warn("journal", "segment {}: transaction {} damaged; none of its ops applied", path, txn_id);
        in_txn = false;
        txn.clear();
      }
      using journal::record_type;
      if (e.type == record_type::txn_begin || e.type == record_type::txn_commit || e.type == record_type::txn_abort) {
        journal::txn_payload tp;
        if (!journal::decode_txn(e.payload, e.type, tp)) {
          ++recovered_.corrupt_records_skipped;
          in_txn = false;
          txn.clear();
          continue;
        }
        if (e.type == record_type::txn_begin) {
          if (in_txn) log::warn("journal", "segment {}: transaction {} has no commit; ignored", path, txn_id);
          in_txn = true;
          txn_id = tp.txn_id;
          txn_ops = tp.op_count;
          txn.clear();
        } else if (in_txn && tp.txn_id == txn_id && e.type == record_type::txn_commit && txn.size() == txn_ops) {
          for (auto& p : txn) apply(p.type, p.payload, p.pos, p.size);
          in_txn = false;
          txn.clear();
        } else {
          in_txn = false;
          txn.clear();
        }
        continue;
      }
      if (in_txn) {
        txn.push_back({e.type, e.payload, e.pos, e.size});
        continue;
      }
      apply(e.type, e.payload, e.pos, e.size);
    }
    if (in_txn) log::info("journal", "segment {}: torn transaction {} at the tail ignored", path, txn_id);
    recovered_.corrupt_records_skipped += r->corruptions().size();
    index_.note_segment(number, r->header() ? r->header()->epoch : 0, r->file_size());
    sealed_end_ = sealed ? limit : r->valid_end();
  }
  return {};
}

void store_impl::apply(journal::record_type type, std::string_view payload, journal::position pos, std::size_t size) {
  using journal::record_type;
  auto bad = [&] {
    ++recovered_.corrupt_records_skipped;
    log::warn("journal", "segment {} offset {}: undecodable {} record skipped", pos.segment, pos.offset,
              journal::to_string(type));
  };
  auto add = [&](const journal::message_meta& m, const std::vector<std::string_view>& containers) {
    index_.next_seq = std::max(index_.next_seq, m.seq + 1);
    index_entry e;
    e.segment = pos.segment;
    e.offset = pos.offset;
    e.length = static_cast<std::uint32_t>(size);
    e.size = m.size;
    e.priority = m.priority;
    e.expires_ms = m.expires_ms;
    for (auto c : containers) {
      auto id = index_.intern(c);
      if (std::find(e.containers.begin(), e.containers.end(), id) == e.containers.end()) e.containers.push_back(id);
    }
    if (index_.find(m.seq)) {
      index_.relocate(m.seq, e.segment, e.offset, e.length);
    } else if (!e.containers.empty()) {
      index_.add_message(m.seq, e);
    }
  };
  switch (type) {
    case record_type::message_added: {
      journal::message_meta m;
      if (!journal::decode_message_meta(payload, m)) return bad();
      index_.note_producer(m.producer_id, m.producer_seq, options_.producer_window, options_.max_producers);
      add(m, m.containers);
      break;
    }
    case record_type::message_relocated: {
      std::vector<std::string_view> containers;
      std::string_view inner;
      journal::message_meta m;
      if (!journal::decode_relocated(payload, containers, inner) || !journal::decode_message_meta(inner, m)) return bad();
      add(m, containers);
      break;
    }
    case record_type::ref_added:
    case record_type::ref_removed: {
      journal::ref_payload r;
      if (!journal::decode_ref(payload, r)) return bad();
      if (type == record_type::ref_added) {
        index_.add_ref(r.seq, index_.intern(r.container));
      } else {
        index_.remove_ref(r.seq, index_.intern(r.container));
      }
      break;
    }
    case record_type::subscription_added: {
      durable_subscription s;
      if (!journal::decode_subscription(payload, s)) return bad();
      index_.add_subscription(s);
      break;
    }
    case record_type::subscription_removed: {
      std::string c;
      if (!journal::decode_subscription_removed(payload, c)) return bad();
      index_.remove_subscription(c);
      break;
    }
    default:
      break;  // epoch_start, checkpoint_marker, padding: nothing to rebuild
  }
}

}  // namespace tandem::storage
