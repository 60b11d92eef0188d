// The admin API's broker routes: destinations, browsing, purge, deletion, test messages,
// connections and durable subscriptions (broker/ADMIN_API.md). Each handler asks the core on
// its event loop (call_core) and builds the JSON here, on the HTTP thread.

#include <httplib.h>

#include <charconv>
#include <nlohmann/json.hpp>

#include "broker/admin_api.h"
#include "broker/admin_views.h"
#include "broker/broker.h"
#include "broker/destination.h"
#include "broker/http_server.h"
#include "common/log.h"

namespace tandem::broker {
namespace {

using json = nlohmann::json;
using auth::http_role;

constexpr std::size_t default_page = 50;
constexpr std::size_t max_page = 500;

// The outcome of an operation that removes things once the journal has it.
struct removal {
  bool found = false;
  tandem::error err;
  std::size_t count = 0;
};

template <typename T>
bool parse_whole(const std::string& text, T& out) {
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return !text.empty() && ec == std::errc() && p == text.data() + text.size();
}

// The NAME of /api/v1/queues/NAME/..., as the destination clients write ("/queue/NAME").
std::string destination_at(const httplib::Request& req, std::size_t segment, std::string_view prefix) {
  auto parts = path_segments(req);
  return parts.size() > segment ? std::string(prefix) + parts[segment] : std::string();
}

// {"<key>": [the items as JSON]}.
template <typename T>
void reply_list(httplib::Response& res, const char* key, const std::vector<T>& items) {
  json list = json::array();
  for (const auto& item : items) list.push_back(to_json(item));
  reply_json(res, 200, {{key, std::move(list)}});
}

std::string who_did(const principal& who) { return who.user.empty() ? "an administrator" : "administrator " + who.user; }

// Answers a removal: 404 when there was nothing by that name, the journal's error, or `ok`.
void reply_removal(httplib::Response& res, const removal& r, const std::string& what, json ok) {
  if (!r.found) return reply_error(res, 404, "no " + what);
  if (r.err) return reply_error(res, 500, "the journal did not record it: " + r.err.message);
  reply_json(res, 200, ok);
}

}  // namespace

void admin_api::add_broker_routes(httplib::Server& srv) {
  srv.Get("/api/v1/destinations", guarded(auth_, http_role::viewer, "list destinations",
                                          [this](const httplib::Request&, httplib::Response& res, const principal&) {
    auto views = call_core<std::vector<destination_view>>(res, [](broker& core, auto reply) { reply(core.destination_views()); });
    if (views) reply_list(res, "destinations", *views);
  }));

  // Registered before /queues/NAME, which would also match.
  srv.Get(R"(/api/v1/queues/(.+)/messages)", guarded(auth_, http_role::viewer, "browse queues",
                                                   [this](const httplib::Request& req, httplib::Response& res,
                                                          const principal& who) {
    std::string queue = destination_at(req, 4, queue_prefix);
    if (!who.may_read(queue)) return reply_error(res, 403, fmt::format("user '{}' may not read {}", who.user, queue));
    std::size_t offset = 0, limit = default_page;
    if (req.has_param("offset") && !parse_whole(req.get_param_value("offset"), offset))
      return reply_error(res, 400, "offset must be a whole number, got '" + req.get_param_value("offset") + "'");
    if (req.has_param("limit") && (!parse_whole(req.get_param_value("limit"), limit) || limit == 0))
      return reply_error(res, 400, "limit must be a number from 1 to 500, got '" + req.get_param_value("limit") + "'");
    limit = std::min(limit, max_page);
    auto page = call_core<std::optional<browse_page>>(
        res, [queue, offset, limit](broker& core, auto reply) { reply(core.browse(queue, offset, limit)); });
    if (!page) return;
    if (!*page) return reply_error(res, 404, "no queue " + queue);
    reply_json(res, 200, to_json(**page));
  }));

  srv.Get(R"(/api/v1/queues/(.+))", guarded(auth_, http_role::viewer, "read queues",
                                           [this](const httplib::Request& req, httplib::Response& res, const principal&) {
    std::string queue = destination_at(req, 4, queue_prefix);
    auto view = call_core<std::optional<destination_view>>(res, [queue](broker& core, auto reply) { reply(core.queue_view(queue)); });
    if (!view) return;
    if (!*view) return reply_error(res, 404, "no queue " + queue);
    reply_json(res, 200, to_json(**view));
  }));

  srv.Post(R"(/api/v1/queues/(.+)/purge)", guarded(auth_, http_role::admin, "purge queues",
                                                 [this](const httplib::Request& req, httplib::Response& res,
                                                        const principal& who) {
    std::string queue = destination_at(req, 4, queue_prefix);
    auto r = call_core<removal>(res, [queue](broker& core, auto reply) {
      bool found = core.purge(queue, [reply](const tandem::error& e, std::size_t n) { reply(removal{true, e, n}); });
      if (!found) reply(removal{});
    });
    if (!r) return;
    if (r->found) log::info("http", "{} purged {} ({} messages)", who_did(who), queue, r->count);
    reply_removal(res, *r, "queue " + queue, {{"purged", r->count}});
  }));

  srv.Delete(R"(/api/v1/queues/(.+))", guarded(auth_, http_role::admin, "delete queues",
                                              [this](const httplib::Request& req, httplib::Response& res,
                                                     const principal& who) {
    std::string queue = destination_at(req, 4, queue_prefix);
    std::string reason = queue + " was deleted by " + who_did(who);
    auto r = call_core<removal>(res, [queue, reason](broker& core, auto reply) {
      bool found = core.delete_queue(queue, reason, [reply](const tandem::error& e, std::size_t n) { reply(removal{true, e, n}); });
      if (!found) reply(removal{});
    });
    if (!r) return;
    reply_removal(res, *r, "queue " + queue, {{"deleted", queue}, {"purged", r->count}});
  }));

  srv.Delete(R"(/api/v1/topics/(.+))", guarded(auth_, http_role::admin, "delete topics",
                                              [this](const httplib::Request& req, httplib::Response& res,
                                                     const principal& who) {
    std::string topic = destination_at(req, 4, topic_prefix);
    std::string reason = topic + " was deleted by " + who_did(who);
    auto r = call_core<removal>(res, [topic, reason](broker& core, auto reply) {
      bool found = core.delete_topic(topic, reason, [reply](const tandem::error& e, std::size_t n) { reply(removal{true, e, n}); });
      if (!found) reply(removal{});
    });
    if (!r) return;
    reply_removal(res, *r, "topic " + topic, {{"deleted", topic}, {"durable_subscriptions_deleted", r->count}});
  }));

  srv.Post("/api/v1/send", guarded(auth_, http_role::admin, "send messages",
                                   [this](const httplib::Request& req, httplib::Response& res, const principal& who) {
    json body = json::parse(req.body, nullptr, false);
    if (!body.is_object() || !body.contains("destination") || !body["destination"].is_string())
      return reply_error(res, 400, "the body must be JSON with a \"destination\" such as \"/queue/orders\"");
    auto m = std::make_shared<message>();
    m->destination = body["destination"].get<std::string>();
    if (!is_queue(m->destination) && !is_topic(m->destination))
      return reply_error(res, 400, "destination '" + m->destination + "' must be /queue/NAME or /topic/NAME");
    const json& text = body.contains("body") ? body["body"] : json("");
    if (!text.is_string()) return reply_error(res, 400, "\"body\" must be a string");
    m->body = text.get<std::string>();
    if (body.contains("persistent") && !body["persistent"].is_boolean())
      return reply_error(res, 400, "\"persistent\" must be true or false");
    m->persistent = body.value("persistent", true);
    if (body.contains("priority")) {
      const json& p = body["priority"];
      if (!p.is_number_integer() || p.get<int>() < 0 || p.get<int>() > 9)
        return reply_error(res, 400, "\"priority\" must be a number from 0 to 9");
      m->priority = static_cast<std::uint8_t>(p.get<int>());
    }
    if (body.contains("headers")) {
      if (!body["headers"].is_object()) return reply_error(res, 400, "\"headers\" must be an object of strings");
      for (const auto& [k, v] : body["headers"].items()) {
        if (!v.is_string()) return reply_error(res, 400, "header '" + k + "' must be a string");
        if (broker_owned_header(k))
          return reply_error(res, 400, "header '" + k + "' is set by the broker (priority and persistent are fields of their own)");
        m->headers.push_back({k, v.get<std::string>()});
      }
    }
    m->timestamp_ms = now_ms();
    struct sent {
      std::string id;
      tandem::error err;
    };
    auto r = call_core<sent>(res, [m](broker& core, auto reply) {
      m->message_id = core.next_message_id();
      // Like a client's SEND: the answer comes once a persistent message is durable.
      core.send(m, {}, 0, [reply, id = m->message_id](const tandem::error& e) { reply(sent{id, e}); });
    });
    if (!r) return;
    if (r->err) return reply_error(res, r->err.code == storage::errc::store_full ? 507 : 500, r->err.message);
    log::info("http", "{} sent message {} to {}", who_did(who), r->id, m->destination);
    reply_json(res, 200, {{"message_id", r->id}, {"destination", m->destination}});
  }));

  srv.Get("/api/v1/subscriptions/durable", guarded(auth_, http_role::viewer, "list durable subscriptions",
                                                   [this](const httplib::Request&, httplib::Response& res, const principal&) {
    auto views = call_core<std::vector<durable_view>>(res, [](broker& core, auto reply) { reply(core.durable_views()); });
    if (views) reply_list(res, "subscriptions", *views);
  }));

  srv.Delete(R"(/api/v1/subscriptions/durable/(.+))", guarded(auth_, http_role::admin, "delete durable subscriptions",
                                                             [this](const httplib::Request& req, httplib::Response& res,
                                                                    const principal&) {
    auto parts = path_segments(req);
    if (parts.size() != 7) return reply_error(res, 400, "expected /api/v1/subscriptions/durable/CLIENT_ID/NAME");
    std::string client_id = parts[5], name = parts[6];
    struct outcome {
      broker::durable_removal what;
      tandem::error err;
    };
    auto r = call_core<outcome>(res, [client_id, name](broker& core, auto reply) {
      auto what = core.remove_durable(client_id, name, [reply](const tandem::error& e) {
        reply(outcome{broker::durable_removal::removed, e});
      });
      if (what != broker::durable_removal::removed) reply(outcome{what, {}});
    });
    if (!r) return;
    std::string which = fmt::format("durable subscription '{}' of client '{}'", name, client_id);
    if (r->what == broker::durable_removal::unknown) return reply_error(res, 404, "no " + which);
    if (r->what == broker::durable_removal::attached)
      return reply_error(res, 409, which + " has a subscriber attached; it can be deleted once that disconnects");
    if (r->err) return reply_error(res, 500, "the journal did not record it: " + r->err.message);
    reply_json(res, 200, {{"deleted", {{"client_id", client_id}, {"name", name}}}});
  }));
}

void admin_api::add_connection_routes(httplib::Server& srv) {
  srv.Get("/api/v1/connections", guarded(auth_, http_role::viewer, "list connections",
                                         [this](const httplib::Request&, httplib::Response& res, const principal&) {
    auto list = call_core<std::vector<connection_info>>(res, [](broker& core, auto reply) {
      std::vector<connection_info> out;
      for (const auto& [id, c] : core.connections().all()) out.push_back(c->describe());
      reply(std::move(out));
    });
    if (list) reply_list(res, "connections", *list);
  }));

  srv.Delete(R"(/api/v1/connections/(.+))", guarded(auth_, http_role::admin, "close connections",
                                                   [this](const httplib::Request& req, httplib::Response& res,
                                                          const principal& who) {
    auto parts = path_segments(req);
    std::uint64_t id = 0;
    if (parts.size() != 5 || !parse_whole(parts[4], id)) return reply_error(res, 400, "expected /api/v1/connections/ID with a numeric ID");
    auto closed = call_core<bool>(res, [id](broker& core, auto reply) {
      client_connection* c = core.connections().find(id);
      if (c) c->close_by_admin("closed by an administrator");
      reply(c != nullptr);
    });
    if (!closed) return;
    if (!*closed) return reply_error(res, 404, "no connection " + std::to_string(id));
    log::info("http", "{} closed connection {}", who_did(who), id);
    reply_json(res, 200, {{"closed", std::to_string(id)}});
  }));
}

}  // namespace tandem::broker
