#pragma once
// The node's HTTP listeners: listeners.http, and listeners.https with the tls.* certificate.
// Both serve the same routes in every role (broker/ADMIN_API.md):
//
//   GET  /healthz, /readyz          probes (no authentication)
//   /api/v1/...                     the admin API (admin_api.h)
//   GET  /metrics                   Prometheus text format (metrics_page.h)
//   /                               the console's static files (http_console.cc, when present)
//
// Each listener runs on threads of its own (cpp-httplib: an accept thread and a small pool),
// so a slow HTTP client never stalls message traffic. Handlers never touch the broker core:
// they read node::status() and post everything else to the event loop (node::run_on_loop).
//
// Errors are JSON: {"error": "..."} with the status, including 404 for an unknown route and
// 500 for a handler that threw.

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "broker/config.h"
#include "broker/http_auth.h"
#include "common/result.h"

namespace httplib {
class Server;
struct Response;
}  // namespace httplib

namespace tandem::broker {

class node;
class admin_api;

class http_server {
 public:
  explicit http_server(node& n);
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  // Binds every configured listener and starts serving. An error names the address, or the
  // certificate file that could not be used (then with std::errc::invalid_argument).
  tandem::error start();
  void stop();

 private:
  struct listener {
    endpoint where;
    bool tls = false;
    std::unique_ptr<httplib::Server> server;
    std::thread thread;
  };
  tandem::error open(listener& l);
  void routes(httplib::Server& srv);

  node& node_;
  http_auth auth_;
  std::unique_ptr<admin_api> api_;
  std::vector<std::unique_ptr<listener>> listeners_;
};

// Writes `body` as the JSON response (pretty-printed; invalid UTF-8 from clients replaced).
void reply_json(httplib::Response& res, int status, const nlohmann::json& body);
// {"error": why} with `status`.
void reply_error(httplib::Response& res, int status, const std::string& why);

}  // namespace tandem::broker
