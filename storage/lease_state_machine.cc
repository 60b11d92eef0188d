#include "storage/lease_state_machine.h"

#include <algorithm>

#include "common/log.h"

namespace tandem::storage {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

long long ms(clock::duration d) { return duration_cast<milliseconds>(d).count(); }

bool is_missing(const error& e) { return e.code == std::errc::no_such_file_or_directory; }

}  // namespace

lease_state_machine::lease_state_machine(file_system& fs, lease_options options, clock& clk)
    : fs_(fs), options_(std::move(options)), clock_(clk) {
  next_poll_ = clock_.now();
}

std::vector<lease_event> lease_state_machine::tick() {
  std::vector<lease_event> events;
  auto now = clock_.now();
  if (holding_state_) {
    tick_holding(now, events);
  } else {
    tick_standby(now, events);
  }
  return events;
}

clock::time_point lease_state_machine::next_tick_at() const {
  if (holding_state_) return std::min(next_renew_, validity_);
  return next_poll_;
}

// ---------------------------------------------------------------------------------------------
// Standby: watch the newest epoch, claim the next one when its holder is gone.

void lease_state_machine::tick_standby(clock::time_point now, std::vector<lease_event>& events) {
  next_poll_ = now + options_.poll_interval;
  auto newest = newest_epoch(fs_, options_.directory);
  if (!newest && is_missing(newest.err())) {
    // First start on this storage: make the directory (both nodes may race here; mkdirs
    // succeeds when the directory exists) and look again.
    if (auto s = fs_.mkdirs(options_.directory)) {
      note_error(s.describe());
      return;
    }
    newest = newest_epoch(fs_, options_.directory);
  }
  if (!newest) {
    note_error(newest.err().describe());
    return;
  }
  if (!*newest) {
    // Nobody ever held the lease here: whoever creates the first epoch above the journal's
    // newest (epoch 1 on a new cluster) is the holder.
    claim(options_.epoch_floor.next(), now, events);
    return;
  }
  epoch_t n = **newest;
  auto rec = read_lease_record(fs_, options_.directory, n);
  if (!rec) {
    // Deleted under us or unreadable. Claiming needs a fresh read that shows the heartbeat
    // unchanged, so an unreadable record only delays a takeover, never causes one.
    note_error(rec.err().describe());
    return;
  }
  // A change is dated when the read that showed it had returned, never earlier: the record
  // may have landed just before that read, after this tick started (LEASE.md, timing).
  observe_record(n, *rec, clock_.now());

  clock::duration since;
  bool released = false;
  {
    std::lock_guard lk(status_mu_);
    since = std::max(clock::duration::zero(), now - obs_.changed_at);  // a change is dated after its read, which may be after `now`
    released = obs_.record && obs_.record->released && obs_.record_valid_now;
  }
  // Our own release: leave the epoch to the peer for a full ttl (switchover goes to the peer).
  if (released_by_me_ && *released_by_me_ == n) released = false;
  bool presumed_dead = options_.fast_takeover && presumed_dead_epoch_.load() == n.value();

  const char* why = nullptr;
  if (released) {
    why = "holder released it";
  } else if (since >= options_.ttl) {
    why = "heartbeat unchanged for ttl";
  } else if (presumed_dead && since >= fast_takeover_wait(options_)) {
    why = "holder presumed dead and heartbeat unchanged for a renew interval";
  }
  if (!why) return;
  log::info("lease", "claiming epoch {}: epoch {} {} (unchanged for {} ms)", std::max(n.next(), options_.epoch_floor.next()).value(), n.value(), why, ms(since));
  claim(std::max(n.next(), options_.epoch_floor.next()), now, events);
}

void lease_state_machine::observe_record(epoch_t e, const std::optional<lease_record>& r, clock::time_point now) {
  std::lock_guard lk(status_mu_);
  last_error_.clear();  // storage answered
  if (!obs_.seen || obs_.epoch != e) {
    obs_ = observation{true, e, r, r.has_value(), now};
    return;
  }
  obs_.record_valid_now = r.has_value();
  // A missing or garbled record is "no change": a holder that died right after creating its
  // epoch, or one whose writes are torn, is taken over after ttl like a silent one.
  if (!r) return;
  if (!obs_.record || r->counter != obs_.record->counter || r->released != obs_.record->released) {
    obs_.record = r;
    obs_.changed_at = now;
  }
}

