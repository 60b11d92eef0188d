#pragma once
// What tandem-send and tandem-recv share: exit codes, opening the failover client, the stderr
// lines for switchover events, and a stop flag set by SIGINT/SIGTERM.
//
// Output contract (scripts and tests read it): messages go to stdout; everything else — events,
// errors, the final summary — goes to stderr, one line each, prefixed with the program name
// ("tandem-send: ..."). The event lines are written on the client's background thread; each is
// one fprintf, so lines never interleave mid-line.

#include <atomic>
#include <chrono>
#include <cstdio>
#include <initializer_list>
#include <mutex>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "failover/client.h"

namespace tandem::cli {

// Exit codes both programs document in tools/README.md.
enum exit_code : int {
  exit_ok = 0,
  exit_usage = 1,         // bad arguments or a URI that does not parse (the message names the part)
  exit_connect = 2,       // could not connect (refused, unreachable, TLS verification, bad login)
  exit_failed = 3,        // a send or receive failed after connecting (timed_out, broker ERROR, ...)
  exit_interrupted = 130,  // SIGINT/SIGTERM before the work was done (128 + SIGINT)
};

// Set by SIGINT/SIGTERM once install_stop_signals() ran. The programs check it between
// messages; a blocking call in progress is not interrupted (each is bounded by its timeout).
extern std::atomic<bool> stop_requested;
void install_stop_signals();

// Splits "KEY=VALUE" (first '='). Errors name the argument.
result<std::pair<std::string, std::string>> parse_header_arg(std::string_view arg);

// --trace FILE: one line per event, for scripts that need to know what happened when (the chaos
// drills). Tab-separated; the first field is the wall-clock time in ms since the Unix epoch with
// three decimals (comparable with the brokers' log timestamps on the same host), the second the
// kind of line, then its fields (tools/README.md lists them). Lines are written whole and flushed
// one at a time, from any thread.
class trace_log {
 public:
  // Opens (truncates) `path`; an error names it.
  static result<std::unique_ptr<trace_log>> open(const std::string& path);
  ~trace_log();
  trace_log(const trace_log&) = delete;
  trace_log& operator=(const trace_log&) = delete;

  // Writes "TIME\tKIND\tFIELD\tFIELD...\n". Fields must not hold tabs or newlines (escape()).
  void write(std::string_view kind, std::initializer_list<std::string_view> fields);
  // A message body or an error text as one field: backslash, tab, LF and CR escaped.
  static std::string escape(std::string_view text);

 private:
  explicit trace_log(std::FILE* f) : f_(f) {}
  std::mutex mutex_;
  std::FILE* f_;
};

// Parses `uri` (exit_usage on error, message on stderr naming the bad part), lets `adjust` change
// and check the options (e.g. --client-id; an error from it is a usage error), then connects within `connect_timeout` (-1: as the URI's
// startupMaxReconnectAttempts allows). On failure prints "PROGRAM: cannot connect to URI: why"
// and sets `code` to exit_connect. Events after the first connection are printed on stderr
// (print_event). With `trace`, the first connection ("connected GEN ENDPOINT") and every later
// event go there too.
std::unique_ptr<failover::client> open_client(std::string_view program, std::string_view uri,
                                              std::chrono::milliseconds connect_timeout,
                                              const std::function<error(failover::failover_options&)>& adjust,
                                              int& code, trace_log* trace = nullptr);

// STOMP credentials given on the command line (--login, --passcode). They win over the URI's
// login/passcode options; without --passcode the environment variable TANDEM_PASSCODE is used
// when set, so a passcode need not appear in the process list or the shell history.
struct credentials {
  std::string login;
  std::string passcode;
};
inline constexpr const char* passcode_env = "TANDEM_PASSCODE";
void apply_credentials(const credentials& c, failover::failover_options& o);

// One stderr line for an interrupted / resumed / closed event.
std::string describe_event(std::string_view program, const failover::event& e);

// "N thing" / "N things".
std::string plural(std::uint64_t n, std::string_view singular, std::string_view plural_form = {});

}  // namespace tandem::cli
