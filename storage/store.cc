#include <fmt/format.h>

#include "common/log.h"
#include "storage/checkpoint.h"
#include "storage/coding.h"
#include "storage/crc32c.h"
#include "storage/store_impl.h"

namespace tandem::storage {

namespace {

class store_error_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "tandem.store"; }
  std::string message(int c) const override {
    switch (static_cast<errc>(c)) {
      case errc::store_full: return "the store size limit is reached";
      case errc::closed: return "the store is closed or failed";
      case errc::corrupt: return "corrupt journal data";
      case errc::not_found: return "no such message";
      case errc::io_error: return "storage I/O error";
    }
    return "unknown store error";
  }
};

}  // namespace

const std::error_category& store_category() {
  static const store_error_category c;
  return c;
}

store_impl::store_impl(file_system& fs, store_options options) : fs_(fs), options_(std::move(options)) {}

store_impl::~store_impl() {
  close();
  // After abandon() the writer thread may still be finishing (a storage call that has to
  // time out); its jobs touch this object, so it ends before any member is destroyed.
  if (writer_) writer_->close();
}

std::error_code store_impl::refuse(errc code, std::string message) {
  last_error_ = tandem::error(make_error_code(code), std::move(message));
  return make_error_code(code);
}

tandem::error store_impl::last_error() const { return last_error_; }

void store_impl::note_append(const journal::journal_writer::ticket& t, std::size_t size) {
  std::uint64_t seg = t.pos.segment;
  if (!segment_names_.count(seg)) {
    segment_names_[seg] = join_path(options_.directory, journal::segment_file_name(options_.epoch.value(), seg));
    bytes_on_disk_ += static_cast<std::int64_t>(journal::segment_header_size);
  }
  index_.note_segment(seg, options_.epoch.value(), t.pos.offset + size);
  bytes_on_disk_ += static_cast<std::int64_t>(size);
  bytes_since_checkpoint_ += size;
  dirty_since_checkpoint_ = true;
}

void store_impl::prune_inflight() {
  std::uint64_t written = writer_->written_ticket();
  while (!inflight_order_.empty() && inflight_order_.front().first <= written) {
    auto [ticket, seq] = inflight_order_.front();
    inflight_order_.pop_front();
    auto it = inflight_.find(seq);
    if (it != inflight_.end() && it->second.ticket == ticket) inflight_.erase(it);
  }
}

