#pragma once
// Settings and status of the shared-storage lease (protocol and timing argument: LEASE.md).

#include <chrono>
#include <cstdint>
#include <string>

#include "common/result.h"
#include "storage/clock.h"
#include "storage/epoch.h"

namespace tandem::storage {

struct lease_options {
  // Lease directory, relative to the file system's root. Shared by both nodes.
  std::string directory = "lease";
  // This node's name, written into the record (non-empty, no whitespace or '=', <= 255 bytes).
  std::string holder_name;
  // This node's HA address ("host:port"), written into the record so the standby knows where
  // to watch the active (fast path). May be empty (then no fast path is possible).
  std::string ha_address;
  // This node's console URL, written into the record so the standby's console can name and
  // link the active's. May be empty; no whitespace or '=', <= 255 bytes.
  std::string console_url;

  // A contender claims after seeing no heartbeat change for `ttl` by its own clock.
  std::chrono::milliseconds ttl{3000};
  // The holder rewrites its record this often (retries every poll_interval after a failure).
  std::chrono::milliseconds renew_interval{500};
  // The holder stops considering itself valid at (start of last good renewal) + ttl - margin.
  std::chrono::milliseconds safety_margin{500};
  // A contender reads the newest record this often.
  std::chrono::milliseconds poll_interval{100};
  // Honour holder_presumed_dead(): claim after renew_interval * 3/2 + poll_interval of
  // unchanged heartbeat instead of ttl.
  bool fast_takeover = true;
  // Never claim an epoch <= this. The broker passes the newest epoch its journal has seen, so
  // a lease directory that was wiped (or restored from an old backup) cannot hand out an
  // epoch the journal already used.
  epoch_t epoch_floor{0};
  // Epoch files kept behind the current one; older ones are removed by the holder.
  int keep_old_epochs = 4;
};

// Checks the timing rules; the error names the configuration keys, e.g.
// "ha.renew_interval_ms (1500) must be at most a third of ha.lease_ttl_ms (3000)".
error validate(const lease_options& o);

// How long a contender that was told the holder is dead waits for an unchanged heartbeat.
std::chrono::milliseconds fast_takeover_wait(const lease_options& o);

enum class lease_role { standby, holding };

// What a node knows of the lease: its own role, and what it last read of the newest epoch.
struct lease_status {
  lease_role role = lease_role::standby;
  epoch_t my_epoch{0};                   // the epoch held (0 when standby)
  clock::time_point valid_until{clock::time_point::min()};  // holder's validity (min when standby)

  bool seen = false;            // false until a listing of the lease directory succeeded
  epoch_t newest_epoch{0};      // 0 = no epoch file yet
  bool record_valid = false;    // false when the newest record was missing or garbled
  std::string holder;
  std::string ha_address;
  std::string console;          // the holder's console URL, "" when its record has none
  std::uint64_t counter = 0;
  bool released = false;
  // Age, by the observer's own monotonic clock, of the last observed change of the newest
  // epoch or of its heartbeat counter.
  std::chrono::milliseconds since_change{0};
  std::string last_error;       // last storage error seen by this node's lease, "" when none
};

const char* to_string(lease_role r);

}  // namespace tandem::storage
