#pragma once
// Helpers for lease tests: a node (state machine + its own manual clock, as on its own host)
// and a driver that advances every node's clock in small steps and ticks each node when its
// state machine says work is due, as the lease thread would.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "storage/clock.h"
#include "storage/lease_state_machine.h"

namespace tandem::storage::test {

using namespace std::chrono_literals;

inline lease_options lease_opts(std::string name, std::string ha = {}) {
  lease_options o;
  o.holder_name = std::move(name);
  o.ha_address = ha.empty() ? o.holder_name + ":61617" : std::move(ha);
  return o;  // defaults: ttl 3000, renew 500, margin 500, poll 100
}

struct lease_node {
  // Each node starts its monotonic clock at a different, arbitrary point: the two "hosts"
  // share no notion of time, as in production.
  lease_node(file_system& fs, lease_options o, std::chrono::hours clock_start)
      : clk(clock::time_point{} + clock_start), sm(fs, std::move(o), clk) {}

  // Ticks when due; returns the events of this tick.
  std::vector<lease_event> tick_if_due() {
    if (clk.now() < sm.next_tick_at()) return {};
    return tick();
  }
  std::vector<lease_event> tick() {
    auto ev = sm.tick();
    events.insert(events.end(), ev.begin(), ev.end());
    return ev;
  }
  bool holding() const { return sm.holding(); }
  std::optional<epoch_t> acquired_epoch() const {
    std::optional<epoch_t> e;
    for (auto& ev : events)
      if (ev.what == lease_event::kind::acquired) e = ev.epoch;
    return e;
  }
  int count(lease_event::kind k) const {
    int n = 0;
    for (auto& ev : events) n += ev.what == k;
    return n;
  }
  std::string last_lost_reason() const {
    std::string r;
    for (auto& ev : events)
      if (ev.what == lease_event::kind::lost) r = ev.reason;
    return r;
  }
  // The time, on this node's clock, of the last change it observed (standby).
  clock::time_point last_change() const { return clk.now() - sm.observe().since_change; }

  manual_clock clk;
  lease_state_machine sm;
  std::vector<lease_event> events;
  bool frozen = false;  // a frozen node's clock still runs but it does not tick (hung process)
};

// Advances all clocks by `step` until `total` has passed (or `until` returns true), ticking
// every node that is not frozen. Returns true when `until` became true.
template <typename Pred>
bool run_nodes(std::vector<lease_node*> nodes, std::chrono::milliseconds total, Pred until,
               std::chrono::milliseconds step = 10ms) {
  for (auto t = 0ms; t < total; t += step) {
    for (auto* n : nodes)
      if (!n->frozen) n->tick_if_due();
    if (until()) return true;
    for (auto* n : nodes) n->clk.advance(step);
  }
  return until();
}

inline bool run_nodes(std::vector<lease_node*> nodes, std::chrono::milliseconds total) {
  return run_nodes(std::move(nodes), total, [] { return false; });
}

}  // namespace tandem::storage::test
