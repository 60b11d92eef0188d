#include "tools/cli_common.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>

#include "failover/errors.h"

namespace tandem::cli {

std::atomic<bool> stop_requested{false};

namespace {
void on_stop_signal(int) { stop_requested.store(true); }
}  // namespace

void install_stop_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  // No SA_RESTART: a sleeping pacing loop wakes up and sees the flag.
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

result<std::pair<std::string, std::string>> parse_header_arg(std::string_view arg) {
  auto eq = arg.find('=');
  if (eq == std::string_view::npos || eq == 0)
    return error{std::make_error_code(std::errc::invalid_argument),
                 fmt::format("--header '{}': expected KEY=VALUE", arg)};
  return std::pair{std::string(arg.substr(0, eq)), std::string(arg.substr(eq + 1))};
}

void apply_credentials(const credentials& c, failover::failover_options& o) {
  if (!c.login.empty()) o.login = c.login;
  if (!c.passcode.empty()) {
    o.passcode = c.passcode;
  } else if (const char* env = std::getenv(passcode_env); env && *env) {
    o.passcode = env;
  }
}

std::string plural(std::uint64_t n, std::string_view singular, std::string_view plural_form) {
  if (n == 1) return fmt::format("{} {}", n, singular);
  if (plural_form.empty()) return fmt::format("{} {}s", n, singular);
  return fmt::format("{} {}", n, plural_form);
}

std::string describe_event(std::string_view program, const failover::event& e) {
  using failover::event_kind;
  switch (e.kind) {
    case event_kind::interrupted:
      return fmt::format("{}: connection to {} lost: {}; reconnecting", program, e.endpoint, e.reason.describe());
    case event_kind::resumed: {
      if (e.first) return {};  // the first connection is no news
      std::string line = fmt::format("{}: resumed on {} after {} ms ({} re-sent, {} restored", program, e.endpoint,
                                     e.outage.count(), e.resent, plural(e.resubscribed, "subscription"));
      if (e.rolled_back > 0) line += fmt::format(", {} rolled back", plural(e.rolled_back, "transaction"));
      return line + ")";
    }
    case event_kind::closed:
      // close() by the program itself is not worth a line; giving up on reconnecting is.
      if (e.reason.code == failover::errc::closed) return {};
      return fmt::format("{}: connection closed: {}", program, e.reason.describe());
  }
  return {};
}

std::unique_ptr<failover::client> open_client(std::string_view program, std::string_view uri,
                                              std::chrono::milliseconds connect_timeout,
                                              const std::function<error(failover::failover_options&)>& adjust,
                                              int& code) {
  auto options = failover::parse_uri(uri);
  if (!options) {
    std::fprintf(stderr, "%.*s: bad URI '%.*s': %s\n", int(program.size()), program.data(), int(uri.size()),
                 uri.data(), options.err().describe().c_str());
    code = exit_usage;
    return nullptr;
  }
  if (adjust) {
    if (auto e = adjust(*options)) {
      std::fprintf(stderr, "%.*s: %s\n", int(program.size()), program.data(), e.describe().c_str());
      code = exit_usage;
      return nullptr;
    }
  }
  auto c = failover::client::open(std::move(*options), connect_timeout);
  if (!c) {
    std::fprintf(stderr, "%.*s: cannot connect to %.*s: %s\n", int(program.size()), program.data(),
                 int(uri.size()), uri.data(), c.err().describe().c_str());
    code = exit_connect;
    return nullptr;
  }
  std::unique_ptr<failover::client> client = std::move(*c);
  client->on_event([name = std::string(program)](const failover::event& e) {
    auto line = describe_event(name, e);
    if (!line.empty()) std::fprintf(stderr, "%s\n", line.c_str());
  });
  code = exit_ok;
  return client;
}

}  // namespace tandem::cli
