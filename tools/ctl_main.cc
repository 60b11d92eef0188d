// tandem-ctl: the command-line client of the admin API of a Tandem pair (both nodes at once).
//
//   tandem-ctl [--nodes URL,URL | --config FILE] [--user U] [--password P] [--json]
//              [--timeout MS] [--ca-file F | --insecure] COMMAND
//   COMMAND: status | queues | browse QUEUE [--offset N] [--limit N] [--headers]
//            | purge QUEUE [--yes] | switchover [--no-wait] [--wait-ms MS] | connections
//            | hash-password [--iterations N]
//
// Commands other than status and hash-password ask every node for its status and use the
// one that is active. Exit codes are in tools/ctl_commands.h and tools/README.md.

#include <cstdio>
#include <cstdlib>

#include <CLI/CLI.hpp>

#include "tools/ctl_commands.h"

namespace {

using namespace tandem::ctl;

// Fills in what the command line left open: config file, environment, then a prompt.
int resolve_settings(settings& s, const std::string& nodes, const std::string& config_file, const cli_given& given) {
  if (!nodes.empty()) {
    if (auto e = parse_node_list(nodes, s.nodes)) {
      std::fprintf(stderr, "tandem-ctl: %s\n", e.message.c_str());
      return exit_usage;
    }
  }
  if (!config_file.empty()) {
    if (auto e = load_config_file(config_file, given, s)) {
      std::fprintf(stderr, "tandem-ctl: %s\n", e.message.c_str());
      return exit_usage;
    }
  }
  if (s.nodes.empty()) {
    std::fprintf(stderr, "tandem-ctl: no nodes: give --nodes URL,URL or --config FILE (with a nodes: list)\n");
    return exit_usage;
  }
  if (!s.password_given) {
    if (const char* env = std::getenv("TANDEM_PASSWORD")) {
      s.password = env;
      s.password_given = true;
    }
  }
  if (!s.user.empty() && !s.password_given) {
    s.password = prompt_password("Password for " + s.user + ": ");
    if (s.password.empty()) {
      std::fprintf(stderr, "tandem-ctl: no password for user '%s': give --password, TANDEM_PASSWORD, password_file "
                           "in the config file, or run from a terminal to be asked\n", s.user.c_str());
      return exit_usage;
    }
  }
  return exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tandem-ctl: operate a Tandem active/standby pair through its admin API"};
  app.require_subcommand(1);
  app.footer("Exit codes: 0 done; 1 usage (bad arguments, config file or URL; purge not confirmed); 2 a node did "
             "not answer; 3 no node is active (503 from a standby); 4 credentials or role refused (401/403); "
             "5 any other API error (404, 409, 413 too large, ...).");
  app.fallthrough();
  settings s;
  std::string nodes, config_file;
  // Longer than the 5 s an API call waits for the broker, so its own 503 answer arrives.
  long long timeout_ms = 7000;
  app.add_option("--nodes", nodes, "the nodes' HTTP(S) URLs, comma-separated: http://HOST:PORT,http://HOST:PORT");
  app.add_option("--config", config_file, "a YAML file with nodes, user, password or password_file, ca_file, timeout_ms");
  auto* user_opt = app.add_option("--user", s.user, "user name (HTTP Basic); the password from --password, TANDEM_PASSWORD or a prompt");
  auto* password_opt = app.add_option("--password", s.password, "password (visible to other local users: prefer TANDEM_PASSWORD)");
  app.add_flag("--json", s.json, "print the API's JSON instead of a table");
  auto* timeout_opt = app.add_option("--timeout", timeout_ms, "per request: connect and each read, in ms (default 7000)")->check(CLI::Range(1, 600000));
  auto* ca_opt = app.add_option("--ca-file", s.ca_file, "HTTPS: PEM CA bundle to verify the nodes' certificates")->check(CLI::ExistingFile);
  auto* insecure_opt = app.add_flag("--insecure", s.insecure, "HTTPS: do not verify the nodes' certificates");

  auto* status = app.add_subcommand("status", "both nodes: role, epoch, since, lease holder, heartbeat age (exit 0 only for one active node and every node answering)");
  auto* queues = app.add_subcommand("queues", "queues and topics of the active node with depths and rates");
  browse_args browse_a;
  auto* browse = app.add_subcommand("browse", "messages of a queue, without consuming them");
  browse->add_option("queue", browse_a.queue, "the queue: /queue/NAME or NAME")->required();
  browse->add_option("--offset", browse_a.offset, "first message (0-based)");
  browse->add_option("--limit", browse_a.limit, "messages per page (at most 500)")->check(CLI::Range(1, 500));
  browse->add_flag("--headers", browse_a.headers, "every message with its headers instead of a table");
  std::string purge_queue;
  bool yes = false;
  auto* purge = app.add_subcommand("purge", "remove the waiting messages of a queue (asks first unless --yes)");
  purge->add_option("queue", purge_queue, "the queue: /queue/NAME or NAME")->required();
  purge->add_flag("--yes,-y", yes, "do not ask");
  bool no_wait = false;
  long long wait_ms = 15000;
  auto* switchover = app.add_subcommand("switchover", "the active node hands over to the standby; waits until another node is active");
  switchover->add_flag("--no-wait", no_wait, "return once the active node accepted the request");
  switchover->add_option("--wait-ms", wait_ms, "how long to wait for the new active node (default 15000)")->check(CLI::Range(1, 600000));
  auto* connections = app.add_subcommand("connections", "client connections of the active node");
  std::uint32_t iterations = 100000;
  auto* hash = app.add_subcommand("hash-password", "print a password hash for security.users (password from stdin, or asked twice)");
  hash->add_option("--iterations", iterations, "PBKDF2 iterations (default 100000)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? exit_ok : exit_usage;
  }
  if (hash->parsed()) return cmd_hash_password(iterations);

  s.timeout = std::chrono::milliseconds(timeout_ms);
  s.password_given = password_opt->count() > 0;
  cli_given given{!nodes.empty(), user_opt->count() > 0, s.password_given, ca_opt->count() > 0,
                  insecure_opt->count() > 0, timeout_opt->count() > 0};
  if (int rc = resolve_settings(s, nodes, config_file, given); rc != exit_ok) return rc;

  if (status->parsed()) return cmd_status(s);
  if (queues->parsed()) return cmd_queues(s);
  if (browse->parsed()) return cmd_browse(s, browse_a);
  if (purge->parsed()) return cmd_purge(s, purge_queue, yes);
  if (switchover->parsed()) return cmd_switchover(s, !no_wait, std::chrono::milliseconds(wait_ms));
  if (connections->parsed()) return cmd_connections(s);
  return exit_usage;
}
