#include "broker/node.h"

#include <asio/post.hpp>

#include <chrono>

#include "broker/broker.h"
#include "broker/ha_link.h"
#include "broker/http_server.h"
#include "broker/server.h"
#include "broker/tls_context.h"
#include "common/log.h"

namespace tandem::broker {
namespace {

storage::lease_options lease_options_from(const config& cfg) {
  storage::lease_options o;
  o.holder_name = cfg.node.name;
  if (cfg.listeners.ha.port) o.ha_address = cfg.listeners.ha.to_string();
  o.ttl = std::chrono::milliseconds(cfg.ha.lease_ttl_ms);
  o.renew_interval = std::chrono::milliseconds(cfg.ha.renew_interval_ms);
  o.safety_margin = std::chrono::milliseconds(cfg.ha.safety_margin_ms);
  o.poll_interval = std::chrono::milliseconds(cfg.ha.poll_interval_ms);
  o.fast_takeover = cfg.ha.fast_takeover;
  o.console_url = public_console_url(cfg);
  return o;
}

}  // namespace

std::string_view to_string(role r) {
  switch (r) {
    case role::standby: return "standby";
    case role::activating: return "activating";
    case role::active: return "active";
    case role::fenced: return "fenced";
    case role::stopped: return "stopped";
  }
  return "unknown";
}

node::node(const config& cfg, storage::file_system& fs)
    : cfg_(cfg),
      fs_(fs),
      signals_(io_, SIGINT, SIGTERM),
      status_timer_(io_),
      service_(io_),
      users_(cfg.security.users),
      stomp_security_(cfg.security.enabled, users_, security_stats_) {
  status_.name = cfg.node.name;
  status_.started_ms = now_ms();
  status_.role_since_ms = status_.started_ms;
  status_.stomp_endpoint = cfg.listeners.stomp.to_string();
  if (cfg.listeners.stomp_ssl.port) status_.stomp_ssl_endpoint = cfg.listeners.stomp_ssl.to_string();
  status_.console = public_console_url(cfg);
  status_.store_limit_bytes = cfg.storage.max_bytes;
}

node::~node() = default;

void node::set_role(role r, std::uint64_t epoch, const std::string& reason) {
  {
    std::lock_guard lock(status_mu_);
    status_.current = r;
    status_.epoch = epoch;
    status_.reason = reason;
    status_.role_since_ms = now_ms();
  }
  log::info("node", "{} is {} (epoch {}): {}", cfg_.node.name, to_string(r), epoch, reason);
  service_.role_changed(fmt::format("{} (epoch {}): {}", to_string(r), epoch, reason));
  service_.slow_phase(r == role::activating);  // the journal's replay runs on the event loop
}

node_status node::status() const {
  node_status s;
  {
    std::lock_guard lock(status_mu_);
    s = status_;
  }
  // The lease's own view is thread-safe and current; the snapshot's may be a poll old.
  if (lease_) s.lease = lease_->observe();
  return s;
}

int node::run() {
  // Certificate problems stop the node here, before it contends: a node that won the lease
  // and then could not open its TLS listener would only hand the pair a failed takeover.
  if (cfg_.listeners.stomp_ssl.port) {
    auto tls = make_tls_context(cfg_.tls);
    if (!tls) {
      log::error("node", "cannot serve STOMP over TLS on {}: {}", cfg_.listeners.stomp_ssl.to_string(),
                 tls.err().message);
      return 2;
    }
    tls_ = std::move(tls.value());
    log::info("node", "TLS ready: certificate {}, client certificates {}", cfg_.tls.cert_file,
              cfg_.tls.ca_file.empty() ? "not requested" : "required, signed by " + cfg_.tls.ca_file);
  }
  // The lease object exists before anything that reads it (status() on the HTTP threads);
  // it starts contending only at the end.
  auto lease_opts = lease_options_from(cfg_);
  auto floor = storage::newest_journal_epoch(fs_, "journal");
  if (!floor) {
    log::error("node", "cannot read the journal directory: {}", floor.err().describe());
    return 1;
  }
  lease_opts.epoch_floor = *floor;
  auto lease = storage::lease::create(fs_, lease_opts);
  if (!lease) {
    log::error("node", "{}", lease.err().message);
    return 2;
  }
  lease_ = std::move(lease.value());
  // The HTTP status and the HA listener serve in every role, so probes and the peer can tell
  // what this node is doing even while it stands by.
  if (cfg_.listeners.http.port || cfg_.listeners.https.port) {
    http_ = std::make_unique<http_server>(*this);
    if (auto err = http_->start()) {
      log::error("node", "{}", err.message);
      // A certificate that cannot be used stops the node like one for STOMP over TLS does.
      return err.code == std::errc::invalid_argument ? 2 : 1;
    }
  }
  ha_ = std::make_unique<ha_link>(io_);
  if (cfg_.listeners.ha.port) {
    if (auto err = ha_->listen(cfg_.listeners.ha)) {
      log::error("node", "{}", err.message);
      stop_http();  // the node is not starting: nothing may answer for it
      return 1;
    }
    ha_listening_ = true;
  }
  if (cfg_.security.enabled) {
    log::info("node", "STOMP security on: CONNECT needs the login and passcode of one of {} users",
              users_.users().size());
  } else if (!users_.empty()) {
    log::info("node", "STOMP security off (security.enabled is false): STOMP logins are not checked");
  }
  set_role(role::standby, 0, "started; contending for the lease");

  signals_.async_wait([this](std::error_code ec, int sig) {
    if (ec) return;
    log::info("node", "signal {}: stopping", sig);
    shutdown();
  });
  lease_->start(
      [this](storage::epoch_t e) { asio::post(io_, [this, e] { on_acquired(e); }); },
      [this](std::string reason) { asio::post(io_, [this, reason] { on_lost(reason); }); });
  start_status_timer();
  service_.start_watchdog();
  io_.run();
  // A release or an abandoned journal may still be waiting for storage (bounded by the storage
  // calls' timeout).
  background_.join();
  return exit_code_;
}

void node::start_status_timer() {
  refresh_status();
  status_timer_.expires_after(std::chrono::milliseconds(cfg_.ha.poll_interval_ms));
  status_timer_.async_wait([this](std::error_code ec) {
    if (!ec) start_status_timer();
  });
}

void node::refresh_status() {
  if (store_ && store_->failed() && status().current == role::active) {
    // A failure no client operation has run into yet (a checkpoint in the background); the
    // core reports the others at once (broker::on_store_failure).
    on_store_failure("the journal failed: " + store_->last_error().describe());
  }
  auto observed = lease_->observe();
  // A standby watches the active's HA link for the fast path.
  std::optional<ha_link::target> watch;
  if (!lease_->holding() && observed.seen && observed.newest_epoch.value() > 0 && !observed.released &&
      observed.holder != cfg_.node.name && !observed.ha_address.empty()) {
    watch = ha_link::target{observed.newest_epoch.value(), observed.ha_address};
  }
  ha_->watch(watch, [this](std::uint64_t epoch) { lease_->holder_presumed_dead(storage::epoch_t(epoch)); });
  // This node restarted after a crash: the record names this node and this HA address, and
  // this process holds that address's listening socket, so the process that wrote the record
  // is gone (no two processes listen on one port). Same evidence as a refused connection.
  if (!lease_->holding() && ha_listening_ && observed.seen && observed.newest_epoch.value() > 0 &&
      !observed.released && observed.holder == cfg_.node.name &&
      observed.ha_address == cfg_.listeners.ha.to_string()) {
    lease_->holder_presumed_dead(observed.newest_epoch);
  }

  if (!lease_->holding() && observed.seen && observed.newest_epoch.value() > 0 && !observed.holder.empty() &&
      observed.holder != cfg_.node.name) {
    peer_held_lease_ = true;
  }

  std::lock_guard lock(status_mu_);
  status_.lease = observed;
  status_.connections = stomp_ ? stomp_->connections() : 0;
  if (store_) status_.store = store_->stats();
}

void node::on_acquired(storage::epoch_t epoch) {
  if (!lease_->holding()) return;  // lost again before this ran
  activate(epoch);
}

void node::activate(storage::epoch_t epoch) {
  set_role(role::activating, epoch.value(), "won the lease; recovering the journal");
  auto started = std::chrono::steady_clock::now();
  storage::store_options opts;
  opts.directory = "journal";  // beside "lease" in the shared directory
  opts.epoch = epoch;
  opts.segment_bytes = cfg_.storage.segment_bytes;
  opts.max_store_bytes = cfg_.storage.max_bytes;
  opts.checkpoint_every_bytes = cfg_.storage.checkpoint_every_bytes;
  // The writer refuses to write once this process cannot prove it still holds the lease.
  opts.may_write = [l = lease_.get()] { return l->valid_now(); };
  opts.metrics = journal_metrics_;
  auto store = storage::store::open(fs_, opts);
  if (!store) {
    log::error("node", "cannot open the journal: {}", store.err().describe());
    lease_->release();
    set_role(role::standby, epoch.value(), "journal failed to open: " + store.err().describe());
    return;
  }
  store_ = std::move(store.value());
  core_ = std::make_unique<broker>(io_, cfg_, *store_);
  core_->set_fence([l = lease_.get()] { return l->valid_now(); });
  core_->on_store_failure([this](const tandem::error& e) { on_store_failure("the journal failed: " + e.describe()); });
  core_->recover();
  core_->start();
  stomp_ = std::make_unique<stomp_server>(io_, *core_, stomp_security_);
  auto err = stomp_->listen(cfg_.listeners.stomp);
  if (!err && tls_) {
    err = stomp_->listen_tls(cfg_.listeners.stomp_ssl, *tls_,
                             std::chrono::milliseconds(cfg_.tls.handshake_timeout_ms));
  }
  if (err) {
    log::error("node", "{}", err.message);
    deactivate(true);
    lease_->release();
    exit_code_ = 1;
    shutdown();
    return;
  }
  auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  {
    std::lock_guard lock(status_mu_);
    status_.last_recovery_ms = ms;
    status_.store = store_->stats();  // not a poll interval late
    if (peer_held_lease_) ++status_.failovers;
  }
  peer_held_lease_ = false;
  std::string where = cfg_.listeners.stomp.to_string();
  if (tls_) where += " and STOMP over TLS on " + cfg_.listeners.stomp_ssl.to_string();
  set_role(role::active, epoch.value(),
           fmt::format("serving STOMP on {} ({:.0f} ms after winning the lease)", where, ms));
}

void node::deactivate(bool graceful) {
  // Order matters when fencing: the journal stops first, so nothing the sessions do while
  // closing (requeues, acks) can reach the disk of a node that no longer holds the lease.
  // abandon() returns at once even when the writer is stuck in a storage call, so the
  // listeners close now, not after the storage call's timeout.
  if (store_ && !graceful) store_->abandon();
  if (core_) core_->stop();  // no dispatch while the sessions close below
  if (stomp_) stomp_->stop();
  if (core_) {
    retired_.messages_in += core_->stats().messages_in;
    retired_.messages_out += core_->stats().messages_out;
    retired_.connections_accepted += core_->connections().accepted();
  }
  if (store_ && graceful) store_->close();
  // Handlers already queued may still refer to the core; destroy it after they ran. The store
  // outlives the core; an abandoned one is destroyed on the pool, because that joins its
  // writer thread and closes its files, which may wait for storage that no longer answers.
  auto core = std::shared_ptr<broker>(std::move(core_));
  auto stomp = std::shared_ptr<stomp_server>(std::move(stomp_));
  auto store = std::shared_ptr<storage::store>(std::move(store_));
  asio::post(io_, [this, graceful, core = std::move(core), stomp = std::move(stomp), store = std::move(store)]() mutable {
    stomp.reset();
    core.reset();
    if (!graceful && store) asio::post(background_, [store = std::move(store)]() mutable { store.reset(); });
  });
}

void node::on_lost(const std::string& reason) {
  if (status().current == role::stopped) return;
  fence(reason);
}

void node::fence(const std::string& reason) {
  auto epoch = status().epoch;
  {
    std::lock_guard lock(status_mu_);
    if (status_.current == role::active || status_.current == role::activating) ++status_.fencing_events;
  }
  set_role(role::fenced, epoch, reason);
  deactivate(false);
  if (cfg_.ha.exit_on_fence) {
    exit_code_ = 3;
    shutdown();
    return;
  }
  set_role(role::standby, epoch, "fenced after: " + reason + "; contending again");
}

void node::stop_http() {
  // HTTP requests waiting for this loop would wait in vain: answer them before joining.
  gate_->close();
  if (http_) http_->stop();
}

loop_outcome node::run_on_loop(std::function<void(broker* core, loop_done done)> op,
                              std::chrono::milliseconds timeout) {
  auto state = std::make_shared<loop_done::state>();
  state->gate = gate_;
  {
    loop_done done(state);
    asio::post(io_, [this, op = std::move(op), done]() mutable {
      // A core exists only while this node is active; a stopped one is being torn down.
      broker* core = core_ && !core_->stopped() ? core_.get() : nullptr;
      op(core, std::move(done));
    });
  }
  return wait_for(*state, timeout);
}

node_totals node::totals() const {
  node_totals t = retired_;
  if (core_) {
    t.messages_in += core_->stats().messages_in;
    t.messages_out += core_->stats().messages_out;
    t.connections_accepted += core_->connections().accepted();
  }
  return t;
}

bool node::request_switchover() {
  if (status().current != role::active) return false;
  asio::post(io_, [this] { switchover(); });
  return true;
}

void node::switchover() {
  if (status().current != role::active) return;
  auto epoch = status().epoch;
  log::info("node", "switchover requested: handing epoch {} over to the peer", epoch);
  deactivate(true);
  if (auto err = lease_->release()) log::warn("node", "could not write the release: {}", err.describe());
  set_role(role::standby, epoch, "switched over: released the lease to the peer");
}

void node::on_store_failure(const std::string& reason) {
  if (status().current != role::active) return;
  auto epoch = status().epoch;
  log::error("node", "{}; handing the lease over", reason);
  // Not active from this moment: the status says so and no client reaches this node again
  // (it could store nothing; what it was writing is in doubt, and the recovery of whoever
  // takes over decides).
  set_role(role::fenced, epoch, reason + "; releasing the lease");
  deactivate(false);
  // The release waits for the lease thread, which may be blocked in a call to the same storage,
  // and then writes to it: off the event loop. The peer claims at once when the release is
  // written, or after the ttl when it cannot be.
  asio::post(background_, [this, epoch, reason] {
    auto err = lease_->release();
    asio::post(io_, [this, epoch, reason, err] {
      auto now = status();
      if (now.current != role::fenced || now.epoch != epoch) return;  // fenced by the lease meanwhile
      set_role(role::standby, epoch,
               reason + (err ? "; the release could not be written (" + err.describe() +
                                   "): the peer takes over after the lease ttl"
                             : "; released the lease"));
    });
  });
}

void node::shutdown() {
  auto r = status().current;
  if (r == role::stopped) return;
  auto epoch = status().epoch;
  // Before the hand-over, so systemd shows the stop while the journal closes.
  service_.stopping(r == role::active ? "stopping: closing the journal and releasing the lease" : "stopping");
  if (r == role::active || r == role::activating) {
    deactivate(true);
    if (auto err = lease_->release()) log::warn("node", "could not write the release: {}", err.describe());
  }
  set_role(role::stopped, epoch, "stopping");
  status_timer_.cancel();
  signals_.cancel();
  if (ha_) ha_->stop();
  if (lease_) lease_->stop();
  stop_http();
  stomp_security_.stop();  // logins still being checked are for sessions closed above
  io_.stop();
}

}  // namespace tandem::broker
