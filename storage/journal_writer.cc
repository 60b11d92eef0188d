#include "storage/journal_writer.h"

#include <cassert>
#include <chrono>

#include "common/log.h"

namespace tandem::storage::journal {

result<std::unique_ptr<journal_writer>> journal_writer::open(file_system& fs, writer_options options,
                                                             std::uint64_t first_segment) {
  std::unique_ptr<journal_writer> w(new journal_writer(fs, std::move(options)));
  if (auto s = w->open_segment(first_segment)) return s;
  w->end_ = position{first_segment, segment_header_size};
  w->thread_ = std::thread([p = w.get()] { p->run(); });
  return w;
}

journal_writer::journal_writer(file_system& fs, writer_options options) : fs_(fs), options_(std::move(options)) {
  if (!options_.metrics) options_.metrics = std::make_shared<journal_metrics>();
}

journal_writer::~journal_writer() { close(); }

position journal_writer::end() const {
  std::lock_guard lk(mu_);
  return end_;
}

status journal_writer::failure() const {
  std::lock_guard lk(mu_);
  return failure_;
}

writer_stats journal_writer::stats() const {
  return writer_stats{appends_.load(), fsyncs_.load(), bytes_written_.load(), groups_.load()};
}

journal_writer::ticket journal_writer::reserve(std::size_t size, item it) {
  std::lock_guard lk(mu_);
  // Never straddle segments: a batch must be contiguous so a transaction is one write.
  if (end_.offset + size > options_.segment_bytes && end_.offset > segment_header_size) {
    item roll{item::kind::roll, {}, 0, {}, {}, {}, end_.segment + 1, 0};
    queue_.push_back(std::move(roll));
    end_ = position{end_.segment + 1, segment_header_size};
  }
  ticket t{end_, next_ticket_++};
  it.ticket = t.id;
  it.size = size;
  end_.offset += size;
  queue_.push_back(std::move(it));
  cv_.notify_one();
  return t;
}

journal_writer::ticket journal_writer::append(std::shared_ptr<const std::string> bytes, completion done) {
  assert(bytes && !bytes->empty());
  std::size_t size = bytes->size();
  return reserve(size, item{item::kind::data, std::move(bytes), 0, {}, std::move(done), {}, 0, 0});
}

journal_writer::ticket journal_writer::append_deferred(std::size_t size, std::function<void(char*)> fill,
                                                       completion done) {
  return reserve(size, item{item::kind::deferred, {}, 0, std::move(fill), std::move(done), {}, 0, 0});
}

void journal_writer::after_durable(std::function<void(const status&)> fn) {
  std::lock_guard lk(mu_);
  queue_.push_back(item{item::kind::barrier, {}, 0, {}, {}, std::move(fn), 0, 0});
  cv_.notify_one();
}

void journal_writer::close() {
  request_close();
  if (thread_.joinable()) thread_.join();
  active_.reset();
}

void journal_writer::request_close() {
  std::lock_guard lk(mu_);
  closing_ = true;
  cv_.notify_one();
}

void journal_writer::run() {
  std::vector<item> items;
  for (;;) {
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return !queue_.empty() || closing_; });
      if (queue_.empty() && closing_) return;
      items.swap(queue_);
    }
    process(items);
    items.clear();
  }
}

void journal_writer::process(std::vector<item>& items) {
  status err = failure();
  for (auto& it : items) {
    if (err) {
      // Once failed, nothing more is written; everyone hears why.
      if (it.done) it.done(err.code);
      if (it.barrier) it.barrier(err);
      continue;
    }
    switch (it.k) {
      case item::kind::data:
        buffer_.append(*it.bytes);
        pending_.push_back(std::move(it.done));
        buffer_last_ticket_ = it.ticket;
        appends_.fetch_add(1, std::memory_order_relaxed);
        break;
      case item::kind::deferred: {
        std::size_t at = buffer_.size();
        buffer_.resize(at + it.size);
        it.fill(buffer_.data() + at);
        pending_.push_back(std::move(it.done));
        buffer_last_ticket_ = it.ticket;
        appends_.fetch_add(1, std::memory_order_relaxed);
        break;
      }
      case item::kind::roll:
        err = flush_and_sync();
        complete_pending(err);
        if (!err) err = open_segment(it.segment);
        break;
      case item::kind::barrier:
        err = flush_and_sync();
        complete_pending(err);
        it.barrier(err);
        break;
    }
  }
  if (!err) err = flush_and_sync();
  complete_pending(err);
  if (err) fail(err);
}

