#pragma once
// The implementation behind store::open(). Internal to storage/; include store.h instead.
//
// Division of labour:
//   - the caller's thread (the broker's event loop) owns the message_index: write() encodes
//     the batch (the only copy of a body), updates the index, reserves journal space and
//     queues the bytes; no system call.
//   - the journal_writer thread writes, fsyncs, runs completions, and runs maintenance jobs
//     queued behind the data they depend on (checkpoint files, compaction copies, deleting
//     segments), so those never block the caller.
// Space reclamation ordering (why it is safe):
//   1. a checkpoint snapshot taken at journal position P is written only after every record
//      before P is durable (after_durable), so it never refers to bytes that could vanish;
//   2. segments wholly before P that hold no live message are deleted only after that
//      checkpoint file and its directory entry are durable: recovery starts at P and needs
//      none of their records (ref-removed records included);
//   3. compaction copies live messages to the head BEFORE the snapshot is taken, so the
//      checkpoint refers to the copies and the old segment is dead in it.

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "storage/journal_writer.h"
#include "storage/message_index.h"
#include "storage/store.h"

namespace tandem::storage {

class store_impl final : public store {
 public:
  store_impl(file_system& fs, store_options options);
  ~store_impl() override;

  status recover();  // called once by store::open

  const recovered_state& recovered() const override { return recovered_; }
  std::error_code write(batch& b, completion done) override;
  result<message_record> read_message(message_seq seq) override;
  bool is_duplicate(const std::string& producer_id, std::uint64_t producer_seq) const override;
  store_stats stats() const override;
  std::error_code checkpoint(completion done) override;
  tandem::error last_error() const override;
  void close() override;
  void abandon() override;
  bool failed() const override { return writer_ && writer_->failed(); }
  // The fence the writer and maintenance consult: not abandoned and options.may_write.
  bool may_write() const {
    return !abandoned_.load(std::memory_order_acquire) && (!options_.may_write || options_.may_write());
  }

 private:
  struct inflight {
    std::shared_ptr<const std::string> buffer;  // the queued bytes holding the record
    std::size_t at = 0;                         // record offset inside buffer
    std::uint64_t ticket = 0;                   // bytes are in the file once written
    bool relocated = false;                     // compaction copy: read `old` meanwhile
    journal::position old;
    std::uint32_t old_length = 0;
  };

  // recovery (store_recovery.cc)
  struct seal {
    std::uint64_t epoch;          // the writer that took over
    std::uint64_t first_segment;  // the first segment it wrote
    journal::position sealed;     // where the log it took over ended
  };
  struct replay_segment {
    std::uint64_t number;
    std::string path;
    std::uint64_t start;  // 0: from the header
    std::uint64_t limit;  // records at or after this offset are ignored (sealed)
  };
  std::optional<seal> read_seal(const std::string& path, std::uint64_t segment);
  status replay(const std::vector<replay_segment>& segments);
  void apply(journal::record_type type, std::string_view payload, journal::position pos, std::size_t size);

  // write path / maintenance (store.cc)
  std::error_code refuse(errc code, std::string message);
  void note_append(const journal::journal_writer::ticket& t, std::size_t size);
  void prune_inflight();
  result<message_record> read_at(journal::position pos, std::uint32_t length, message_seq seq);
  result<std::string> read_raw(journal::position pos, std::uint32_t length);
  file* reader_for(std::uint64_t segment);
  void maybe_maintain();
  void forget_deleted();
  std::error_code start_checkpoint(completion done);
  void compact(std::uint64_t segment);

  file_system& fs_;
  store_options options_;
  message_index index_;
  recovered_state recovered_;
  std::unique_ptr<journal::journal_writer> writer_;
  bool closed_ = false;
  std::atomic<bool> abandoned_{false};
  tandem::error last_error_;
  std::uint64_t next_txn_ = 1;
  std::uint64_t sealed_end_ = journal::segment_header_size;  // recovery: end of the last valid log

  std::unordered_map<std::uint64_t, inflight> inflight_;
  std::deque<std::pair<std::uint64_t, std::uint64_t>> inflight_order_;  // (ticket, seq)
  std::map<std::uint64_t, std::unique_ptr<file>> readers_;
  std::map<std::uint64_t, std::string> segment_names_;  // segment number -> file path

  // Accounting. bytes_on_disk_ is also lowered by the writer thread when it deletes.
  std::atomic<std::int64_t> bytes_on_disk_{0};
  std::uint64_t bytes_since_checkpoint_ = 0;
  // The newest checkpoint file, which bytes_on_disk_ counts; the next one replaces it whatever
  // epoch wrote it. Set by recovery, then only on the writer thread.
  std::string checkpoint_path_;
  std::uint64_t checkpoint_file_bytes_ = 0;
  std::uint64_t next_checkpoint_ = 1;
  bool dirty_since_checkpoint_ = false;
  bool refused_full_ = false;  // an add was refused for space since the last accepted one
  std::atomic<bool> checkpoint_running_{false};
  std::atomic<std::uint64_t> checkpoints_{0}, segments_deleted_{0}, segments_compacted_{0};
  std::atomic<std::uint64_t> deleted_segments_total_{0};
  std::mutex deleted_mu_;
  std::vector<std::uint64_t> deleted_;  // segments the writer removed, for the caller to forget
};

}  // namespace tandem::storage
