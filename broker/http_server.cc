#include "broker/http_server.h"

#include <httplib.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "broker/http_console.h"
#include "broker/node.h"
#include "common/log.h"

namespace tandem::broker {
namespace {

using json = nlohmann::json;

void reply_json(httplib::Response& res, int code, const json& body) {
  res.status = code;
  res.set_content(body.dump(2) + "\n", "application/json");
}

}  // namespace

std::string status_json(const node_status& s) {
  json j{
      {"node", s.name},
      {"role", std::string(to_string(s.current))},
      {"epoch", s.epoch},
      {"role_since_ms", s.role_since_ms},
      {"reason", s.reason},
      {"started_ms", s.started_ms},
      {"version", "0.1.0"},
      {"stomp", s.current == role::active ? json(s.stomp_endpoint) : json(nullptr)},
      {"stomp_ssl", s.current == role::active && !s.stomp_ssl_endpoint.empty() ? json(s.stomp_ssl_endpoint) : json(nullptr)},
      {"connections", s.connections},
      {"lease",
       {{"epoch", s.lease.newest_epoch.value()},
        {"holder", s.lease.holder},
        {"holder_ha_address", s.lease.ha_address},
        {"heartbeat", s.lease.counter},
        {"heartbeat_age_ms", s.lease.since_change.count()},
        {"released", s.lease.released},
        {"last_error", s.lease.last_error}}},
  };
  if (s.current == role::active) {
    j["store"] = {{"segments", s.store.segments},
                  {"bytes_on_disk", s.store.bytes_on_disk},
                  {"live_messages", s.store.live_messages},
                  {"fsyncs", s.store.fsyncs},
                  {"bytes_written", s.store.bytes_written}};
    j["recovery_ms"] = s.last_recovery_ms;
  }
  return j.dump(2) + "\n";
}

http_server::http_server(node& n, endpoint where)
    : node_(n), where_(std::move(where)), server_(std::make_unique<httplib::Server>()) {}

http_server::~http_server() { stop(); }

void http_server::routes() {
  auto& srv = *server_;
  add_console_routes(srv);
  srv.Get("/healthz", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok\n", "text/plain"); });
  srv.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    auto s = node_.status();
    res.status = s.current == role::active ? 200 : 503;
    res.set_content(std::string(to_string(s.current)) + "\n", "text/plain");
  });
  srv.Get("/api/v1/status", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(status_json(node_.status()), "application/json");
  });
  srv.Post("/api/v1/switchover", [this](const httplib::Request&, httplib::Response& res) {
    auto s = node_.status();
    if (!node_.request_switchover()) {
      reply_json(res, 409, {{"error", "node " + s.name + " is " + std::string(to_string(s.current)) +
                                          ", not active: only the active node can hand over"},
                            {"holder", s.lease.holder}});
      return;
    }
    reply_json(res, 202, {{"result", "switching over"}, {"node", s.name}, {"epoch", s.epoch}});
  });
  srv.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    std::string why = res.status == 404 ? "no route for " + req.method + " " + req.path
                      : res.status == 400
                          ? "bad request for " + req.method + " " + req.path +
                                " (a POST needs a Content-Length header; with curl: -d '')"
                          : "HTTP " + std::to_string(res.status) + " for " + req.method + " " + req.path;
    reply_json(res, res.status, {{"error", why}});
  });
}

tandem::error http_server::start() {
  routes();
  server_->new_task_queue = [] { return new httplib::ThreadPool(2); };
  if (!server_->bind_to_port(where_.host.c_str(), where_.port)) {
    return tandem::error(std::make_error_code(std::errc::address_in_use),
                         "cannot listen for HTTP on " + where_.to_string());
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  // Wait until the accept loop runs: a stop() that comes earlier is lost (cpp-httplib 0.11),
  // and joining the thread would then hang, e.g. when the node fails to start right after.
  for (int i = 0; i < 2000 && !server_->is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  log::info("http", "listening on {}", where_.to_string());
  return {};
}

void http_server::stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace tandem::broker
