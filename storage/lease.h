#pragma once
// The shared-storage lease: decides which of two broker nodes is active (protocol, file
// format and timing argument in storage/LEASE.md).
//
// A `lease` runs lease_state_machine on its own thread, because storage calls block for up
// to their timeout (an NFS server may stall) and must never block the broker's event loop.
//
//   auto l = lease::create(fs, options);            // validates options
//   (*l)->start(on_acquired, on_lost);              // contend; then renew while holding
//   ... before EVERY acknowledgement to a client:   if (!(*l)->valid_now()) refuse / fence
//   (*l)->release(); (*l)->stop();                  // graceful stop or switchover
//
// Contract with the broker (the lease cannot enforce these, the broker must):
//   - Send an acknowledgement (RECEIPT, ...) only when the data it covers is durable AND,
//     checked after that, valid_now() is true. on_lost is asynchronous (and a thread may be
//     delayed between the callback and its next receipt); the per-receipt check is what makes
//     a stale acknowledgement impossible.
//   - on_acquired(epoch): stamp the journal with `epoch` (the fencing token) before writing.
//   - on_lost(reason): stop writing the journal, close endpoints, drop connections. The lease
//     keeps contending afterwards and may call on_acquired again later (a new epoch).
//   - holder_presumed_dead(epoch): only on positive evidence that the holder's process is dead
//     (HA connection closed AND a reconnect to its HA address refused). See LEASE.md.
//
// Threading: two threads. The lease thread runs the protocol; a watchdog thread reports the
// loss (on_lost) at valid_until when the lease thread is stuck in a storage call, so the broker
// fences on time even on a hung mount. Callbacks run on either thread, never concurrently,
// in order (on_acquired(N) before on_lost for N; each loss reported once). Every member may
// be called from any thread, including from a callback (stop() from a callback does not wait
// for the threads), except the destructor, which must not run in a callback.
// valid_until(), valid_now(), holding() are lock-free; observe() never waits for storage;
// release() waits for an in-progress storage call when holding.

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/result.h"
#include "storage/clock.h"
#include "storage/epoch.h"
#include "storage/file_system.h"
#include "storage/lease_options.h"
#include "storage/lease_state_machine.h"

namespace tandem::storage {

class lease {
 public:
  // Fails with std::errc::invalid_argument and a message naming the configuration keys when
  // the options break a timing rule. `fs` and `clk` must outlive the lease.
  static result<std::unique_ptr<lease>> create(file_system& fs, lease_options options,
                                               clock& clk = clock::steady());
  ~lease();  // stop()
  lease(const lease&) = delete;
  lease& operator=(const lease&) = delete;

  // Starts the lease thread: contend until acquired, then renew. Call once.
  void start(std::function<void(epoch_t)> on_acquired, std::function<void(std::string reason)> on_lost);

  // The holder's validity on `clk`'s time line (the real steady clock in production);
  // time_point::min() when not holding.
  clock::time_point valid_until() const { return sm_.valid_until(); }
  bool valid_now() const { return clk_.now() < valid_until(); }
  bool holding() const { return sm_.holding(); }

  // Graceful: valid_until() becomes min() at once, then the `released` flag is written and
  // synced so the standby claims immediately. This node then stands by (it does not retake
  // the epoch it released before a full ttl). No on_lost for a release.
  status release();
  // Fast-path hint for the standby (LEASE.md "Fast path"). Ignored unless `epoch` is the
  // newest epoch, or when options.fast_takeover is false.
  void holder_presumed_dead(epoch_t epoch);
  lease_status observe() const { return sm_.observe(); }
  const lease_options& options() const { return sm_.options(); }

  // Stops contending/renewing and joins the thread (which may wait for one storage call to
  // time out). valid_until() is min() from the moment stop() is called. Does not release.
  void stop();

 private:
  lease(file_system& fs, lease_options options, clock& clk);
  void run();
  void watch();
  bool stopping() {
    std::lock_guard lk(mu_);
    return stopping_;
  }

  clock& clk_;
  lease_state_machine sm_;
  std::mutex sm_mu_;  // serialises tick() and release() (the state machine is single-threaded)

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool wake_ = false;
  std::function<void(epoch_t)> on_acquired_;
  std::function<void(std::string)> on_lost_;
  std::mutex callback_mu_;        // callbacks never run concurrently
  epoch_t dispatched_epoch_{0};   // last epoch whose on_acquired ran (under callback_mu_)
  std::thread thread_;
  std::thread watchdog_;
};

}  // namespace tandem::storage
