#pragma once
// How tandem-bench reaches the broker through the failover library (failover/client.h), and what
// it learns about switchovers while a workload runs.
//
// Every workload except `connections` and `probe` opens its connections with open_client(): one
// failover::client (one background thread) per producer or consumer, from --uri (any form:
// stomp://, stomp+ssl://, failover:(...)) or the --host/--port shortcut. The switchover_log
// watches those clients: their events go to stderr as they happen (interrupted, resumed with the
// outage and what was re-sent), their statistics are summed when the workload ends, and each
// producer/consumer times the gaps between consecutive receipts or deliveries with a gap_clock.
//
// Threading: switchover_log may be used from any thread (events arrive on the clients'
// background threads). A gap_clock belongs to one thread at a time: the producer thread for
// synchronous sends, the client's background thread for send_async() completions (read it only
// after wait_for_receipts() has returned).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "failover/client.h"
#include "failover/stomp_connection.h"
#include "tools/bench_stats.h"
#include "tools/bench_workloads.h"

namespace tandem::bench {

// The URI the workloads use: --uri, else stomp://HOST:PORT.
std::string effective_uri(const options& o);
// Parsed options of effective_uri(), with --login/--passcode applied when given.
result<failover::failover_options> client_options(const options& o);

// For the workloads on plain STOMP (failover::stomp_connection: connections, probe, stream
// --receipts last): the CONNECT options the URI gives (no client-id: it names one connection),
// and the URI's stomp:// endpoints in order (TLS ones are skipped; none is an error naming the URI).
failover::connect_options plain_connect_options(const failover::failover_options& uri,
                                                std::chrono::milliseconds timeout);
result<std::vector<failover::endpoint>> plain_endpoints(const options& o, const failover::failover_options& uri);

// The longest time between two consecutive tick()s (the first tick only starts the clock).
class gap_clock {
 public:
  void tick() {
    const auto now = clock::now();
    if (started_ && now - last_ > max_) max_ = now - last_;
    last_ = now;
    started_ = true;
  }
  void restart() { started_ = false; }  // e.g. after the warm-up
  clock::duration max() const { return max_; }

 private:
  bool started_ = false;
  clock::time_point last_{};
  clock::duration max_{0};
};

// Bounds the pipelined sends without a receipt: acquire() before each send_async(), release()
// from its completion (on the client's background thread). Keeps a long fill from holding
// millions of unreceipted frames in the library's replay list.
class receipt_window {
 public:
  explicit receipt_window(std::uint64_t size) : size_(size ? size : 1) {}
  // Waits until fewer than `size` sends lack a receipt (errc::timed_out after `timeout`) and
  // counts one more; a send that already failed makes it return that failure.
  error acquire(std::chrono::milliseconds timeout);
  void release(const error& e);

 private:
  const std::uint64_t size_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::uint64_t outstanding_ = 0;
  bool waiting_ = false;
  error failure_;
};

class switchover_log {
 public:
  // `print`: write events to stderr as they happen (off with --json so stdout stays clean;
  // stderr is separate, so they are printed unless --quiet).
  explicit switchover_log(bool print) : print_(print) {}
  switchover_log(const switchover_log&) = delete;
  switchover_log& operator=(const switchover_log&) = delete;

  // Opens a client and installs the event handler. `who` names it on stderr ("producer 3").
  result<std::unique_ptr<failover::client>> open(const failover::failover_options& options, std::string who,
                                                 std::chrono::milliseconds timeout);
  // Adds a client's statistics; call before closing it (stats() needs its background thread).
  void collect(failover::client& c);
  void add_gap(clock::duration d);
  // Reconnects so far (resumed events after a client's first connection), readable from any
  // thread without the lock: a producer compares it before and after a send.
  std::uint64_t reconnects() const { return reconnects_.load(std::memory_order_acquire); }
  // A producer got its first receipt after a reconnect at `when`; the earliest one is reported
  // as first_receipt_after_reconnect_unix_ms (with a fault injected at a known time: fault ->
  // first receipt from the node that took over).
  void note_receipt_after_reconnect(std::chrono::system_clock::time_point when);
  // ACKs the client refused at once (errc::stale_message: the message came on a lost
  // connection); the library's own counter only sees those it found stale itself.
  void add_stale_acks(std::uint64_t n);

  // Appends reconnects, resent, redelivered, ... and the longest gap (`gap_of`: "receipts" or
  // "deliveries") to the report's extra figures.
  void add_to(report& r, const std::string& gap_of) const;

 private:
  void on_event(const std::string& who, const failover::event& e);

  bool print_;
  mutable std::mutex mutex_;
  failover::statistics totals_;
  std::uint64_t interruptions_ = 0;
  std::atomic<std::uint64_t> reconnects_{0};  // resumed events after the first connection
  std::uint64_t closed_unexpectedly_ = 0;
  std::uint64_t stale_acks_refused_ = 0;
  std::chrono::milliseconds longest_outage_{0};
  clock::duration longest_gap_{0};
  std::optional<std::chrono::system_clock::time_point> first_receipt_after_reconnect_;
};

}  // namespace tandem::bench
