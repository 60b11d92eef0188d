#pragma once
// The node's HTTP listener (listeners.http): health, readiness and status for probes, load
// balancers and operators. Runs on its own thread (cpp-httplib), so a slow HTTP client never
// stalls message traffic; it reads the node's state through node::status().
//
//   GET  /healthz              200 while the process runs
//   GET  /readyz               200 only when this node is active, else 503 (role in the body)
//   GET  /api/v1/status        JSON: node, role, epoch, lease holder, heartbeat age, store
//   POST /api/v1/switchover    the active hands over to the standby (409 when not active)

#include <memory>
#include <string>
#include <thread>

#include "broker/config.h"
#include "common/result.h"

namespace httplib {
class Server;
}

namespace tandem::broker {

class node;

class http_server {
 public:
  http_server(node& n, endpoint where);
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  // Binds (an error names the address) and starts serving on a thread of its own.
  tandem::error start();
  void stop();

 private:
  void routes();

  node& node_;
  endpoint where_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

// The status as JSON text (also used by tests and tools).
std::string status_json(const struct node_status& s);

}  // namespace tandem::broker
