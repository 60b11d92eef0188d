#pragma once
// The JSON admin API under /api/v1/ (the contract: broker/ADMIN_API.md). Routes turn into
// calls on the node (status, switchover) or on the broker core, posted to the node's event
// loop with a bound of 5 s (node::run_on_loop); the answers are built on the HTTP thread
// from values the core handed over (admin_views.h).
//
// Every route states the role it needs; guarded() applies the policy of http_auth.h before
// the handler runs. Routes marked active answer 503 on a node that is not active, naming the
// active node and its console (from the lease record) so a person or a tool can go there.
//
// admin_api.cc holds the framework and the node's own routes (login, whoami, status,
// switchover); admin_routes.cc the broker's (destinations, messages, connections, ...).

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "broker/http_auth.h"
#include "broker/loop_call.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace tandem::broker {

class broker;
class node;

using guarded_handler = std::function<void(const httplib::Request&, httplib::Response&, const principal&)>;

// Admits the request through `auth` (role `needed`; `action` words a refusal); when it is not
// admitted, the refusal (401, 403, 429, 503 with its headers) is written to `res`.
auth_outcome admit(http_auth& auth, const httplib::Request& req, httplib::Response& res, auth::http_role needed,
                   std::string_view action);

// A cpp-httplib handler that admits the request through `auth` (role `needed`; `action`
// words a refusal) and then runs `h`.
std::function<void(const httplib::Request&, httplib::Response&)> guarded(http_auth& auth, auth::http_role needed,
                                                                         std::string action, guarded_handler h);

// The path segments of the request target, each URL-decoded ("/api/v1/queues/a%2Fb" ->
// "", "api", "v1", "queues", "a/b"), so names may hold any character.
std::vector<std::string> path_segments(const httplib::Request& req);

class admin_api {
 public:
  static constexpr std::chrono::milliseconds loop_timeout{5000};

  admin_api(node& n, http_auth& auth);
  admin_api(const admin_api&) = delete;
  admin_api& operator=(const admin_api&) = delete;

  void add_routes(httplib::Server& srv);

 private:
  void add_node_routes(httplib::Server& srv);    // admin_api.cc
  void add_broker_routes(httplib::Server& srv);  // admin_routes.cc
  void add_connection_routes(httplib::Server& srv);

  // Answers 503 as on a standby when this node is not active, and returns false.
  bool require_active(httplib::Response& res);
  // Runs `op(core, reply)` on the event loop (reply(value) hands the result over, now or
  // later) and returns the value; or answers 503 (not active, no answer within 5 s, the core
  // gone before it answered) and returns nullopt.
  template <typename T>
  std::optional<T> call_core(httplib::Response& res, std::function<void(broker& core, std::function<void(T)> reply)> op) {
    auto out = std::make_shared<std::optional<T>>();
    bool answered = run_core(res, [out, op = std::move(op)](broker& core, loop_done done) {
      op(core, [out, done](T value) {
        *out = std::move(value);  // read by the HTTP thread only after done() (the gate's mutex)
        done();
      });
    });
    if (!answered) return std::nullopt;
    return std::move(*out);
  }
  // The untyped part of call_core: true when `op` called done; else the 503 is written.
  bool run_core(httplib::Response& res, std::function<void(broker& core, loop_done done)> op);
  void reply_not_active(httplib::Response& res, std::string_view detail = {});

  node& node_;
  http_auth& auth_;
};

}  // namespace tandem::broker