void lease_state_machine::claim(epoch_t target, clock::time_point now, std::vector<lease_event>& events) {
  auto created = fs_.open(epoch_path(target), open_mode::create_exclusive);
  if (!created) {
    if (created.code() == std::errc::file_exists) {
      log::info("lease", "epoch {} was claimed by another node first", target.value());
      auto seen = clock_.now();
      std::lock_guard lk(status_mu_);
      obs_ = observation{true, target, std::nullopt, false, seen};
    } else {
      note_error(created.err().describe());
    }
    return;
  }
  // Exclusive create makes us the only creator of this name. Check that it is really the next
  // epoch: a listing can be stale on NFS, and a contender with a very stale one could
  // otherwise recreate an epoch that the holder of a newer one already cleaned up. The
  // predecessor still existing proves no cleanup passed it (cleanup removes oldest first), so
  // no newer epoch can exist; a fresh listing showing a newer epoch proves the opposite. (A
  // listing that does not show our own new file yet is merely stale, not a reason to give up.)
  std::string refused;
  auto newest = newest_epoch(fs_, options_.directory);
  // Seen on NFS right after the directory was made by the peer: a lookup of it answered from a
  // stale negative cache. One more try settles it most of the time.
  if (!newest && is_missing(newest.err())) newest = newest_epoch(fs_, options_.directory);
  if (!newest) {
    refused = "cannot list the lease directory: " + newest.err().describe();
  } else if (*newest && **newest > target) {
    refused = fmt::format("epoch {} exists", (*newest)->value());
  } else if (target.value() > options_.epoch_floor.value() + 1) {
    // (The first epoch above the floor has no predecessor when the lease directory is behind
    // the journal; the listing above already showed nothing newer.)
    if (auto prev = fs_.open(epoch_path(epoch_t(target.value() - 1)), open_mode::read_only); !prev) {
      refused = "its predecessor is gone: " + prev.err().describe();
    }
  }
  if (!refused.empty()) {
    log::warn("lease", "created epoch {} but not using it: {}", target.value(), refused);
    std::lock_guard lk(status_mu_);
    obs_.seen = false;
    return;
  }

  holding_state_ = true;
  announced_ = false;
  epoch_ = target;
  counter_ = 0;
  dir_synced_ = false;
  file_ = std::move(*created);
  // Anyone who saw this epoch saw it after we started creating it, so validity can be counted
  // from `now` (LEASE.md, "Why the holder stops first").
  validity_ = now + options_.ttl - options_.safety_margin;
  next_renew_ = now;
  presumed_dead_epoch_.store(0);
  released_by_me_.reset();
  if (!renew(now, events) && holding_state_) next_renew_ = now + options_.poll_interval;
}

// ---------------------------------------------------------------------------------------------
// Holding: check validity first, then renew.

void lease_state_machine::tick_holding(clock::time_point now, std::vector<lease_event>& events) {
  // First thing after any pause (SIGSTOP, VM freeze, long GC-like stall): before any I/O,
  // compare with the validity. A holder that slept through it must not write or acknowledge.
  if (now >= validity_) {
    lose(fmt::format("lease validity ended {} ms ago without a successful renewal "
                     "(storage unavailable or process suspended)", ms(now - validity_)),
         events);
    return;
  }
  if (now < next_renew_) return;
  if (!renew(now, events) && holding_state_) next_renew_ = now + options_.poll_interval;
}

