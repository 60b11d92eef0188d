#pragma once
// A Tandem node: one broker process of an active/standby pair.
//
// Roles (DESIGN §4):
//   standby    contends for the lease; serves no wire endpoint (HTTP status only)
//   activating won epoch N; recovering the journal
//   active     STOMP endpoints open (plain, and TLS when listeners.stomp_ssl is set); the
//              lease is renewed in the background
//   fenced     lease lost, or the journal failed: endpoints closed, connections dropped,
//              journal abandoned without another write (all at once, without waiting for
//              storage); then back to standby (or exit, ha.exit_on_fence). After a journal
//              failure the node releases the lease first, so the peer need not wait the ttl.
// Every transition is logged with the epoch and the reason, and shown in status().
//
// Threading: the node's event loop runs on the thread that calls run(); the lease runs its
// own thread (its storage calls may block up to their timeout) and posts its events here;
// the HTTP server runs its own threads, reads status() under a mutex and reaches the broker
// core only through run_on_loop(), which posts to the event loop and waits with a bound; with
// security.enabled, STOMP passwords are checked on stomp_security's workers, which post the
// answers here. Work that waits for storage after a fence (releasing the lease, closing an
// abandoned journal) runs on a small background pool, never on the event loop; run() waits
// for it before returning.
//
// Safety: while active, nothing is acknowledged or delivered unless the lease is valid by
// this process's own monotonic clock (broker::may_serve); a SIGSTOPped node that resumes
// after its lease ran out finds it expired before sending anything.

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "auth/user_directory.h"
#include "broker/config.h"
#include "broker/loop_call.h"
#include "broker/service_notify.h"
#include "broker/stomp_security.h"
#include "storage/file_system.h"
#include "storage/journal_metrics.h"
#include "storage/lease.h"
#include "storage/store.h"

namespace asio::ssl {
class context;
}

namespace tandem::broker {

class broker;
class stomp_server;
class http_server;
class ha_link;

enum class role { standby, activating, active, fenced, stopped };
std::string_view to_string(role r);

struct node_status {
  std::string name;
  role current = role::standby;
  std::uint64_t epoch = 0;         // the epoch this node holds (active) or last held
  std::int64_t role_since_ms = 0;  // wall clock, for people
  std::string reason;              // why the last transition happened
  std::string stomp_endpoint;
  std::string stomp_ssl_endpoint;  // empty when listeners.stomp_ssl is off
  std::int64_t started_ms = 0;
  storage::lease_status lease;     // as this node last observed it
  std::size_t connections = 0;
  storage::store_stats store;
  std::uint64_t store_limit_bytes = 0;  // storage.max_bytes (0: none)
  double last_recovery_ms = 0;
  std::string version = "0.1.0";
  std::string console;             // this node's console URL ("" without an HTTP listener)
  std::uint64_t failovers = 0;       // times it became active after the peer held the lease
  std::uint64_t fencing_events = 0;  // times it lost the lease while active
};

// Message and connection counts over the life of the process (every core it ran).
struct node_totals {
  std::uint64_t messages_in = 0;
  std::uint64_t messages_out = 0;
  std::uint64_t connections_accepted = 0;
};

class node {
 public:
  node(const config& cfg, storage::file_system& fs);
  ~node();
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  // Runs until SIGTERM/SIGINT (or a fatal error). Returns the process exit code.
  int run();

  // Any thread. A consistent snapshot for the HTTP status and the console.
  node_status status() const;

  // Any thread. The active hands over to the standby: it stops serving, releases the lease
  // at once and stays standby for a while so the peer wins. False if not active.
  bool request_switchover();

  // Any thread but the event loop's. Posts `op` to the event loop and waits up to `timeout`
  // for it to call its loop_done (loop_call.h). `op` gets the broker core while this node is
  // active, else null (a standby, or the core was just fenced away); it must not keep the
  // pointer beyond the handler it runs in (use the core's own callbacks for later work).
  loop_outcome run_on_loop(std::function<void(broker* core, loop_done done)> op, std::chrono::milliseconds timeout);

  // Event loop only (inside run_on_loop): counts over every core this process ran.
  node_totals totals() const;
  // Any thread: fsync latency, group sizes and bytes written of every store this node opened.
  const storage::journal_metrics& journal_metrics() const { return *journal_metrics_; }
  // The users of security.users, for STOMP and HTTP logins alike (authenticate() is
  // thread-safe and caches verified passwords). Lives as long as the node.
  auth::user_directory& users() { return users_; }
  // Any thread: logins accepted and refused (STOMP and HTTP), permission refusals (metrics).
  security_stats& security() { return security_stats_; }
  const config& cfg() const { return cfg_; }

 private:
  void on_acquired(storage::epoch_t epoch);  // event loop
  void on_lost(const std::string& reason);   // event loop
  void activate(storage::epoch_t epoch);
  // Closes the listeners and every connection and stops the core at once. Graceful (switchover,
  // shutdown): the journal is flushed and closed. Otherwise it is abandoned without another
  // write, and the store is destroyed on the background pool (that waits for a storage call
  // in progress), after the event loop has dropped the core and the listeners.
  void deactivate(bool graceful);
  void fence(const std::string& reason);
  void switchover();
  // The journal failed: stop serving at once, then release the lease off the event loop.
  void on_store_failure(const std::string& reason);
  void shutdown();
  // HTTP requests waiting for the event loop are answered at once, then the listeners stop.
  void stop_http();
  void set_role(role r, std::uint64_t epoch, const std::string& reason);
  void refresh_status();
  void start_status_timer();

  const config& cfg_;
  storage::file_system& fs_;
  asio::io_context io_{1};
  // Declared after io_ so it is destroyed (joined) first; run() also joins it.
  asio::thread_pool background_{2};
  asio::signal_set signals_;
  asio::steady_timer status_timer_;
  // Tells systemd (Type=notify) when the node is ready, its role, and that its loop is alive.
  service_notifier service_;
  auth::user_directory users_;
  security_stats security_stats_;
  // Before the STOMP server (its sessions use it), after io_ (its workers post to it): its
  // destructor joins the workers while the loop still exists.
  stomp_security stomp_security_;
  std::unique_ptr<storage::lease> lease_;
  std::unique_ptr<storage::store> store_;
  std::unique_ptr<broker> core_;
  std::unique_ptr<stomp_server> stomp_;
  std::unique_ptr<ha_link> ha_;
  // Built once at start (a bad certificate stops the node there); every TLS listener this
  // node opens while active uses it.
  std::unique_ptr<asio::ssl::context> tls_;
  int exit_code_ = 0;
  bool ha_listening_ = false;
  bool peer_held_lease_ = false;  // seen the peer hold the lease since this node was last active
  node_totals retired_;           // counts of the cores this process ran before the current one
  std::shared_ptr<loop_gate> gate_ = std::make_shared<loop_gate>();
  std::shared_ptr<storage::journal_metrics> journal_metrics_ = std::make_shared<storage::journal_metrics>();

  mutable std::mutex status_mu_;
  node_status status_;
  // Last, so it is destroyed (its threads joined) first: its handlers use the members above
  // (status_mu_ and status_, lease_, gate_, io_, users_, security_stats_) until then.
  std::unique_ptr<http_server> http_;
};

}  // namespace tandem::broker
