#pragma once
// The message store: the durable state of a broker, kept as a journal of records in
// segment files plus periodic checkpoints of the in-memory index.
//
// The store knows messages, "containers" and producers; it knows nothing of STOMP or of
// dispatch. A container is a named list of pending message references: a queue
// ("/queue/orders") or a durable topic subscription ("durable:<client-id>:<name>"). A message
// is journaled once and referenced by one or more containers; it is dead (and its bytes
// reclaimable) when no container references it any more.
//
// Threading: every public member is called from ONE thread (the broker's event loop).
// Appends are handed to an internal writer thread that gathers every append arriving while
// the previous fsync runs, writes them in one call and fsyncs once (group commit). The
// completion callback of each write runs ON THE WRITER THREAD after its bytes are durable
// (or with the error that made them not durable); keep it short, e.g. post to an executor.
//
// Durability contract: when a completion runs with no error, the record and every record
// written before it survive a crash of the process or the host. The in-memory index is
// updated at call time (before durability), so reads observe writes immediately.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/named_type.h"
#include "common/result.h"
#include "storage/file_system.h"
#include "storage/journal_metrics.h"

namespace tandem::storage {

// Store-wide message sequence, assigned by the store, strictly increasing. Never reused once
// a write carrying it has completed successfully; the seq of a write lost in a crash (never
// reported durable) may be assigned again after recovery.
using message_seq = named_type<std::uint64_t, struct message_seq_tag>;
// Fencing epoch of the writer (the lease's epoch). Single-node deployments use 1.
using epoch_t = named_type<std::uint64_t, struct epoch_tag>;

struct message_header {
  std::string key;
  std::string value;
  bool operator==(const message_header&) const = default;
};

struct message_record {
  message_seq seq{};                    // assigned by the store on write
  std::string destination;              // as sent, e.g. "/queue/orders" or "/topic/prices"
  std::vector<std::string> containers;  // containers the message is pending in
  std::string producer_id;              // empty: not subject to duplicate detection
  std::uint64_t producer_seq = 0;       // sequence within producer_id
  std::uint8_t priority = 4;            // 0..9
  std::int64_t timestamp_ms = 0;        // wall-clock ms when the broker accepted it
  std::int64_t expires_ms = 0;          // wall-clock ms; 0 = never
  std::vector<message_header> headers;  // application headers, in order
  std::string body;
};

// A durable topic subscription survives restarts; its container is `container`.
struct durable_subscription {
  std::string container;  // "durable:<client-id>:<subscription-name>"
  std::string client_id;
  std::string name;
  std::string topic;      // "/topic/..."
  std::string selector;   // empty: none
};

// What one pending reference looks like after recovery: enough to order and filter
// without reading the body. Read the rest with store::read_message().
struct pending_ref {
  message_seq seq{};
  std::uint8_t priority = 4;
  std::int64_t expires_ms = 0;
  std::uint32_t size = 0;  // bytes of headers + body, for accounting
};

// The state rebuilt by open(): newest checkpoint plus the journal tail after it.
struct recovered_state {
  // Every container with at least one pending message (and every durable subscription's
  // container, even if empty), references in ascending seq order.
  std::map<std::string, std::vector<pending_ref>> containers;
  std::vector<durable_subscription> durable_subscriptions;
  std::uint64_t records_replayed = 0;  // journal records read after the checkpoint
  std::uint64_t corrupt_records_skipped = 0;
  double recovery_ms = 0;
};

// One atomic unit of change. Several operations in one batch are journaled as a
// transaction (begin / ops / commit): after a crash either all of them apply or none.
// Operations apply in order, and a remove_ref that drops a message's last reference deletes
// the message at once: to move a message, add_ref the new container first, then remove_ref
// the old one.
class batch {
 public:
  // The store fills in `m.seq` when the batch is written; it is visible through seqs().
  void add_message(message_record m) { ops_.push_back({op_kind::add, std::move(m), {}, {}, {}}); }
  // Adds a reference to an already stored message (e.g. moving it to a dead-letter queue).
  void add_ref(std::string container, message_seq seq) { ops_.push_back({op_kind::add_ref, {}, std::move(container), seq, {}}); }
  // Removes a reference (acknowledged, expired, purged, moved away).
  void remove_ref(std::string container, message_seq seq) { ops_.push_back({op_kind::remove_ref, {}, std::move(container), seq, {}}); }
  void add_subscription(durable_subscription s) { ops_.push_back({op_kind::add_sub, {}, {}, {}, std::move(s)}); }
  // Removes the subscription and every reference its container still holds.
  void remove_subscription(std::string container) { ops_.push_back({op_kind::remove_sub, {}, std::move(container), {}, {}}); }

  bool empty() const { return ops_.empty(); }
  std::size_t size() const { return ops_.size(); }

  enum class op_kind { add, add_ref, remove_ref, add_sub, remove_sub };
  struct op {
    op_kind kind;
    message_record message;  // add
    std::string container;   // add_ref, remove_ref, remove_sub
    message_seq seq{};       // add_ref, remove_ref
    durable_subscription subscription;  // add_sub
  };
  std::vector<op>& ops() { return ops_; }
  const std::vector<op>& ops() const { return ops_; }

