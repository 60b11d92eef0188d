// tandem-ctl status and switchover: the commands about the pair as a whole.

#include <chrono>
#include <cstdio>
#include <thread>

#include <fmt/format.h>

#include "tools/ctl_commands.h"
#include "tools/ctl_output.h"

namespace tandem::ctl {
namespace {

using namespace std::chrono;

// The node's own clock at the time of its status, so ages do not depend on this machine's clock.
std::int64_t node_now(const json& st) {
  if (st.contains("started_ms") && st.contains("uptime_ms") && st["started_ms"].is_number() && st["uptime_ms"].is_number())
    return st["started_ms"].get<std::int64_t>() + st["uptime_ms"].get<std::int64_t>();
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string since(const json& st) {
  if (!st.contains("role_since_ms") || !st["role_since_ms"].is_number()) return "—";
  auto at = st["role_since_ms"].get<std::int64_t>();
  return fmt::format("{} ({} ago)", clock_time(at).substr(11), duration_ms(double(node_now(st) - at)));
}

json survey_json(const std::vector<node_state>& nodes, const node_state* active) {
  json out = {{"nodes", json::array()}, {"active", active ? json(active->name()) : json(nullptr)},
              {"active_url", active ? json(active->url) : json(nullptr)}};
  for (const auto& n : nodes) {
    json item = {{"url", n.url}, {"reachable", n.status.ok() || n.status.error.kind != failure::unreachable}};
    if (n.status.ok()) item["status"] = *n.status.value;
    else item["error"] = n.status.error.message;
    out["nodes"].push_back(std::move(item));
  }
  return out;
}

}  // namespace

int cmd_status(const settings& s) {
  auto nodes = survey(s);
  int actives = 0, unreachable = 0, refused = 0;
  const node_state* active = nullptr;
  for (const auto& n : nodes) {
    if (n.active()) {
      ++actives;
      if (!active) active = &n;
    }
    if (!n.status.ok()) (n.status.error.kind == failure::unreachable ? unreachable : refused)++;
  }
  if (s.json) {
    std::printf("%s\n", survey_json(nodes, active).dump(2).c_str());
  } else {
    text_table t({{""}, {"NODE"}, {"URL"}, {"ROLE"}, {"EPOCH", true}, {"SINCE"}, {"LEASE HOLDER"}, {"HEARTBEAT", true}});
    std::vector<std::string> problems;
    for (const auto& n : nodes) {
      if (!n.status.ok()) {
        bool down = n.status.error.kind == failure::unreachable;
        t.add({"", "?", n.url, down ? "unreachable" : "refused", "—", "—", "—", "—"});
        problems.push_back(down ? n.status.error.message : fmt::format("{}: {}", n.url, n.status.error.message));
        continue;
      }
      const json& st = *n.status.value;
      json lease = st.value("lease", json::object());
      std::string heartbeat = lease.contains("heartbeat_age_ms") && lease["heartbeat_age_ms"].is_number()
                                  ? duration_ms(lease["heartbeat_age_ms"].get<double>()) + " ago"
                                  : "—";
      if (lease.value("released", false)) heartbeat = "released";
      t.add({n.active() ? "*" : "", n.name(), n.url, st.value("role", "?"), json_count(st, "epoch"), since(st),
             json_text(lease, "holder"), heartbeat});
    }
    t.print(stdout);
    for (const auto& p : problems) std::printf("! %s\n", p.c_str());
    if (actives == 0) std::printf("! no node is active\n");
    if (actives > 1) std::printf("! %d nodes say they are active\n", actives);
  }
  if (refused == int(nodes.size())) return report(nodes.front().status.error, s);
  if (unreachable > 0) return exit_unreachable;
  if (actives != 1) return exit_no_active;
  return exit_ok;
}

int cmd_switchover(const settings& s, bool wait, milliseconds wait_for) {
  auto nodes = survey(s);
  auto found = find_active(nodes);
  if (!found.node) return report(found.error, s);
  const std::string old_name = found.node->name();
  const auto old_epoch = found.node->status.value->value("epoch", 0LL);
  auto t0 = steady_clock::now();
  auto r = found.node->client->post("/api/v1/switchover");
  if (!r.ok()) return report(r.error, s);
  if (!s.json) std::printf("%s (epoch %lld) released the lease; waiting for the standby to take over\n", old_name.c_str(), old_epoch);
  json out = {{"switchover", *r.value}, {"from", old_name}};
  if (!wait) {
    if (s.json) std::printf("%s\n", out.dump(2).c_str());
    return exit_ok;
  }
  // Done when a node other than the old one says it is active, or (when only the old node is
  // listed) when the old one is standby and names another node as active.
  for (;;) {
    std::this_thread::sleep_for(milliseconds(100));
    auto now = survey(s);
    std::string new_name;
    json new_status;
    for (const auto& n : now) {
      if (!n.status.ok()) continue;
      const json& st = *n.status.value;
      if (n.active() && n.name() != old_name) {
        new_name = n.name();
        new_status = st;
      } else if (n.name() == old_name && st.value("role", "") != "active" && st.contains("active_node") &&
                 st["active_node"].is_string() && st["active_node"].get<std::string>() != old_name && new_name.empty()) {
        new_name = st["active_node"].get<std::string>();
        new_status = {{"node", new_name}, {"epoch", st.value("lease", json::object()).value("epoch", 0LL)}};
      }
    }
    double elapsed = duration<double, std::milli>(steady_clock::now() - t0).count();
    if (!new_name.empty()) {
      out["to"] = new_name;
      out["elapsed_ms"] = elapsed;
      if (s.json) std::printf("%s\n", out.dump(2).c_str());
      else std::printf("%s is active (epoch %lld) %s after the request\n", new_name.c_str(),
                       new_status.value("epoch", 0LL), duration_ms(elapsed).c_str());
      return exit_ok;
    }
    if (steady_clock::now() - t0 > wait_for) {
      out["to"] = nullptr;
      if (s.json) std::printf("%s\n", out.dump(2).c_str());
      std::fprintf(stderr, "tandem-ctl: no other node became active within %s after the switchover\n",
                   duration_ms(double(wait_for.count())).c_str());
      return exit_no_active;
    }
  }
}

}  // namespace tandem::ctl
