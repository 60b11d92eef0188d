#pragma once
// The reconnect schedule: which endpoint to try next, and how long to wait before trying it.
//
// One episode (begin() .. the next successful connection) is a series of passes; a pass tries
// every endpoint once, back to back. Order within a pass: priority endpoints first (priorityURIs,
// in their order), then the others — shuffled for every pass when `randomize`, else in list
// order. Demoted endpoints go to the end of every pass of the episode: the endpoint just lost
// (after a crash its peer is the likely new active) and every endpoint whose attempt ran into
// connectTimeout (a frozen process or a host cut off the network still costs a whole timeout per
// attempt, while the live node answers in a round trip).
//
// Between passes the policy waits (nats.c's rule: backoff only after a full pass):
//   base(k)  = initialReconnectDelay * backOffMultiplier^(k-1)  (k = passes failed so far),
//              or initialReconnectDelay without useExponentialBackOff; capped at maxReconnectDelay
//   delay(k) = base(k) * (1 - reconnectJitter * U),  U uniform in [0, 1)
// so clients that lost the same broker at the same moment spread out, and no delay exceeds
// maxReconnectDelay.
//
// Limits: an episode allows N + 1 passes where N is maxReconnectAttempts (the first pass plus N
// more; 0 = once), or startupMaxReconnectAttempts for the first connection; -1 is unlimited.
//
// Threading: none; owned by one connection.

#include <cstddef>
#include <functional>
#include <optional>
#include <vector>

#include "failover/uri.h"

namespace tandem::failover {

class reconnect_policy {
 public:
  // `uniform01` returns U in [0, 1); it drives both jitter and `randomize` (tests pass a fixed
  // sequence).
  reconnect_policy(const failover_options& options, std::function<double()> uniform01);

  // Starts an episode. `lost` is the index of the endpoint whose connection was lost (nullopt
  // for the first connection, which uses startupMaxReconnectAttempts).
  void begin(std::optional<std::size_t> lost);

  struct attempt {
    std::size_t endpoint;  // index into options.endpoints
    milliseconds delay;    // wait this long before connecting (0 within a pass)
  };
  // The next attempt of this episode, or nullopt when its passes are used up.
  std::optional<attempt> next();
  // The attempt at this endpoint ran into connectTimeout: try it after the others from the
  // next pass on.
  void demote(std::size_t endpoint);

  int passes_started() const { return pass_; }
  // base(k) above, without jitter (k >= 1).
  milliseconds base_delay(int failed_passes) const;
  bool is_priority(std::size_t endpoint) const;

 private:
  void plan_pass();

  const failover_options& options_;
  std::function<double()> uniform01_;
  std::vector<std::size_t> order_;  // this pass
  std::size_t position_ = 0;
  int pass_ = 0;
  long long pass_limit_ = -1;  // -1 unlimited
  std::vector<std::size_t> demoted_;  // in the order demoted
};

}  // namespace tandem::failover
