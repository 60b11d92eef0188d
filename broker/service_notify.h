#pragma once
// systemd's service notification protocol (sd_notify(3)) for a unit with Type=notify, spoken
// directly over the datagram socket named by NOTIFY_SOCKET (the protocol is one datagram of
// "KEY=VALUE\n" lines; no libsystemd needed).
//
// What the node tells systemd:
//   READY=1      once the node runs and contends for the lease (a standby is a healthy,
//                started service: `systemctl start` returns, dependants may start)
//   STATUS=...   every role change ("active (epoch 7): won the lease"), shown by
//                `systemctl status tandem-broker`
//   STOPPING=1   when it begins a graceful stop
//   WATCHDOG=1   every half of WATCHDOG_USEC (WatchdogSec= in the unit), from the event loop:
//                a node whose loop hangs stops pinging, and systemd kills and restarts it (the
//                peer takes over by the lease as after any crash); raised to 10 minutes
//                (WATCHDOG_USEC=) while the node activates and replays the journal
//
// Without NOTIFY_SOCKET (not started by systemd, or Type=simple) every call does nothing.
// Event loop only.

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <string>
#include <string_view>

namespace tandem::broker {

class service_notifier {
 public:
  // Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID from the environment.
  explicit service_notifier(asio::io_context& io);
  ~service_notifier();
  service_notifier(const service_notifier&) = delete;
  service_notifier& operator=(const service_notifier&) = delete;

  // The node's role changed: READY=1 with the first, then STATUS=<status>.
  void role_changed(std::string_view status);
  // A graceful stop began: STOPPING=1; the watchdog stops.
  void stopping(std::string_view status);
  // Starts the WATCHDOG=1 pings if systemd asked for them (WATCHDOG_USEC for this process).
  void start_watchdog();
  // While on, the watchdog's timeout is raised to kSlowPhaseTimeout (WATCHDOG_USEC=, systemd
  // 236 and later): an activation replays the journal on the event loop, which on slow storage
  // may take longer than WatchdogSec, and killing a node mid-takeover would only hand the peer
  // the same replay. Off restores systemd's timeout.
  void slow_phase(bool on);
  static constexpr std::chrono::minutes kSlowPhaseTimeout{10};

  bool enabled() const { return fd_ >= 0; }
  std::chrono::microseconds watchdog_interval() const { return watchdog_; }

 private:
  bool send(std::string_view message);  // false if the datagram was not sent
  void ping();

  int fd_ = -1;              // a datagram socket connected to NOTIFY_SOCKET
  std::string socket_name_;  // for the one warning when a send fails
  bool ready_sent_ = false;
  bool warned_ = false;
  bool slow_ = false;
  std::chrono::microseconds watchdog_{0};  // systemd's timeout; pings every half of it
  asio::steady_timer timer_;
};

}  // namespace tandem::broker
