#pragma once
// GET /metrics: the node's metrics in the Prometheus text format (families listed in
// broker/ADMIN_API.md, "Metrics"). Served in every role: a standby shows its role, the
// lease it watches and the counters of the process; the broker's own families (connections,
// destinations, journal size) appear while the node is active.
//
// Reading the broker core's figures is posted to the event loop (bounded like the admin API);
// the rest (role, lease, journal histograms, login failures) is read from the HTTP thread.

namespace httplib {
class Server;
}

namespace tandem::broker {

class node;
class http_auth;

// Adds GET /metrics: role viewer, or open with security.metrics_public.
void add_metrics_route(httplib::Server& srv, node& n, http_auth& auth);

}  // namespace tandem::broker