std::error_code store_impl::write(batch& b, completion done) {
  if (closed_) return refuse(errc::closed, "the store is closed");
  if (writer_->failed()) return refuse(errc::closed, "the store failed: " + writer_->failure().describe());
  prune_inflight();
  if (b.empty()) {
    writer_->after_durable([done = std::move(done)](const status& s) {
      if (done) done(s.code);
    });
    return {};
  }
  auto& ops = b.ops();
  for (auto& op : ops) {
    if (op.kind == batch::op_kind::add_ref && !index_.find(op.seq.value()))
      return refuse(errc::not_found, fmt::format("add_ref to {}: message {} is not stored", op.container, op.seq.value()));
  }

  // Encode: the single copy of each body, straight into the buffer handed to the writer.
  auto buf = std::make_shared<std::string>();
  const bool txn = ops.size() > 1;
  const std::uint64_t txn_id = txn ? next_txn_ : 0;
  std::size_t start;
  if (txn) {
    start = journal::begin_record(*buf);
    journal::encode_txn_begin(*buf, txn_id, static_cast<std::uint32_t>(ops.size()));
    journal::end_record(*buf, start, journal::record_type::txn_begin);
  }
  std::vector<std::size_t> at(ops.size());
  std::uint64_t seq = index_.next_seq;
  bool adds = false;
  for (std::size_t i = 0; i < ops.size(); ++i) {
    auto& op = ops[i];
    at[i] = start = journal::begin_record(*buf);
    switch (op.kind) {
      case batch::op_kind::add:
        adds = true;
        op.message.seq = message_seq(seq++);
        journal::encode_message(*buf, op.message);
        journal::end_record(*buf, start, journal::record_type::message_added);
        break;
      case batch::op_kind::add_ref:
        journal::encode_ref(*buf, op.seq.value(), op.container);
        journal::end_record(*buf, start, journal::record_type::ref_added);
        break;
      case batch::op_kind::remove_ref:
        journal::encode_ref(*buf, op.seq.value(), op.container);
        journal::end_record(*buf, start, journal::record_type::ref_removed);
        break;
      case batch::op_kind::add_sub:
        journal::encode_subscription(*buf, op.subscription);
        journal::end_record(*buf, start, journal::record_type::subscription_added);
        break;
      case batch::op_kind::remove_sub:
        journal::encode_subscription_removed(*buf, op.container);
        journal::end_record(*buf, start, journal::record_type::subscription_removed);
        break;
    }
  }
  if (txn) {
    start = journal::begin_record(*buf);
    journal::encode_txn_end(*buf, txn_id);
    journal::end_record(*buf, start, journal::record_type::txn_commit);
  }

  if (adds && options_.max_store_bytes > 0) {
    auto on_disk = static_cast<std::uint64_t>(std::max<std::int64_t>(0, bytes_on_disk_.load()));
    if (on_disk + buf->size() > options_.max_store_bytes) {
      for (auto& op : ops) op.message.seq = message_seq{};
      auto ec = refuse(errc::store_full, fmt::format("store size limit {} bytes reached: {} bytes on disk, batch needs {}",
                                                     options_.max_store_bytes, on_disk, buf->size()));
      if (!refused_full_) log::warn("journal", "{}", last_error_.message);
      refused_full_ = true;
      maybe_maintain();  // removals may have made space reclaimable
      return ec;
    }
  }
  if (txn) ++next_txn_;
  if (adds) refused_full_ = false;
  index_.next_seq = seq;

  const std::size_t size = buf->size();
  auto t = writer_->append(buf, std::move(done));
  note_append(t, size);

  // The index reflects the batch at once, so reads observe writes immediately.
  for (std::size_t i = 0; i < ops.size(); ++i) {
    auto& op = ops[i];
    switch (op.kind) {
      case batch::op_kind::add: {
        const auto& m = op.message;
        index_.note_producer(m.producer_id, m.producer_seq, options_.producer_window, options_.max_producers);
        if (m.containers.empty()) break;  // stored for nobody: dead on arrival
        index_entry e;
        e.segment = t.pos.segment;
        e.offset = t.pos.offset + at[i];
        std::size_t end = i + 1 < ops.size() ? at[i + 1] : (txn ? size - journal::record_header_size - 8 : size);
        e.length = static_cast<std::uint32_t>(end - at[i]);
        e.size = journal::message_size(m);
        e.priority = m.priority;
        e.expires_ms = m.expires_ms;
        for (auto& c : m.containers) {
          auto id = index_.intern(c);
          if (std::find(e.containers.begin(), e.containers.end(), id) == e.containers.end()) e.containers.push_back(id);
        }
        index_.add_message(m.seq.value(), e);
        inflight_[m.seq.value()] = inflight{buf, at[i], t.id, false, {}, 0};
        inflight_order_.emplace_back(t.id, m.seq.value());
        break;
      }
      case batch::op_kind::add_ref: index_.add_ref(op.seq.value(), index_.intern(op.container)); break;
      case batch::op_kind::remove_ref: index_.remove_ref(op.seq.value(), index_.intern(op.container)); break;
      case batch::op_kind::add_sub: index_.add_subscription(op.subscription); break;
      case batch::op_kind::remove_sub: index_.remove_subscription(op.container); break;
    }
  }
  maybe_maintain();
  return {};
}

bool store_impl::is_duplicate(const std::string& producer_id, std::uint64_t producer_seq) const {
  return index_.is_duplicate(producer_id, producer_seq);
}

file* store_impl::reader_for(std::uint64_t segment) {
  auto it = readers_.find(segment);
  if (it != readers_.end()) return it->second.get();
  auto name = segment_names_.find(segment);
  if (name == segment_names_.end()) return nullptr;
  auto f = fs_.open(name->second, open_mode::read_only);
  if (!f) {
    last_error_ = f.err();
    return nullptr;
  }
  return (readers_[segment] = std::move(*f)).get();
}

result<std::string> store_impl::read_raw(journal::position pos, std::uint32_t length) {
  file* f = reader_for(pos.segment);
  if (!f) return result<std::string>(make_error_code(errc::io_error), fmt::format("cannot open segment {}", pos.segment));
  std::string data(length, '\0');
  auto n = f->read_at(pos.offset, data.data(), length);
  if (!n) return n.err();
  if (*n != length)
    return result<std::string>(make_error_code(errc::corrupt),
                               fmt::format("segment {} offset {}: short read", pos.segment, pos.offset));
  return data;
}

