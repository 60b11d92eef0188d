#pragma once
// The lease protocol as a single-threaded state machine (protocol and timing: LEASE.md).
//
// tick() does whatever is due at the clock's current time and returns what happened:
//   standby: list the lease directory, read the newest record, and claim the next epoch
//            (exclusive create) when the holder released, or its heartbeat did not change for
//            ttl (or for fast_takeover_wait after holder_presumed_dead()).
//   holding: first compare the clock with the validity (a process that was suspended sees it
//            is past it before any I/O), then renew: check that no newer epoch exists, write
//            the next heartbeat, sync. A renewal that started at t and completed before the
//            current validity extends it to t + ttl - safety_margin.
// I/O is synchronous: tick() blocks while storage blocks. The `lease` class runs it on its
// own thread; tests drive it directly with a manual_clock.
//
// Threading: tick(), release() and next_tick_at() from one thread at a time (the owner).
// valid_until(), holding(), observe() and holder_presumed_dead() from any thread, at any
// time, without blocking on storage.

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "storage/clock.h"
#include "storage/epoch.h"
#include "storage/file_system.h"
#include "storage/lease_file.h"
#include "storage/lease_options.h"

namespace tandem::storage {

struct lease_event {
  enum class kind { acquired, lost };
  kind what;
  epoch_t epoch;
  std::string reason;  // why it was lost (empty for acquired)
};

class lease_state_machine {
 public:
  // REQUIRES: validate(options) succeeded. `fs` and `clk` outlive this object.
  lease_state_machine(file_system& fs, lease_options options, clock& clk);
  lease_state_machine(const lease_state_machine&) = delete;
  lease_state_machine& operator=(const lease_state_machine&) = delete;

  std::vector<lease_event> tick();
  // When tick() has work to do next (earlier calls are harmless, just wasted I/O).
  clock::time_point next_tick_at() const;

  // Holder: stop acknowledging (valid_until becomes min() first), then write and sync the
  // record with `released` set. Afterwards this node is a standby that does not take the
  // released epoch over itself before a full ttl (so a switchover goes to the peer). Returns
  // the storage error if the flag could not be written (the peer then waits for ttl).
  // No-op when not holding.
  status release();
  // Gives up the lease without writing (stop()): valid_until becomes min(). Owner thread.
  void abandon();
  // Thread-safe, at once even while tick() blocks in I/O: valid_until() is min() and
  // holding() false from now on, whatever tick() still completes. For stop().
  void revoke();

  // Hint from the broker: positive evidence the holder of `e` is dead (see LEASE.md).
  void holder_presumed_dead(epoch_t e);

  // Watchdog (any thread): if an announced lease is past its validity - typically because
  // tick() is stuck in a storage call - end it now and return the `lost` event, which the
  // owner's tick() will then not report again. Exactly one of this and a concurrent renewal
  // wins (compare-and-swap on valid_until).
  std::optional<lease_event> expire_if_past(clock::time_point now);
  // The announced epoch (0 when none); any thread.
  epoch_t held_epoch() const { return epoch_t(held_epoch_.load()); }

  clock::time_point valid_until() const {
    auto v = valid_until_.load();
    return v == expired_rep ? clock::time_point::min() : clock::time_point{clock::duration{v}};
  }
  bool holding() const { return holding_.load(); }
  lease_status observe() const;
  const lease_options& options() const { return options_; }

 private:
  void tick_standby(clock::time_point now, std::vector<lease_event>& events);
  void tick_holding(clock::time_point now, std::vector<lease_event>& events);
  void claim(epoch_t target, clock::time_point now, std::vector<lease_event>& events);
  bool renew(clock::time_point start, std::vector<lease_event>& events);
  void lose(std::string reason, std::vector<lease_event>& events);
  void observe_record(epoch_t e, const std::optional<lease_record>& r, clock::time_point now);
  void remove_old_epochs();
  void set_valid_until(clock::time_point t);
  void note_error(const std::string& what);
  std::string epoch_path(epoch_t e) const { return join_path(options_.directory, epoch_file_name(e)); }

  file_system& fs_;
  const lease_options options_;
  clock& clock_;

  // --- owner thread only ---
  bool holding_state_ = false;
  bool announced_ = false;       // on_acquired reported; only then is valid_until_ public
  epoch_t epoch_{0};             // held epoch
  std::uint64_t counter_ = 0;    // last heartbeat written (attempted)
  bool dir_synced_ = false;      // the epoch file's creation is durable
  std::unique_ptr<file> file_;   // open handle to the held epoch file (reopened after errors)
  clock::time_point validity_{}; // internal validity, also before the acquisition is announced
  clock::time_point next_renew_{};
  clock::time_point next_poll_{};
  std::optional<epoch_t> released_by_me_;  // standby after release(): no instant claim of it

  // Observation of the newest epoch (standby: someone else's; holding: our own).
  struct observation {
    bool seen = false;
    epoch_t epoch{0};
    std::optional<lease_record> record;  // last valid record of that epoch
    bool record_valid_now = false;       // the last read decoded
    clock::time_point changed_at{};
  };

  // --- shared ---
  mutable std::mutex status_mu_;  // guards obs_ and last_error_ (never held during I/O)
  observation obs_;
  std::string last_error_;
  // Public validity; min() when not holding, expired_rep once the watchdog ended it.
  static constexpr clock::duration::rep min_rep = clock::time_point::min().time_since_epoch().count();
  static constexpr clock::duration::rep expired_rep = min_rep + 1;
  std::atomic<clock::duration::rep> valid_until_{min_rep};
  std::atomic<std::uint64_t> held_epoch_{0};
  std::atomic<bool> holding_{false};
  std::atomic<bool> revoked_{false};
  std::atomic<std::uint64_t> presumed_dead_epoch_{0};
};

}  // namespace tandem::storage