bool lease_state_machine::renew(clock::time_point start, std::vector<lease_event>& events) {
  if (!file_) {
    auto f = fs_.open(epoch_path(epoch_), open_mode::read_write);
    if (!f) {
      note_error(f.err().describe());
      return false;
    }
    file_ = std::move(*f);
  }
  // Someone claimed after us: we are fenced, whatever our clock says.
  auto newer = fs_.open(epoch_path(epoch_.next()), open_mode::read_only);
  if (newer) {
    lose(fmt::format("epoch {} exists: another node took the lease over", epoch_.value() + 1), events);
    return false;
  }
  if (!is_missing(newer.err())) {
    note_error(newer.err().describe());
    return false;
  }
  // Our epoch file removed by name (an operator cleaning the directory): writes through the
  // open handle would still succeed on a local disk, but nobody can see them any more.
  if (auto st = fs_.stat(epoch_path(epoch_)); !st) {
    if (is_missing(st.err())) {
      lose(fmt::format("{} was removed from the lease directory", epoch_file_name(epoch_)), events);
    } else {
      note_error(st.err().describe());
    }
    return false;
  }
  lease_record rec{epoch_, ++counter_, false, options_.holder_name, options_.ha_address, options_.console_url};
  if (auto s = write_lease_record(*file_, rec)) {
    file_.reset();  // reopen next time: after an NFS error the handle may be dead for good
    note_error(s.describe());
    return false;
  }
  if (!dir_synced_) {
    if (auto s = fs_.sync_dir(options_.directory)) {
      note_error(s.describe());
      return false;
    }
    dir_synced_ = true;
  }
  // A renewal that completes after the validity proves nothing: a contender may have read the
  // old heartbeat just before our write landed and be claiming now.
  auto end = clock_.now();
  if (end >= validity_) {
    lose(fmt::format("renewal completed {} ms after the lease validity ended", ms(end - validity_)), events);
    return false;
  }
  auto old_validity = validity_;
  validity_ = start + options_.ttl - options_.safety_margin;
  next_renew_ = start + options_.renew_interval;
  {
    std::lock_guard lk(status_mu_);
    obs_ = observation{true, epoch_, rec, true, end};
    last_error_.clear();
  }
  if (announced_) {
    // The watchdog (expire_if_past) or stop() may have ended the validity while this renewal
    // was blocked; then they win and the extension is void.
    auto expected = old_validity.time_since_epoch().count();
    if (!valid_until_.compare_exchange_strong(expected, validity_.time_since_epoch().count())) {
      lose("lease validity ended while a renewal was in progress", events);
      return false;
    }
  } else {
    set_valid_until(validity_);
    announced_ = true;
    held_epoch_.store(epoch_.value());
    holding_.store(!revoked_.load());
    log::info("lease", "acquired epoch {} as {}", epoch_.value(), options_.holder_name);
    events.push_back({lease_event::kind::acquired, epoch_, {}});
    remove_old_epochs();
  }
  return true;
}

void lease_state_machine::lose(std::string reason, std::vector<lease_event>& events) {
  bool was_announced = announced_;
  holding_.store(false);
  // The watchdog may have reported this loss already (it left expired_rep behind).
  bool already_reported = valid_until_.exchange(min_rep) == expired_rep;
  held_epoch_.store(0);
  holding_state_ = false;
  announced_ = false;
  file_.reset();
  next_poll_ = clock_.now();  // look at the directory at once: who holds it now?
  {
    std::lock_guard lk(status_mu_);
    obs_.seen = false;  // observe our old epoch afresh, as any contender would
  }
  if (was_announced && already_reported) {
    log::info("lease", "epoch {} already reported lost; now: {}", epoch_.value(), reason);
  } else if (was_announced) {
    log::warn("lease", "lost epoch {}: {}", epoch_.value(), reason);
    events.push_back({lease_event::kind::lost, epoch_, std::move(reason)});
  } else {
    log::warn("lease", "gave up epoch {} before using it: {}", epoch_.value(), reason);
  }
}