 private:
  std::vector<op> ops_;
};

struct store_options {
  std::string directory;                         // path inside the file system
  epoch_t epoch{1};                              // writer's fencing epoch
  std::uint64_t segment_bytes = 64ull << 20;     // roll to a new segment past this
  std::uint64_t max_store_bytes = 0;             // 0 = unlimited; else refuse adds past it
  // Journal bytes between checkpoints at most; a store with a small index checkpoints sooner
  // (every 4x the index's size, at least 16 MiB), since a takeover replays what follows.
  std::uint64_t checkpoint_every_bytes = 256ull << 20;
  double compact_below_live_ratio = 0.2;         // rewrite a segment's live messages when
                                                 // fewer than this fraction of its bytes live
  std::uint32_t producer_window = 4096;          // recent producer_seqs remembered per producer
  std::size_t max_producers = 100000;            // producers remembered, least recently sending forgotten
  // Fencing: while this returns false the store writes and deletes nothing (the lease is not
  // provably held). Asked from the writer and maintenance threads; must be cheap and
  // thread-safe (e.g. a comparison of the monotonic clock with the lease's validity).
  std::function<bool()> may_write;
  // Passed to the journal writer (journal_metrics.h); a node gives every store it opens the
  // same one. Null: the store keeps its own.
  std::shared_ptr<journal_metrics> metrics;
};

struct store_stats {
  std::uint64_t segments = 0;
  std::uint64_t bytes_on_disk = 0;
  std::uint64_t live_messages = 0;
  std::uint64_t appends = 0;       // records written
  std::uint64_t fsyncs = 0;
  std::uint64_t bytes_written = 0;
  std::uint64_t checkpoints = 0;
  std::uint64_t segments_deleted = 0;
  std::uint64_t segments_compacted = 0;
  histogram_snapshot fsync_seconds;  // of the journal_metrics in use (so: perhaps of earlier stores too)
  histogram_snapshot group_size;
};

using completion = std::function<void(std::error_code)>;

class store {
 public:
  // Recovers the directory (creating it when empty) and starts the writer thread.
  // A torn tail is the end of the log; a corrupt record in the middle is reported
  // (logged, counted in recovered_state) and skipped.
  static result<std::unique_ptr<store>> open(file_system& fs, store_options options);
  virtual ~store() = default;
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  virtual const recovered_state& recovered() const = 0;

  // Journals the batch. Assigns seqs to added messages (readable from the batch after the
  // call). Returns an error without writing anything when the store size limit would be
  // exceeded by added messages (errc::store_full) or the store is closed/failed; then
  // `done` is NOT called (the caller reports the refusal itself; last_error() has the detail).
  // Otherwise `done` runs exactly once, on the writer thread, once the batch is durable or
  // with the error that kept it from being durable.
  virtual std::error_code write(batch& b, completion done) = 0;

  // Reads a stored message (headers and body) back from the journal.
  virtual result<message_record> read_message(message_seq seq) = 0;

  // Duplicate detection: true if (producer_id, producer_seq) was already stored. The
  // store remembers the newest `producer_window` seqs of each of the `max_producers`
  // producers that sent most recently, across restarts.
  virtual bool is_duplicate(const std::string& producer_id, std::uint64_t producer_seq) const = 0;

  virtual store_stats stats() const = 0;

  // Writes a checkpoint now (after everything written so far is durable), then deletes the
  // segments it made unnecessary. `done` runs on the writer thread. The store also does this
  // by itself every `checkpoint_every_bytes` and when space can be reclaimed; this is for
  // an operator command, a clean switchover and tests. errc::closed when closed/failed.
  virtual std::error_code checkpoint(completion done) = 0;

  // The detail of the last error write() or checkpoint() returned, or of the failure that
  // put the store in its failed state ("store size limit 1048576 bytes reached: 1040000
  // bytes on disk, batch needs 20480"). Empty when there was none.
  virtual tandem::error last_error() const = 0;

  // Flushes pending appends, writes a checkpoint if anything changed, stops the writer.
  // Further writes fail with errc::closed.
  virtual void close() = 0;

  // True once a write or fsync error (or the fence) stopped the writer: the store accepts no
  // more writes, and what it was writing is in doubt (it may yet be on disk). A node then
  // hands its lease over so that a fresh recovery decides.
  virtual bool failed() const = 0;

  // For a node that lost its lease or whose journal failed: stops the writer without writing
  // or deleting anything more (no flush, no checkpoint), and returns at once, even while the
  // writer thread is blocked in a storage call (an NFS server that stopped answering; forever
  // on a hard kernel mount). Pending writes complete with errc::closed on the writer thread
  // once it is free; further writes and reads fail with errc::closed.
  // Destroying the store waits for that writer thread and closes the files, both of which may
  // wait for storage: a node destroys an abandoned store off its event loop.
  virtual void abandon() = 0;

 protected:
  store() = default;
};

// The newest epoch that wrote segments or checkpoints in `directory` (0 when empty or
// missing). A node passes it to the lease as its epoch floor, so a lease directory that was
// wiped cannot hand out an epoch the journal already used.
result<epoch_t> newest_journal_epoch(file_system& fs, const std::string& directory);

enum class errc {
  store_full = 1,      // the configured store size limit is reached
  closed,              // the store was closed or failed
  corrupt,             // a record failed its CRC or could not be decoded
  not_found,           // no such message
  io_error,            // the file system failed; message has the detail
};
const std::error_category& store_category();
inline std::error_code make_error_code(errc e) { return {static_cast<int>(e), store_category()}; }

}  // namespace tandem::storage

template <>
struct std::is_error_code_enum<tandem::storage::errc> : std::true_type {};
