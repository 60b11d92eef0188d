#pragma once
// The seams between the failover logic and the outside world, so the logic can be tested with
// a fake network and a controllable clock (tests/unit/failover/fake_transport.h).
//
// transport: one byte stream to one endpoint (TCP, or TLS over TCP).
// scheduler: the clock and timers.
//
// Contract for implementations: every handler runs on the connection's executor (the
// io_context thread for the asio implementations; inline from the test for the fakes), never
// inside the call that registered it. After close() no handler of that transport runs any more.
// A transport is used for one connection attempt and thrown away.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include "common/result.h"
#include "failover/uri.h"

namespace tandem::failover {

using clock = std::chrono::steady_clock;

class transport {
 public:
  virtual ~transport() = default;
  // TCP connect (and TLS handshake for stomp+ssl) within `timeout`.
  virtual void async_connect(milliseconds timeout, std::function<void(error)> done) = 0;
  // One read; `data` is valid only during the call. An error (eof included) ends the stream.
  virtual void async_read(std::function<void(error, std::string_view data)> done) = 0;
  // Writes all of `data`. REQUIRES: the previous write has completed.
  virtual void async_write(std::string data, std::function<void(error)> done) = 0;
  virtual void close() = 0;
};

class transport_factory {
 public:
  virtual ~transport_factory() = default;
  virtual std::shared_ptr<transport> make(const endpoint& where) = 0;
};

class scheduler {
 public:
  using timer_id = std::uint64_t;
  virtual ~scheduler() = default;
  virtual clock::time_point now() const = 0;
  // Runs `fn` once after `delay` (0 = soon, never inline). Returns an id for cancel().
  virtual timer_id after(milliseconds delay, std::function<void()> fn) = 0;
  // The timer's function will not run. Cancelling a fired or unknown id does nothing.
  virtual void cancel(timer_id id) = 0;
};

}  // namespace tandem::failover