status lease_state_machine::release() {
  if (!holding_state_) return {};
  // Stop acknowledging before the peer can see the flag: it claims the moment it does.
  holding_.store(false);
  set_valid_until(clock::time_point::min());
  held_epoch_.store(0);
  status s;
  if (!file_) {
    auto f = fs_.open(epoch_path(epoch_), open_mode::read_write);
    if (f) file_ = std::move(*f);
    else s = f.err();
  }
  if (file_) s = write_lease_record(*file_, {epoch_, ++counter_, true, options_.holder_name, options_.ha_address,
                                                    options_.console_url});
  if (s) note_error(s.describe());
  log::info("lease", "released epoch {}{}", epoch_.value(), s ? " (flag not written: " + s.describe() + ")" : "");
  released_by_me_ = epoch_;
  holding_state_ = false;
  announced_ = false;
  file_.reset();
  next_poll_ = clock_.now() + options_.poll_interval;
  {
    std::lock_guard lk(status_mu_);
    obs_.seen = false;
  }
  return s;
}

void lease_state_machine::abandon() {
  holding_.store(false);
  set_valid_until(clock::time_point::min());
  held_epoch_.store(0);
  holding_state_ = false;
  announced_ = false;
  file_.reset();
}

std::optional<lease_event> lease_state_machine::expire_if_past(clock::time_point now) {
  auto v = valid_until_.load();
  if (v == min_rep || v == expired_rep || now.time_since_epoch().count() < v || !holding_.load()) return std::nullopt;
  auto e = held_epoch_.load();
  if (!valid_until_.compare_exchange_strong(v, expired_rep)) return std::nullopt;  // a renewal won
  holding_.store(false);
  auto reason = fmt::format("lease validity ended {} ms ago; storage call still in progress",
                            ms(now - clock::time_point{clock::duration{v}}));
  log::warn("lease", "lost epoch {}: {}", e, reason);
  return lease_event{lease_event::kind::lost, epoch_t(e), std::move(reason)};
}

void lease_state_machine::revoke() {
  revoked_.store(true);
  holding_.store(false);
  set_valid_until(clock::time_point::min());
}

void lease_state_machine::holder_presumed_dead(epoch_t e) { presumed_dead_epoch_.store(e.value()); }

void lease_state_machine::remove_old_epochs() {
  if (epoch_.value() <= static_cast<std::uint64_t>(options_.keep_old_epochs)) return;
  auto names = fs_.list(options_.directory);
  if (!names) return;
  std::vector<epoch_t> old;
  for (const auto& n : *names) {
    auto e = parse_epoch_file_name(n);
    if (e && e->value() + options_.keep_old_epochs < epoch_.value()) old.push_back(*e);
  }
  // Oldest first, stopping at the first failure: the epochs left always form an unbroken
  // run up to the newest, which claim() relies on.
  std::sort(old.begin(), old.end());
  for (auto e : old) {
    if (auto s = fs_.remove(epoch_path(e))) {
      log::warn("lease", "could not remove old {}: {}", epoch_file_name(e), s.describe());
      return;
    }
  }
}

void lease_state_machine::set_valid_until(clock::time_point t) {
  if (revoked_.load()) t = clock::time_point::min();
  valid_until_.store(t.time_since_epoch().count());
}

void lease_state_machine::note_error(const std::string& what) {
  std::lock_guard lk(status_mu_);
  if (what != last_error_) log::warn("lease", "{}", what);  // once per distinct error, not per poll
  last_error_ = what;
}

lease_status lease_state_machine::observe() const {
  lease_status st;
  st.valid_until = valid_until();
  st.role = holding() ? lease_role::holding : lease_role::standby;
  auto now = clock_.now();
  std::lock_guard lk(status_mu_);
  if (st.role == lease_role::holding && obs_.seen) st.my_epoch = obs_.epoch;
  st.seen = obs_.seen;
  st.newest_epoch = obs_.epoch;
  st.record_valid = obs_.record_valid_now;
  if (obs_.record) {
    st.holder = obs_.record->holder;
    st.ha_address = obs_.record->ha_address;
    st.console = obs_.record->console;
    st.counter = obs_.record->counter;
    st.released = obs_.record->released;
  }
  if (obs_.seen) st.since_change = duration_cast<milliseconds>(now - obs_.changed_at);
  st.last_error = last_error_;
  return st;
}

}  // namespace tandem::storage
