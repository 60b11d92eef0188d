#include "tools/cli_common.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>

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

result<std::unique_ptr<trace_log>> trace_log::open(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f)
    return error{std::error_code(errno, std::generic_category()),
                 fmt::format("--trace {}: cannot open for writing", path)};
  return std::unique_ptr<trace_log>(new trace_log(f));
}

trace_log::~trace_log() { std::fclose(f_); }

void trace_log::write(std::string_view kind, std::initializer_list<std::string_view> fields) {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  std::string line = fmt::format("{}.{:03}\t{}", ts.tv_sec * 1000 + ts.tv_nsec / 1000000, (ts.tv_nsec / 1000) % 1000, kind);
  for (auto f : fields) {
    line += '\t';
    line += f;
  }
  line += '\n';
  std::lock_guard lock(mutex_);
  std::fwrite(line.data(), 1, line.size(), f_);
  std::fflush(f_);
}

std::string trace_log::escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    if (ch == '\\') out += "\\\\";
    else if (ch == '\t') out += "\\t";
    else if (ch == '\n') out += "\\n";
    else if (ch == '\r') out += "\\r";
    else out += ch;
  }
  return out;
}

namespace {
void trace_event(trace_log& t, const failover::event& e) {
  using failover::event_kind;
  auto gen = std::to_string(e.generation);
  switch (e.kind) {
    case event_kind::interrupted:
      t.write("interrupted", {gen, e.endpoint, trace_log::escape(e.reason.describe())});
      break;
    case event_kind::resumed:
      t.write("resumed", {gen, e.endpoint, std::to_string(e.outage.count()), std::to_string(e.resent)});
      break;
    case event_kind::closed:
      t.write("closed", {trace_log::escape(e.reason.describe())});
      break;
  }
}
}  // namespace

std::unique_ptr<failover::client> open_client(std::string_view program, std::string_view uri,
                                              std::chrono::milliseconds connect_timeout,
                                              const std::function<error(failover::failover_options&)>& adjust,
                                              int& code, trace_log* trace) {
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
  // The first connection's event came before a handler could be set: its line is written here.
  if (trace) trace->write("connected", {std::to_string(client->generation()), client->current_endpoint()});
  client->on_event([name = std::string(program), trace](const failover::event& e) {
    auto line = describe_event(name, e);
    if (!line.empty()) std::fprintf(stderr, "%s\n", line.c_str());
    if (trace) trace_event(*trace, e);
  });
  code = exit_ok;
  return client;
}

}  // namespace tandem::cli
