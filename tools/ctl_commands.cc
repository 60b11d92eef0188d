// tandem-ctl queues, browse, purge, connections: commands served by the active node.

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include <fmt/format.h>

#include "tools/ctl_commands.h"
#include "tools/ctl_output.h"

namespace tandem::ctl {
namespace {

using namespace std::chrono;

std::int64_t now_ms() { return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count(); }

// Finds the active node and runs `fn` with it; reports and returns the exit code on failure.
template <typename Fn>
int with_active(const settings& s, Fn fn) {
  auto nodes = survey(s);
  auto found = find_active(nodes);
  if (!found.node) return report(found.error, s);
  return fn(*found.node);
}

int print_json(const json& j) {
  std::printf("%s\n", j.dump(2).c_str());
  return exit_ok;
}

void print_origin(const node_state& n) {
  std::printf("%s (active) at %s\n", printable(n.name()).c_str(), printable(n.url).c_str());
}

std::string queue_name(const std::string& q) { return q.starts_with("/queue/") ? q : "/queue/" + q; }

std::string f_rate(const json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? rate(j[key].get<double>()) : "—";
}

std::string f_age(const json& j, const char* key) {
  return j.contains(key) && j[key].is_number() && j[key].get<double>() > 0 ? duration_ms(j[key].get<double>()) : "—";
}

}  // namespace

int report(const call_error& e, const settings& s) {
  std::string hint;
  if (e.kind == failure::unauthorized && s.user.empty()) hint = " (give --user and a password: --password, TANDEM_PASSWORD or a prompt)";
  std::fprintf(stderr, "tandem-ctl: %s%s\n", e.message.c_str(), hint.c_str());
  switch (e.kind) {
    case failure::unreachable: return exit_unreachable;
    case failure::unauthorized:
    case failure::forbidden: return exit_auth;
    case failure::standby: return exit_no_active;
    case failure::refused: return exit_api;
  }
  return exit_api;
}

int cmd_queues(const settings& s) {
  return with_active(s, [&](node_state& n) {
    auto r = n.client->get("/api/v1/destinations");
    if (!r.ok()) return report(r.error, s);
    if (s.json) return print_json(*r.value);
    print_origin(n);
    text_table t({{"DESTINATION"}, {"KIND"}, {"DEPTH", true}, {"IN FLIGHT", true}, {"CONSUMERS", true},
                  {"PRODUCERS", true}, {"ENQUEUED", true}, {"DEQUEUED", true}, {"IN", true}, {"OUT", true},
                  {"OLDEST", true}, {"DLQ", true}});
    const json destinations = r.value->value("destinations", json::array());
    for (const auto& d : destinations) {
      bool topic = d.value("kind", "") == "topic";
      t.add({d.value("name", "?"), d.value("kind", "?"), json_count(d, "depth"), json_count(d, "inflight"),
             json_count(d, topic && !d.contains("consumers") ? "subscribers" : "consumers"), json_count(d, "producers"), json_count(d, "enqueued"),
             json_count(d, "dequeued"), f_rate(d, "enqueue_rate"), f_rate(d, "dequeue_rate"), f_age(d, "oldest_age_ms"),
             d.contains("dlq") && d["dlq"].is_string() ? json_count(d, "dlq_depth") : "—"});
    }
    if (t.empty()) std::printf("no destinations yet\n");
    else t.print(stdout);
    return int(exit_ok);
  });
}

int cmd_browse(const settings& s, const browse_args& a) {
  return with_active(s, [&](node_state& n) {
    const std::string name = queue_name(a.queue);
    auto r = n.client->get(fmt::format("{}/messages?offset={}&limit={}", destination_path(name), a.offset, a.limit));
    if (!r.ok()) return report(r.error, s);
    if (s.json) return print_json(*r.value);
    const json& page = *r.value;
    const auto total = page.value("total", std::uint64_t{0});
    const json messages = page.value("messages", json::array());
    print_origin(n);
    if (messages.empty()) {
      std::printf("%s: %s\n", printable(name).c_str(), total ? fmt::format("no messages at offset {} ({} in all)", a.offset, count(total)).c_str()
                                                  : "empty");
      return int(exit_ok);
    }
    std::printf("%s: messages %s-%s of %s\n", printable(name).c_str(), count(a.offset + 1).c_str(),
                count(a.offset + messages.size()).c_str(), count(total).c_str());
    auto state = [](const json& m) {
      std::string st = m.value("inflight", false) ? "in flight" : "waiting";
      if (m.value("redelivered", false)) st += ", redelivered";
      if (!m.value("persistent", true)) st += ", non-persistent";
      return st;
    };
    auto body = [](const json& m, std::size_t width) {
      if (m.value("body_binary", false)) return fmt::format("(not text, {}; --json has its first bytes in base64)", bytes(m.value("size", 0ULL)));
      return one_line(m.value("body_preview", "") + (m.value("body_truncated", false) ? "…" : ""), width);
    };
    std::uint64_t i = a.offset;
    if (a.headers) {
      for (const auto& m : messages) {
        std::printf("\n#%s  %s  priority %d  %s  %s  %s\n", count(++i).c_str(), printable(m.value("message_id", "?")).c_str(),
                    m.value("priority", 4), clock_time(m.value("timestamp_ms", 0LL)).c_str(),
                    bytes(m.value("size", 0ULL)).c_str(), state(m).c_str());
        const json headers = m.value("headers", json::object());
        for (const auto& [k, v] : headers.items())
          std::printf("  %s: %s\n", printable(k).c_str(), one_line(v.is_string() ? v.get<std::string>() : v.dump(), 200).c_str());
        std::printf("  body: %s\n", body(m, 2000).c_str());
      }
    } else {
      text_table t({{"#", true}, {"MESSAGE ID"}, {"PRIO", true}, {"SENT"}, {"SIZE", true}, {"STATE"}, {"BODY"}});
      for (const auto& m : messages) {
        t.add({count(++i), m.value("message_id", "?"), std::to_string(m.value("priority", 4)),
               clock_time(m.value("timestamp_ms", 0LL)), bytes(m.value("size", 0ULL)), state(m), body(m, 60)});
      }
      t.print(stdout);
    }
    if (a.offset + messages.size() < total)
      std::printf("more: --offset %llu\n", static_cast<unsigned long long>(a.offset + messages.size()));
    return int(exit_ok);
  });
}

int cmd_purge(const settings& s, const std::string& queue, bool yes) {
  return with_active(s, [&](node_state& n) {
    const std::string name = queue_name(queue);
    const std::string path = destination_path(name);
    auto q = n.client->get(path);
    if (!q.ok()) return report(q.error, s);
    if (!yes) {
      if (!::isatty(STDIN_FILENO)) {
        std::fprintf(stderr, "tandem-ctl: purge asks for confirmation: run it from a terminal, or add --yes\n");
        return int(exit_usage);
      }
      auto depth = q.value->value("depth", std::uint64_t{0});
      auto inflight = q.value->value("inflight", std::uint64_t{0});
      std::printf("Purge %s waiting in %s on %s (%s)? [y/N] ", count(depth - std::min(depth, inflight)).c_str(), printable(name).c_str(),
                  printable(n.name()).c_str(), printable(n.url).c_str());
      std::fflush(stdout);
      std::string answer;
      std::getline(std::cin, answer);
      if (answer != "y" && answer != "Y" && answer != "yes") {
        std::fprintf(stderr, "tandem-ctl: not purged\n");
        return int(exit_usage);
      }
    }
    auto r = n.client->post(path + "/purge");
    if (!r.ok()) return report(r.error, s);
    if (s.json) return print_json(*r.value);
    std::printf("purged %s from %s on %s\n", json_count(*r.value, "purged").c_str(), printable(name).c_str(),
                printable(n.name()).c_str());
    return int(exit_ok);
  });
}

int cmd_connections(const settings& s) {
  return with_active(s, [&](node_state& n) {
    auto r = n.client->get("/api/v1/connections");
    if (!r.ok()) return report(r.error, s);
    if (s.json) return print_json(*r.value);
    print_origin(n);
    text_table t({{"ID"}, {"CLIENT"}, {"PROTOCOL"}, {"LOGIN"}, {"CLIENT ID"}, {"CONNECTED", true}, {"IN FLIGHT", true},
                  {"IN", true}, {"OUT", true}, {"SUBSCRIPTIONS"}});
    const json connections = r.value->value("connections", json::array());
    for (const auto& c : connections) {
      std::string subs;
      const json subscriptions = c.value("subscriptions", json::array());
      for (const auto& sub : subscriptions)
        subs += (subs.empty() ? "" : ", ") + sub.value("destination", "?");
      auto connected = c.value("connected_ms", 0LL);
      t.add({json_text(c, "id"), json_text(c, "remote"), c.value("protocol", "?") + (c.value("tls", false) ? " (TLS)" : ""),
             json_text(c, "login"), json_text(c, "client_id"), connected ? duration_ms(double(now_ms() - connected)) : "—",
             json_count(c, "inflight"), json_count(c, "messages_in"), json_count(c, "messages_out"),
             subs.empty() ? "—" : one_line(subs, 60)});
    }
    if (t.empty()) std::printf("no client connections\n");
    else t.print(stdout);
    return int(exit_ok);
  });
}

}  // namespace tandem::ctl
