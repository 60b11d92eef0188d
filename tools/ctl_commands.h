#pragma once
// tandem-ctl's subcommands. Each prints its result (a table, or the API's JSON with --json)
// on stdout, errors on stderr ("tandem-ctl: ..."), and returns the exit code.

#include <chrono>
#include <string>

#include "tools/ctl_nodes.h"

namespace tandem::ctl {

enum exit_code : int {
  exit_ok = 0,
  exit_usage = 1,        // bad arguments, config file or URL; a refused confirmation
  exit_unreachable = 2,  // a node did not answer (status: any node; others: the one needed)
  exit_no_active = 3,    // no node is active (or the chosen one answered 503: it is not)
  exit_auth = 4,         // 401/403: credentials missing or wrong, or the role is not enough
  exit_api = 5,          // the API refused the request otherwise (404 unknown queue, 409, ...)
};

// The exit code for a failed call, after printing its message.
int report(const call_error& e, const settings& s);

int cmd_status(const settings& s);
int cmd_queues(const settings& s);
struct browse_args {
  std::string queue;
  std::uint64_t offset = 0;
  std::uint64_t limit = 50;
  bool headers = false;
};
int cmd_browse(const settings& s, const browse_args& a);
int cmd_purge(const settings& s, const std::string& queue, bool yes);
int cmd_switchover(const settings& s, bool wait, std::chrono::milliseconds wait_for);
int cmd_connections(const settings& s);

// Reads a password (stdin, or a prompt without echo asked twice) and prints its hash line.
int cmd_hash_password(std::uint32_t iterations);

// Asks for the password of `user` on the terminal without echo. Empty when there is no terminal.
std::string prompt_password(const std::string& prompt);

}  // namespace tandem::ctl
