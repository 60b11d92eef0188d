#include "broker/http_server.h"

#include <httplib.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "broker/admin_api.h"
#include "broker/http_connections.h"
#include "broker/http_console.h"
#include "broker/http_origin.h"
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
  for (auto [where, tls] : {std::pair{cfg.listeners.http, false}, std::pair{cfg.listeners.https, true}}) {
    if (!where.port) continue;
    auto l = std::make_unique<listener>();
    l->where = where;
    l->tls = tls;
    listeners_.push_back(std::move(l));
  }
}

bool http_server::refuse_early(const httplib::Request& req, httplib::Response& res) {
  auto refuse = [&](int status, const std::string& why) {
    // The body, if any, stays unread: the connection cannot carry another request.
    res.set_header("Connection", "close");
    reply_error(res, status, why);
    return true;
  };
  std::string origin = req.get_header_value("Origin"), fetch_site = req.get_header_value("Sec-Fetch-Site"),
              host = req.get_header_value("Host");
  request_facts facts{req.method, req.has_header("X-Tandem-Request"), origin, fetch_site, host, req.ssl != nullptr};
  if (auto why = cross_site_refusal(facts, public_console_url(node_.cfg()))) return refuse(403, *why);
  if (req.has_header("Transfer-Encoding")) {
    return refuse(411, "send the request body with a Content-Length header (chunked request bodies are not accepted)");
  }
  const auto length = req.get_header_value<std::uint64_t>("Content-Length");
  if (length <= api_body_limit) return false;
  if (req.method == "POST" && req.path == "/api/v1/send") {
    const std::size_t frame_limit = node_.cfg().limits.max_frame_bytes;
    if (length > frame_limit) {
      return refuse(413, fmt::format("the request body is {} bytes; a test message may have at most {} "
                                     "(limits.max_frame_bytes)", length, frame_limit));
    }
    // A large body only from someone who may send: checked before the body is read.
    if (admit(auth_, req, res, auth::http_role::admin, "send messages").admitted()) return false;
    res.set_header("Connection", "close");
    return true;
  }
  return refuse(413, fmt::format("the request body is {} bytes; the admin API accepts at most {}", length,
                                 api_body_limit));
}

http_server::~http_server() { stop(); }

void http_server::routes(httplib::Server& srv) {
  srv.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    return refuse_early(req, res) ? httplib::Server::HandlerResponse::Handled
                                  : httplib::Server::HandlerResponse::Unhandled;
  });
  // A client that asks first (curl does for large bodies) hears the refusal before it sends
  // the body at all.
  srv.set_expect_100_continue_handler([this](const httplib::Request& req, httplib::Response& res) {
    return refuse_early(req, res) ? res.status : 100;
  });
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
  // A client that stops sending or reading frees its thread after io_timeout; one that
  // trickles is ended by stop() (http_connections.h).
  srv.set_read_timeout(io_timeout);
  srv.set_keep_alive_timeout(keep_alive_timeout_s);
  srv.set_write_timeout(io_timeout);
  // Only an admin's test message comes close (refuse_early() checks the rest, and the
  // credentials, before reading): as large as a STOMP frame, with its JSON around it.
  srv.set_payload_max_length(std::max<std::size_t>(cfg.limits.max_frame_bytes, api_body_limit) + api_body_limit);
  if (!srv.bind_to_port(l.where.host.c_str(), l.where.port)) {
    return tandem::error(std::make_error_code(std::errc::address_in_use),
                         fmt::format("cannot listen for {} on {}", l.tls ? "HTTPS" : "HTTP", l.where.to_string()));
  }
  l.thread = std::thread([&l] {
    l.server->listen_after_bind();
    l.finished = true;
  });
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
  for (auto& l : listeners_)
    if (l->server) l->server->stop();  // no new connections; idle keep-alive ones end
  const auto deadline = std::chrono::steady_clock::now() + stop_grace;
  for (auto& l : listeners_) {
    if (!l->thread.joinable()) continue;
    while (!l->finished && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    // Past the grace, a client still sending or reading loses its connection; handlers do not
    // wait for the event loop any more (the node closed its gate first), so the pool ends.
    if (!l->finished) {
      log::info("http", "stopping: closed {} connection(s) on {} still open after {} ms",
                shut_down_connections(l->where.port), l->where.to_string(), stop_grace.count());
    }
    for (int i = 0; !l->finished; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      if (i % 25 == 24) shut_down_connections(l->where.port);  // one that was being accepted meanwhile
    }
    l->thread.join();
  }
}

}  // namespace tandem::broker
