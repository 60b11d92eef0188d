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
// Before routing (so before authentication and before the body is read), every request
// passes the cross-site request guard (http_origin.h) and the body limits: a request body
// must come with a Content-Length (411 otherwise) of at most api_body_limit (413), except
// POST /api/v1/send from an admin, whose message may be as large as a STOMP frame
// (limits.max_frame_bytes): its credentials are checked before its body is read. Each read
// and write of a connection waits at most io_timeout; stop() ends connections still open
// after stop_grace, so it returns within about that time whatever the clients do.
//
// Errors are JSON: {"error": "..."} with the status, including 404 for an unknown route and
// 500 for a handler that threw.

#include <atomic>
#include <chrono>
#include <cstddef>
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
struct Request;
struct Response;
}  // namespace httplib

namespace tandem::broker {

class node;
class admin_api;

class http_server {
 public:
  static constexpr std::size_t api_body_limit = 64 << 10;
  static constexpr std::chrono::seconds io_timeout{3};
  static constexpr std::chrono::milliseconds stop_grace{1000};

  explicit http_server(node& n);
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  // Binds every configured listener and starts serving. An error names the address, or the
  // certificate file that could not be used (then with std::errc::invalid_argument).
  tandem::error start();
  // Stops accepting, gives requests in progress stop_grace to finish, then shuts their
  // connections down and joins every thread. Idempotent; any thread but the HTTP threads.
  void stop();

 private:
  struct listener {
    endpoint where;
    bool tls = false;
    std::unique_ptr<httplib::Server> server;
    std::thread thread;
    std::atomic<bool> finished{false};  // the accept loop returned and its pool was joined
  };
  tandem::error open(listener& l);
  void routes(httplib::Server& srv);
  // The guard and body limits applied before routing: true when `res` holds the refusal.
  bool refuse_early(const httplib::Request& req, httplib::Response& res);

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