status journal_writer::check_fence() const {
  if (options_.may_write && !options_.may_write())
    return status(make_error_code(errc::closed), "fenced: this node no longer holds the lease, nothing more is written");
  return {};
}

status journal_writer::flush_and_sync() {
  if (!buffer_.empty()) {
    if (auto s = check_fence()) return s;
    groups_.fetch_add(1, std::memory_order_relaxed);
    const std::size_t data = buffer_.size();
    const std::uint64_t end = buffer_offset_ + data;
    if (options_.preallocate && end > prefilled_end_ && end < options_.segment_bytes) {
      // Keep zero-filled space ahead of the data, extended a chunk at a time in the same
      // pwrite: the following fdatasyncs then find the file size unchanged and need not
      // commit metadata. Written zeros, not fallocate: unwritten extents would still need
      // a metadata update on first write. Zeros read back as end-of-log.
      std::uint64_t target = std::min<std::uint64_t>((end / prefill_chunk + 1) * prefill_chunk, options_.segment_bytes);
      buffer_.append(static_cast<std::size_t>(target - end), '\0');
      prefilled_end_ = target;
    }
    if (auto s = active_->write_at(buffer_offset_, buffer_.data(), buffer_.size())) return s;
    buffer_offset_ += data;
    bytes_written_.fetch_add(data, std::memory_order_relaxed);
    options_.metrics->bytes_written.fetch_add(data, std::memory_order_relaxed);
    buffer_.clear();
    written_ticket_.store(buffer_last_ticket_, std::memory_order_release);
    dirty_ = true;
  }
  if (dirty_) {
    fsyncs_.fetch_add(1, std::memory_order_relaxed);
    auto started = std::chrono::steady_clock::now();
    if (auto s = active_->sync()) return s;
    options_.metrics->fsync_seconds.observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    // The completions waiting now are the group this fsync made durable.
    options_.metrics->group_size.observe(static_cast<double>(pending_.size()));
    dirty_ = false;
  }
  return {};
}

void journal_writer::complete_pending(const status& s) {
  if (s) fail(s);  // record the failure before anyone hears about it
  for (auto& done : pending_) {
    if (done) done(s.code);
  }
  pending_.clear();
}

void journal_writer::fail(const status& s) {
  std::lock_guard lk(mu_);
  if (!failure_) {
    failure_ = s;
    failed_.store(true, std::memory_order_release);
    log::error("journal", "writer failed, no further appends are accepted: {}", s.describe());
  }
}

status journal_writer::open_segment(std::uint64_t segment) {
  if (auto s = check_fence()) return s;
  std::string name = join_path(options_.directory, segment_file_name(options_.epoch, segment));
  auto f = fs_.open(name, open_mode::create_exclusive);
  if (!f) return f.err();
  std::string header = encode_segment_header(segment_header{options_.epoch, segment});
  if (auto s = (*f)->write_at(0, header.data(), header.size())) return s;
  fsyncs_.fetch_add(1, std::memory_order_relaxed);
  if (auto s = (*f)->sync()) return s;
  if (auto s = fs_.sync_dir(options_.directory)) return s;
  active_ = std::move(*f);
  buffer_offset_ = segment_header_size;
  prefilled_end_ = segment_header_size;
  dirty_ = false;
  log::debug("journal", "opened segment {} (epoch {})", name, options_.epoch);
  return {};
}

}  // namespace tandem::storage::journal
