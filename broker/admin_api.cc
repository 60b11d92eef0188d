// The admin API's framework (authentication of each route, the event-loop calls and the
// standby's 503) and the node's own routes: login, logout, whoami, status, switchover.

#include "broker/admin_api.h"

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "broker/admin_views.h"
#include "broker/http_server.h"
#include "broker/node.h"
#include "common/log.h"

namespace tandem::broker {
namespace {

using json = nlohmann::json;

std::string peer_of(const httplib::Request& req) { return req.remote_addr + ":" + std::to_string(req.remote_port); }

std::string session_cookie_header(const http_auth& auth, const httplib::Request& req, const std::string& value,
                                  long max_age) {
  // HttpOnly: scripts never see the token; SameSite=Strict: other sites' pages cannot send it;
  // Secure over HTTPS, so the browser never sends it in the clear.
  return fmt::format("{}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}", auth.cookie_name(), value, max_age,
                     req.ssl ? "; Secure" : "");
}

}  // namespace

auth_outcome admit(http_auth& auth, const httplib::Request& req, httplib::Response& res, auth::http_role needed,
                   std::string_view action) {
  credential_check creds;
  if (!auth.open()) {
    creds = auth.check(request_credentials{req.get_header_value("Authorization"),
                                           cookie_value(req.get_header_value("Cookie"), auth.cookie_name()),
                                           peer_of(req)});
  }
  auto outcome = decide(auth.open(), creds, req.has_header("X-Tandem-Request"), needed, action);
  if (!outcome.admitted()) {
    if (outcome.challenge) res.set_header("WWW-Authenticate", "Basic realm=\"Tandem\", charset=\"UTF-8\"");
    if (outcome.retry_after_s > 0) res.set_header("Retry-After", std::to_string(outcome.retry_after_s));
    reply_error(res, outcome.status, outcome.error);
  }
  return outcome;
}

std::function<void(const httplib::Request&, httplib::Response&)> guarded(http_auth& auth, auth::http_role needed,
                                                                         std::string action, guarded_handler h) {
  return [&auth, needed, action = std::move(action), h = std::move(h)](const httplib::Request& req,
                                                                       httplib::Response& res) {
    auto outcome = admit(auth, req, res, needed, action);
    if (outcome.admitted()) h(req, res, outcome.who);
  };
}

std::vector<std::string> path_segments(const httplib::Request& req) {
  // req.path is already decoded, which loses the difference between '/' and "%2F".
  std::string_view target = req.target;
  target = target.substr(0, target.find('?'));
  std::vector<std::string> out;
  while (true) {
    auto slash = target.find('/');
    out.push_back(httplib::detail::decode_url(std::string(target.substr(0, slash)), false));
    if (slash == std::string_view::npos) break;
    target.remove_prefix(slash + 1);
  }
  return out;
}

admin_api::admin_api(node& n, http_auth& auth) : node_(n), auth_(auth) {}

void admin_api::add_routes(httplib::Server& srv) {
  add_node_routes(srv);
  add_broker_routes(srv);
  add_connection_routes(srv);
}

void admin_api::reply_not_active(httplib::Response& res, std::string_view detail) {
  auto s = node_.status();
  json st = status_to_json(s);
  std::string why;
  if (!detail.empty()) {
    why = std::string(detail);
  } else if (st["active_node"].is_string()) {
    why = fmt::format("{} is {}; the active node is {}", s.name, to_string(s.current), st["active_node"].get<std::string>());
  } else {
    why = fmt::format("{} is {}; no node holds the lease at the moment", s.name, to_string(s.current));
  }
  reply_json(res, 503,
             {{"error", why}, {"role", st["role"]}, {"active_node", st["active_node"]}, {"active_console", st["active_console"]}});
}

bool admin_api::require_active(httplib::Response& res) {
  if (node_.status().current == role::active) return true;
  reply_not_active(res);
  return false;
}

bool admin_api::run_core(httplib::Response& res, std::function<void(broker& core, loop_done done)> op) {
  if (!require_active(res)) return false;
  auto no_core = std::make_shared<bool>(false);
  auto outcome = node_.run_on_loop(
      [no_core, op = std::move(op)](broker* core, loop_done done) {
        if (!core) {
          *no_core = true;  // fenced or switched over since the check above
          done();
          return;
        }
        op(*core, std::move(done));
      },
      loop_timeout);
  switch (outcome) {
    case loop_outcome::done:
      if (!*no_core) return true;
      reply_not_active(res);
      return false;
    case loop_outcome::timed_out:
      reply_not_active(res, fmt::format("the broker did not answer within {} s", loop_timeout.count() / 1000));
      return false;
    case loop_outcome::abandoned:
      reply_not_active(res, "this node stopped serving before the operation completed (fenced or switched over); "
                            "its outcome is unknown");
      return false;
    case loop_outcome::closed:
      reply_not_active(res, "this node is stopping");
      return false;
  }
  return false;
}

void admin_api::add_node_routes(httplib::Server& srv) {
  using auth::http_role;
  srv.Post("/api/v1/login", [this](const httplib::Request& req, httplib::Response& res) {
    if (auth_.open()) {
      reply_json(res, 200, {{"user", nullptr}, {"role", "admin"}, {"auth", false}});
      return;
    }
    json body = json::parse(req.body, nullptr, false);
    if (!body.is_object() || !body.contains("user") || !body["user"].is_string() || !body.contains("password") ||
        !body["password"].is_string()) {
      reply_error(res, 400, "the body must be JSON: {\"user\": \"...\", \"password\": \"...\"}");
      return;
    }
    auto result = auth_.login(body["user"].get<std::string>(), body["password"].get<std::string>(), peer_of(req));
    if (result.throttled) {
      credential_check throttled{credential_check::kind::basic, nullptr, "", result.throttled, result.retry_after_s};
      auto outcome = decide(false, throttled, true, http_role::none, "log in");
      res.set_header("Retry-After", std::to_string(outcome.retry_after_s));
      reply_error(res, outcome.status, outcome.error);
      return;
    }
    if (!result.user) {
      reply_error(res, 401, "wrong user name or password");
      return;
    }
    if (result.user->role == http_role::none) {
      auth_.logout(result.token);
      reply_error(res, 403, fmt::format("user '{}' has no HTTP role (security.users: role viewer or admin)", result.user->name));
      return;
    }
    res.set_header("Set-Cookie", session_cookie_header(auth_, req, result.token, static_cast<long>(auth_.sessions().ttl().count())));
    reply_json(res, 200, {{"user", result.user->name}, {"role", auth::to_string(result.user->role)}, {"auth", true}});
  });
  srv.Post("/api/v1/logout", guarded(auth_, http_role::none, "log out",
                                     [this](const httplib::Request& req, httplib::Response& res, const principal& who) {
    if (who.via_cookie) auth_.logout(cookie_value(req.get_header_value("Cookie"), auth_.cookie_name()));
    res.set_header("Set-Cookie", session_cookie_header(auth_, req, "", 0));
    reply_json(res, 200, {{"result", "logged out"}});
  }));
  srv.Get("/api/v1/whoami", guarded(auth_, http_role::none, "ask who they are",
                                    [this](const httplib::Request&, httplib::Response& res, const principal& who) {
    reply_json(res, 200, {{"user", who.user.empty() ? json(nullptr) : json(who.user)},
                          {"role", auth::to_string(who.role)},
                          {"auth", !auth_.open()}});
  }));
  srv.Get("/api/v1/status", guarded(auth_, http_role::viewer, "read the status",
                                    [this](const httplib::Request&, httplib::Response& res, const principal&) {
    reply_json(res, 200, status_to_json(node_.status()));
  }));
  srv.Post("/api/v1/switchover", guarded(auth_, http_role::admin, "switch over",
                                         [this](const httplib::Request&, httplib::Response& res, const principal& who) {
    auto s = node_.status();
    if (s.current != role::active || !node_.request_switchover()) {
      reply_not_active(res);
      return;
    }
    log::info("http", "switchover requested by {}", who.user.empty() ? "an HTTP client" : "user " + who.user);
    reply_json(res, 202, {{"result", "switching over"}, {"node", s.name}, {"epoch", s.epoch}});
  }));
}

}  // namespace tandem::broker
