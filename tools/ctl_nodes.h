#pragma once
// tandem-ctl's settings (command line, config file, environment) and the pair of nodes it
// talks to: asking every node for its status and finding the active one.
//
// Config file (--config FILE), YAML; every key optional, the command line wins:
//
//   nodes: [http://10.0.1.10:8161, http://10.0.2.10:8161]   # or a list, one URL a line
//   user: ops
//   password: secret          # or password_file: /etc/tandem/ops.password (first line)
//   ca_file: /etc/tandem/ca.pem   # relative paths are relative to the config file
//   insecure: false
//   timeout_ms: 7000

#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "tools/ctl_client.h"

namespace tandem::ctl {

struct settings {
  std::vector<std::string> nodes;  // normalised URLs
  std::string user;
  std::string password;
  bool password_given = false;
  std::string ca_file;
  bool insecure = false;
  std::chrono::milliseconds timeout{7000};  // above the API's own 5 s wait for the broker
  bool json = false;
};

// Reads FILE into `s` for every key the command line left unset (`from_cli` says which were
// set). Errors name the file, the line and the key.
struct cli_given {
  bool nodes = false, user = false, password = false, ca_file = false, insecure = false, timeout = false;
};
tandem::error load_config_file(const std::string& path, const cli_given& from_cli, settings& s);

// Splits "URL,URL" and normalises each.
tandem::error parse_node_list(const std::string& list, std::vector<std::string>& out);

// One node's answer to GET /api/v1/status.
struct node_state {
  std::string url;
  std::unique_ptr<node_client> client;
  outcome<json> status;
  std::string name() const;  // the node's name, or its URL when it did not answer
  bool active() const;
};

// Asks every node for its status (one after another; each call bounded by the timeout).
std::vector<node_state> survey(const settings& s);

// The active node among `nodes`, or an error naming every node's state ("no active node:
// http://a: node-1 is standby; http://b: cannot connect: Connection refused"). When every
// node refused the credentials, the error is that refusal.
struct active_lookup {
  node_state* node = nullptr;
  call_error error;
};
active_lookup find_active(std::vector<node_state>& nodes);

}  // namespace tandem::ctl
