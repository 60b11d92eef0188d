#include "tools/ctl_nodes.h"

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

namespace tandem::ctl {
namespace {

tandem::error config_error(const std::string& path, const YAML::Node& at, std::string_view key, std::string_view why) {
  auto line = at.Mark().line >= 0 ? fmt::format(":{}", at.Mark().line + 1) : std::string();
  return tandem::error(std::make_error_code(std::errc::invalid_argument), fmt::format("{}{}: {}: {}", path, line, key, why));
}

}  // namespace

tandem::error parse_node_list(const std::string& list, std::vector<std::string>& out) {
  std::size_t start = 0;
  while (start <= list.size()) {
    auto comma = list.find(',', start);
    auto item = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) {
      auto url = normalise_url(item);
      if (!url) return url.err();
      out.push_back(*url);
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (out.empty()) return tandem::error(std::make_error_code(std::errc::invalid_argument), "--nodes: no node URL given");
  return {};
}

// A relative path in the config file is relative to the file's own directory.
std::string beside(const std::string& config_path, const std::string& file) {
  std::filesystem::path f(file);
  if (f.is_absolute()) return file;
  return (std::filesystem::path(config_path).parent_path() / f).lexically_normal().string();
}

tandem::error load_config_file(const std::string& path, const cli_given& cli, settings& s) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return tandem::error(std::make_error_code(std::errc::no_such_file_or_directory), fmt::format("cannot read config file '{}'", path));
  } catch (const YAML::Exception& e) {
    return tandem::error(std::make_error_code(std::errc::invalid_argument),
                         fmt::format("{}:{}: {}", path, e.mark.line + 1, e.msg));
  }
  if (root.IsNull()) return {};
  if (!root.IsMap()) return config_error(path, root, "(top level)", "expected keys such as nodes, user, password");
  try {
    for (const auto& kv : root) {
      const auto key = kv.first.as<std::string>();
      const YAML::Node& v = kv.second;
      if (key == "nodes") {
        if (cli.nodes) continue;
        std::vector<std::string> urls;
        if (v.IsSequence()) {
          for (const auto& item : v) {
            auto url = normalise_url(item.as<std::string>());
            if (!url) return config_error(path, item, "nodes", url.err().message);
            urls.push_back(*url);
          }
        } else if (auto e = parse_node_list(v.as<std::string>(), urls)) {
          return config_error(path, v, "nodes", e.message);
        }
        if (urls.empty()) return config_error(path, v, "nodes", "no node URL given");
        s.nodes = std::move(urls);
      } else if (key == "user") {
        if (!cli.user) s.user = v.as<std::string>();
      } else if (key == "password") {
        if (!cli.password) {
          s.password = v.as<std::string>();
          s.password_given = true;
        }
      } else if (key == "password_file") {
        if (cli.password) continue;
        const std::string file = beside(path, v.as<std::string>());
        std::ifstream in(file);
        if (!in) return config_error(path, v, "password_file", fmt::format("cannot read '{}'", file));
        std::getline(in, s.password);
        s.password_given = true;
      } else if (key == "ca_file") {
        if (!cli.ca_file) s.ca_file = beside(path, v.as<std::string>());
      } else if (key == "insecure") {
        if (!cli.insecure) s.insecure = v.as<bool>();
      } else if (key == "timeout_ms") {
        auto ms = v.as<long long>();
        if (ms < 1 || ms > 600000) return config_error(path, v, "timeout_ms", "expected 1..600000");
        if (!cli.timeout) s.timeout = std::chrono::milliseconds(ms);
      } else {
        return config_error(path, kv.first, key,
                            "unknown key (expected one of: nodes, user, password, password_file, ca_file, insecure, timeout_ms)");
      }
    }
  } catch (const YAML::Exception& e) {
    return tandem::error(std::make_error_code(std::errc::invalid_argument),
                         fmt::format("{}:{}: {}", path, e.mark.line + 1, e.msg));
  }
  return {};
}

std::string node_state::name() const {
  if (status.ok() && status.value->contains("node") && (*status.value)["node"].is_string())
    return (*status.value)["node"].get<std::string>();
  return url;
}

bool node_state::active() const {
  return status.ok() && status.value->value("role", "") == "active";
}

std::vector<node_state> survey(const settings& s) {
  std::vector<node_state> out;
  for (const auto& url : s.nodes) {
    node_state n;
    n.url = url;
    n.client = std::make_unique<node_client>(node_options{url, s.user, s.password, s.ca_file, s.insecure, s.timeout});
    n.status = n.client->get("/api/v1/status");
    out.push_back(std::move(n));
  }
  return out;
}

active_lookup find_active(std::vector<node_state>& nodes) {
  active_lookup found;
  std::vector<std::string> states;
  bool all_refused = !nodes.empty();
  for (auto& n : nodes) {
    if (n.active() && found.node == nullptr) found.node = &n;
    if (n.status.ok()) {
      all_refused = false;
      const auto& st = *n.status.value;
      std::string role = st.value("role", "?");
      std::string note;
      if (role != "active" && st.contains("active_node") && st["active_node"].is_string()) {
        note = fmt::format(" (it names {} as active", st["active_node"].get<std::string>());
        if (st.contains("active_console") && st["active_console"].is_string())
          note += fmt::format(" at {}", st["active_console"].get<std::string>());
        note += ")";
      }
      states.push_back(fmt::format("{}: {} is {}{}", n.url, n.name(), role, note));
    } else {
      const auto& e = n.status.error;
      if (e.kind != failure::unauthorized && e.kind != failure::forbidden) all_refused = false;
      states.push_back(e.kind == failure::unreachable ? e.message : fmt::format("{}: {}", n.url, e.message));
    }
  }
  if (found.node != nullptr) return found;
  if (all_refused) {
    found.error = nodes.front().status.error;
    found.error.message = fmt::format("{}: {}", nodes.front().url, found.error.message);
    return found;
  }
  std::string joined;
  for (const auto& s : states) joined += (joined.empty() ? "" : "; ") + s;
  found.error = {failure::standby, 0, "no active node: " + joined, {}};
  return found;
}

}  // namespace tandem::ctl
