#pragma once
// The journal writer: appends records to segment files with group commit.
//
// One writer thread owns the active segment. append() only reserves a position and queues
// the bytes (no system call on the caller's thread). The writer thread takes everything
// queued while the previous fsync ran, writes it with one pwrite, fdatasyncs once, and then
// runs each append's completion in queue order. So N appenders waiting concurrently share
// one fsync instead of paying N.
//
// Durability: a completion runs with no error only after its bytes AND every byte queued
// before them are durable. After a write or sync error the writer is failed: that append and
// every later one complete with the error; nothing is reported durable that was not.
//
// Segments: an append never straddles two segments. When it would take the active segment
// past `segment_bytes`, the writer rolls to segment+1 first (new file, header, directory
// sync). A segment file is only ever created fresh by this writer (exclusive create); the
// writer never appends to a segment left by an earlier run.
//
// Threading: append(), append_deferred(), after_durable() and the observers are thread-safe.
// Completions and deferred fills run on the writer thread.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "storage/file_system.h"
#include "storage/journal_format.h"
#include "storage/journal_metrics.h"
#include "storage/store.h"

namespace tandem::storage::journal {

struct writer_options {
  std::string directory;
  std::uint64_t epoch = 1;
  std::uint64_t segment_bytes = 64ull << 20;
  // Keep up to `prefill_chunk` zero-filled bytes ahead of the write position, so most
  // fdatasyncs need not update the file size (see README.md for the measurement).
  bool preallocate = true;
  // Fencing: consulted before every write and segment creation; once it returns false the
  // writer fails (errc::closed, "fenced") and writes nothing more. Any thread may be asked.
  std::function<bool()> may_write;
  // Where fsync latencies, group sizes and bytes written are recorded; the writer makes its
  // own when none is given.
  std::shared_ptr<journal_metrics> metrics;
};

struct writer_stats {
  std::uint64_t appends = 0;
  std::uint64_t fsyncs = 0;
  std::uint64_t bytes_written = 0;
  std::uint64_t groups = 0;  // pwrite calls of queued data
};

class journal_writer {
 public:
  // Creates segment `first_segment` (exclusive), writes and syncs its header, syncs the
  // directory and starts the writer thread.
  static result<std::unique_ptr<journal_writer>> open(file_system& fs, writer_options options,
                                                      std::uint64_t first_segment);
  ~journal_writer();  // close()
  journal_writer(const journal_writer&) = delete;
  journal_writer& operator=(const journal_writer&) = delete;

  struct ticket {
    position pos;     // where the first byte lands
    std::uint64_t id;  // increasing; bytes are in the file once written_ticket() >= id
  };
  // Queues `bytes` (one or more complete records). REQUIRES: bytes is non-empty.
  ticket append(std::shared_ptr<const std::string> bytes, completion done);
  // Reserves `size` bytes; `fill` runs on the writer thread and must write exactly `size`
  // bytes at its argument (used by compaction to copy records it reads there).
  ticket append_deferred(std::size_t size, std::function<void(char*)> fill, completion done);
  // Runs `fn` on the writer thread once everything queued before it is durable and before
  // anything queued after it is written. fn receives the writer's error if it has failed.
  void after_durable(std::function<void(const status&)> fn);

  std::uint64_t written_ticket() const { return written_ticket_.load(std::memory_order_acquire); }
  position end() const;  // where the next append would land (without a roll)
  bool failed() const { return failed_.load(std::memory_order_acquire); }
  status failure() const;
  writer_stats stats() const;

  // Writes and syncs everything queued, then stops the thread. Idempotent.
  void close();
  // Asks the thread to stop once the queue is empty and returns at once, even while the
  // thread is blocked in a storage call (a hung NFS server). close() or the destructor then
  // waits for it. Queued items are still processed, so with a closed fence (may_write false)
  // they complete with the fence's error without writing anything.
  void request_close();

 private:
  struct item {
    enum class kind { data, deferred, roll, barrier } k;
    std::shared_ptr<const std::string> bytes;
    std::size_t size = 0;
    std::function<void(char*)> fill;
    completion done;
    std::function<void(const status&)> barrier;
    std::uint64_t segment = 0;  // roll
    std::uint64_t ticket = 0;
  };

  journal_writer(file_system& fs, writer_options options);
  ticket reserve(std::size_t size, item it);
  void run();
  void process(std::vector<item>& items);
  status check_fence() const;
  status flush_and_sync();
  status open_segment(std::uint64_t segment);
  void complete_pending(const status& s);
  void fail(const status& s);

  file_system& fs_;
  writer_options options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<item> queue_;
  position end_;                   // guarded by mu_
  std::uint64_t next_ticket_ = 1;  // guarded by mu_
  bool closing_ = false;
  status failure_;                 // guarded by mu_
  std::atomic<bool> failed_{false};

  // Writer thread only.
  std::unique_ptr<file> active_;
  static constexpr std::uint64_t prefill_chunk = 1 << 20;
  std::uint64_t buffer_offset_ = 0;  // file offset of buffer_[0]
  std::uint64_t prefilled_end_ = 0;  // the file holds data or zeros up to here
  std::string buffer_;
  std::uint64_t buffer_last_ticket_ = 0;
  bool dirty_ = false;               // written since the last sync
  std::vector<completion> pending_;  // completions waiting for the next sync

  std::atomic<std::uint64_t> written_ticket_{0};
  std::atomic<std::uint64_t> appends_{0}, fsyncs_{0}, bytes_written_{0}, groups_{0};
  std::thread thread_;
};

}  // namespace tandem::storage::journal