namespace {
result<message_record> decode_stored(std::string_view bytes, journal::position pos) {
  auto rec = journal::check_record(bytes.data(), bytes.size());
  if (!rec) return result<message_record>(make_error_code(errc::corrupt),
                                          fmt::format("segment {} offset {}: bad record", pos.segment, pos.offset));
  std::string_view payload = rec->payload;
  if (rec->type == journal::record_type::message_relocated) {
    std::vector<std::string_view> containers;
    if (!journal::decode_relocated(rec->payload, containers, payload))
      return result<message_record>(make_error_code(errc::corrupt), "undecodable message_relocated record");
  } else if (rec->type != journal::record_type::message_added) {
    return result<message_record>(make_error_code(errc::corrupt),
                                  fmt::format("segment {} offset {}: not a message record", pos.segment, pos.offset));
  }
  return journal::decode_message(payload);
}
}  // namespace

result<message_record> store_impl::read_at(journal::position pos, std::uint32_t length, message_seq seq) {
  auto raw = read_raw(pos, length);
  if (!raw) return raw.err();
  return decode_stored(*raw, pos);
}

result<message_record> store_impl::read_message(message_seq seq) {
  // Abandoned: a read could wait for a storage server that is gone.
  if (abandoned_.load(std::memory_order_acquire))
    return result<message_record>(make_error_code(errc::closed), "the store was abandoned");
  if (writer_) prune_inflight();
  const index_entry* e = index_.find(seq.value());
  if (!e) return result<message_record>(make_error_code(errc::not_found), fmt::format("message {} is not stored", seq.value()));
  result<message_record> r(make_error_code(errc::not_found));
  auto it = inflight_.find(seq.value());
  if (it != inflight_.end() && it->second.relocated) {
    r = read_at(it->second.old, it->second.old_length, seq);
  } else if (it != inflight_.end()) {
    const auto& in = it->second;
    r = decode_stored(std::string_view(*in.buffer).substr(in.at), {e->segment, e->offset});
  } else {
    r = read_at({e->segment, e->offset}, e->length, seq);
  }
  if (r && r->seq != seq)
    return result<message_record>(make_error_code(errc::corrupt),
                                  fmt::format("segment {} offset {}: holds message {}, expected {}", e->segment,
                                              e->offset, r->seq.value(), seq.value()));
  if (r) {
    // Report where the message is pending now, not where it was when first written.
    r->containers.clear();
    for (auto c : e->containers) r->containers.push_back(index_.container_name(c));
  }
  return r;
}

store_stats store_impl::stats() const {
  store_stats s;
  s.segments = index_.segments().size();
  s.bytes_on_disk = static_cast<std::uint64_t>(std::max<std::int64_t>(0, bytes_on_disk_.load()));
  s.live_messages = index_.messages().size();
  if (writer_) {
    auto w = writer_->stats();
    s.appends = w.appends;
    s.fsyncs = w.fsyncs;
    s.bytes_written = w.bytes_written;
  }
  s.checkpoints = checkpoints_.load();
  s.segments_deleted = segments_deleted_.load();
  s.segments_compacted = segments_compacted_.load();
  if (options_.metrics) {
    s.fsync_seconds = options_.metrics->fsync_seconds.snapshot();
    s.group_size = options_.metrics->group_size.snapshot();
  }
  return s;
}

void store_impl::abandon() {
  // The fence first: from here on the writer and maintenance write and delete nothing.
  abandoned_.store(true, std::memory_order_release);
  if (closed_ || !writer_) return;
  closed_ = true;
  // Not close(): that joins the writer thread, which may be stuck in a storage call for the
  // call's timeout. Queued appends fail at the fence when it gets to them; the destructor
  // joins it and closes the read handles (NFS CLOSE calls may wait for a server too).
  writer_->request_close();
  log::warn("journal", "store abandoned without a final write");
}

void store_impl::close() {
  if (closed_ || !writer_) return;
  if (!writer_->failed() && dirty_since_checkpoint_) (void)start_checkpoint(nullptr);
  closed_ = true;
  writer_->close();  // drains the queue, checkpoint included
  readers_.clear();
  log::info("journal", "store closed ({} live messages)", index_.messages().size());
}

result<epoch_t> newest_journal_epoch(file_system& fs, const std::string& directory) {
  auto names = fs.list(directory);
  if (!names) {
    if (names.code() == std::errc::no_such_file_or_directory) return epoch_t(0);
    return names.err();
  }
  std::uint64_t newest = 0;
  for (const auto& name : *names) {
    std::uint64_t epoch = 0, number = 0;
    if (journal::parse_segment_file_name(name, epoch, number) || checkpoint::parse_file_name(name, epoch, number))
      newest = std::max(newest, epoch);
  }
  return epoch_t(newest);
}

}  // namespace tandem::storage
