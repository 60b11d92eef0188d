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
// the HTTP server runs its own thread and reads status() under a mutex. Work that waits for
// storage after a fence (releasing the lease, closing an abandoned journal) runs on a small
// background pool, never on the event loop; run() waits for it before returning.
//
// Safety: while active, nothing is acknowledged or delivered unless the lease is valid by
// this process's own monotonic clock (broker::may_serve); a SIGSTOPped node that resumes
// after its lease ran out finds it expired before sending anything.

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/thread_pool.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "broker/config.h"
#include "storage/file_system.h"
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
  double last_recovery_ms = 0;
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
  std::unique_ptr<storage::lease> lease_;
  std::unique_ptr<storage::store> store_;
  std::unique_ptr<broker> core_;
  std::unique_ptr<stomp_server> stomp_;
  std::unique_ptr<http_server> http_;
  std::unique_ptr<ha_link> ha_;
  // Built once at start (a bad certificate stops the node there); every TLS listener this
  // node opens while active uses it.
  std::unique_ptr<asio::ssl::context> tls_;
  int exit_code_ = 0;
  bool ha_listening_ = false;

  mutable std::mutex status_mu_;
  node_status status_;
};

}  // namespace tandem::broker
