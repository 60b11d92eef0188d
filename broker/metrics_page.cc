#include "broker/metrics_page.h"

#include <httplib.h>

#include <map>

#include "broker/admin_api.h"
#include "broker/broker.h"
#include "broker/http_server.h"
#include "broker/metrics.h"
#include "broker/node.h"

namespace tandem::broker {
namespace {

// What only the event loop may read: the core's figures and the process's running totals.
struct loop_figures {
  bool active = false;
  node_totals totals;
  std::vector<destination_view> destinations;
  std::map<std::string, std::size_t> connections;  // protocol -> open connections
};

std::optional<loop_figures> read_loop(node& n) {
  auto out = std::make_shared<loop_figures>();
  auto outcome = n.run_on_loop(
      [&n, out](broker* core, loop_done done) {
        out->totals = n.totals();
        out->connections["stomp"] = 0;  // the series exists in every role
        if (core) {
          out->active = true;
          out->destinations = core->destination_views();
          for (const auto& [id, c] : core->connections().all()) ++out->connections[c->protocol_name()];
        }
        done();
      },
      admin_api::loop_timeout);
  if (outcome != loop_outcome::done) return std::nullopt;
  return std::move(*out);
}

std::string render(node& n) {
  node_status s = n.status();
  prometheus_text m;
  m.family("tandem_up", "gauge", "1 while the broker process runs.");
  m.sample("tandem_up", 1);
  m.family("tandem_role", "gauge", "1 for the node's current role, 0 for the others.");
  for (role r : {role::standby, role::activating, role::active, role::fenced}) {
    m.sample("tandem_role", {{"role", to_string(r)}}, s.current == r ? 1 : 0);
  }
  m.family("tandem_epoch", "gauge", "The lease epoch this node holds, or last held.");
  m.sample("tandem_epoch", static_cast<double>(s.epoch));
  m.family("tandem_lease_heartbeat_age_seconds", "gauge",
           "Age of the lease holder's last heartbeat change, by this node's clock.");
  m.sample("tandem_lease_heartbeat_age_seconds", static_cast<double>(s.lease.since_change.count()) / 1000.0);
  m.family("tandem_failovers_total", "counter", "Times this node became active after another node held the lease.");
  m.sample("tandem_failovers_total", static_cast<double>(s.failovers));
  m.family("tandem_fencing_events_total", "counter", "Times this node lost the lease while active.");
  m.sample("tandem_fencing_events_total", static_cast<double>(s.fencing_events));

  auto loop = read_loop(n);
  if (loop) {
    m.family("tandem_connections", "gauge", "Open client connections.");
    for (const auto& [protocol, count] : loop->connections) m.sample("tandem_connections", {{"protocol", protocol}}, count);
    // Not tandem_connections_total: OpenMetrics names a counter's family without _total, which
    // would clash with the gauge above.
    m.family("tandem_connections_accepted_total", "counter", "Client connections accepted since the process started.");
    m.sample("tandem_connections_accepted_total", static_cast<double>(loop->totals.connections_accepted));
    m.family("tandem_messages_in_total", "counter", "Messages received from producers since the process started.");
    m.sample("tandem_messages_in_total", static_cast<double>(loop->totals.messages_in));
    m.family("tandem_messages_out_total", "counter", "Messages delivered to consumers since the process started.");
    m.sample("tandem_messages_out_total", static_cast<double>(loop->totals.messages_out));
    struct per_destination {
      const char* name;
      const char* type;
      const char* help;
      double (*value)(const destination_view&);
    };
    static const per_destination families[] = {
        {"tandem_destination_depth", "gauge", "Messages pending or in flight (a topic: over its subscriptions).",
         [](const destination_view& d) { return static_cast<double>(d.depth); }},
        {"tandem_destination_enqueued_total", "counter", "Messages sent to the destination.",
         [](const destination_view& d) { return static_cast<double>(d.enqueued); }},
        {"tandem_destination_dequeued_total", "counter", "Messages consumed from the destination (acknowledged).",
         [](const destination_view& d) { return static_cast<double>(d.dequeued); }},
        {"tandem_destination_consumers", "gauge", "Attached consumers (a topic: its attached subscribers).",
         [](const destination_view& d) { return static_cast<double>(d.consumers); }},
    };
    for (const auto& f : families) {
      m.family(f.name, f.type, f.help);
      for (const auto& d : loop->destinations) m.sample(f.name, {{"destination", d.name}}, f.value(d));
    }
  }

  const auto& journal = n.journal_metrics();
  m.histogram("tandem_journal_fsync_seconds", "Duration of each journal fsync (one per group commit).",
              journal.fsync_seconds.snapshot());
  m.histogram("tandem_journal_group_size", "Appends made durable by one journal fsync (group commit).",
              journal.group_size.snapshot());
  m.family("tandem_journal_bytes_written_total", "counter", "Bytes appended to the journal since the process started.");
  m.sample("tandem_journal_bytes_written_total", static_cast<double>(journal.bytes_written.load()));
  if (s.current == role::active) {
    m.family("tandem_journal_segments", "gauge", "Journal segment files on disk.");
    m.sample("tandem_journal_segments", static_cast<double>(s.store.segments));
    m.family("tandem_journal_bytes", "gauge", "Bytes of journal segment files on disk.");
    m.sample("tandem_journal_bytes", static_cast<double>(s.store.bytes_on_disk));
    m.family("tandem_recovery_seconds", "gauge", "Duration of the last journal recovery (becoming active).");
    m.sample("tandem_recovery_seconds", s.last_recovery_ms / 1000.0);
  }
  m.family("tandem_store_limit_bytes", "gauge", "storage.max_bytes (0: no limit).");
  m.sample("tandem_store_limit_bytes", static_cast<double>(s.store_limit_bytes));
  m.family("tandem_auth_failures_total", "counter", "Refused logins (wrong user name or password), by protocol.");
  const security_stats& sec = n.security();
  m.sample("tandem_auth_failures_total", {{"protocol", "http"}}, static_cast<double>(sec.http_auth_failures.load()));
  m.sample("tandem_auth_failures_total", {{"protocol", "stomp"}}, static_cast<double>(sec.stomp_auth_failures.load()));
  return m.text();
}

}  // namespace

void add_metrics_route(httplib::Server& srv, node& n, http_auth& auth) {
  auto needed = n.cfg().security.metrics_public ? auth::http_role::none : auth::http_role::viewer;
  auto handler = [&n](const httplib::Request&, httplib::Response& res, const principal&) {
    res.set_content(render(n), "text/plain; version=0.0.4; charset=utf-8");
  };
  if (n.cfg().security.metrics_public) {
    srv.Get("/metrics", [handler](const httplib::Request& req, httplib::Response& res) { handler(req, res, principal{}); });
  } else {
    srv.Get("/metrics", guarded(auth, needed, "read the metrics", handler));
  }
}

}  // namespace tandem::broker
