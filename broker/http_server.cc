#include "broker/http_server.h"

#include <httplib.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "broker/admin_api.h"
#include "broker/http_console.h"
#include "broker/metrics_page.h"
#include "broker/node.h"
#include "broker/tls_context.h"
#include "common/log.h"

namespace tandem::broker {
namespace {

using json = nlohmann::json;

// Threads per listener: requests that wait for the event loop (at most 5 s) must not keep
// health probes and the status from being answered. cpp-httplib also holds a thread for each
// idle keep-alive connection until it times out, and a browser opens up to 6 connections to a
// host at once (loading the console's modules): with fewer threads than that, a page load
// stalled for the whole keep-alive timeout. Hence more threads and a short keep-alive.
constexpr std::size_t threads_per_listener = 16;
constexpr time_t keep_alive_timeout_s = 1;

}  // namespace

void reply_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  // Header values and bodies come from clients and need not be UTF-8: replace, never throw.
  res.set_content(body.dump(2, ' ', false, json::error_handler_t::replace) + "\n", "application/json; charset=utf-8");
}

void reply_error(httplib::Response& res, int status, const std::string& why) { reply_json(res, status, {{"error", why}}); }

http_server::http_server(node& n) : node_(n), auth_(n.users(), n.security(), n.cfg().node.name), api_(std::make_unique<admin_api>(n, auth_)) {
  const config& cfg = n.cfg();
  if (cfg.listeners.http.port) listeners_.push_back(std::make_unique<listener>(listener{cfg.listeners.http, false, {}, {}}));
  if (cfg.listeners.https.port) listeners_.push_back(std::make_unique<listener>(listener{cfg.listeners.https, true, {}, {}}));
}

http_server::~http_server() { stop(); }

void http_server::routes(httplib::Server& srv) {
  srv.Get("/healthz", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok\n", "text/plain"); });
  srv.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    auto s = node_.status();
    res.status = s.current == role::active ? 200 : 503;
    res.set_content(std::string(to_string(s.current)) + "\n", "text/plain");
  });
  api_->add_routes(srv);
  add_metrics_route(srv, node_, auth_);
  add_console_routes(srv);
  srv.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    std::string why = res.status == 404 ? "no route for " + req.method + " " + req.path
                      : res.status == 400
                          ? "bad request for " + req.method + " " + req.path +
                                " (a POST needs a Content-Length header; with curl: -d '')"
                      : res.status == 413 ? "the request body is too large"
                                          : "HTTP " + std::to_string(res.status) + " for " + req.method + " " + req.path;
    reply_error(res, res.status, why);
  });
  srv.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    log::error("http", "{} {} failed: {}", req.method, req.path, what);
    reply_error(res, 500, "internal error: " + what);
  });
}

tandem::error http_server::open(listener& l) {
  const config& cfg = node_.cfg();
  if (l.tls) {
    tandem::error tls_err;
    l.server = std::make_unique<httplib::SSLServer>([&](SSL_CTX& ctx) {
      tls_err = configure_tls_server(&ctx, cfg.tls, /*verify_clients=*/false);
      return !tls_err;
    });
    if (tls_err) return tandem::error(tls_err.code, "cannot serve HTTPS on " + l.where.to_string() + ": " + tls_err.message);
    if (!l.server->is_valid()) {
      return tandem::error(std::make_error_code(std::errc::invalid_argument),
                           "cannot serve HTTPS on " + l.where.to_string() + ": OpenSSL refused the TLS context");
    }
  } else {
    l.server = std::make_unique<httplib::Server>();
  }
  auto& srv = *l.server;
  routes(srv);
  srv.new_task_queue = [] { return new httplib::ThreadPool(threads_per_listener); };
  srv.set_read_timeout(std::chrono::seconds(5));
  srv.set_keep_alive_timeout(keep_alive_timeout_s);
  srv.set_write_timeout(std::chrono::seconds(5));
  // A test message's body may be as large as a STOMP frame; nothing else comes close.
  srv.set_payload_max_length(cfg.limits.max_frame_bytes + (64 << 10));
  if (!srv.bind_to_port(l.where.host.c_str(), l.where.port)) {
    return tandem::error(std::make_error_code(std::errc::address_in_use),
                         fmt::format("cannot listen for {} on {}", l.tls ? "HTTPS" : "HTTP", l.where.to_string()));
  }
  l.thread = std::thread([&srv] { srv.listen_after_bind(); });
  // Wait until the accept loop runs: a stop() that comes earlier is lost (cpp-httplib 0.11),
  // and joining the thread would then hang, e.g. when the node fails to start right after.
  for (int i = 0; i < 2000 && !srv.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  log::info("http", "listening for {} on {}", l.tls ? "HTTPS" : "HTTP", l.where.to_string());
  return {};
}

tandem::error http_server::start() {
  if (auth_.open()) {
    log::warn("http", "security.users is empty: the admin API is open to anyone who can reach {} (every request acts "
                      "as admin)",
              node_.cfg().listeners.http.port ? node_.cfg().listeners.http.to_string() : node_.cfg().listeners.https.to_string());
  }
  for (auto& l : listeners_) {
    if (auto err = open(*l)) {
      stop();
      return err;
    }
  }
  return {};
}

void http_server::stop() {
  for (auto& l : listeners_) {
    if (l->server) l->server->stop();
    if (l->thread.joinable()) l->thread.join();
  }
}

}  // namespace tandem::broker
