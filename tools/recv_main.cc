// tandem-recv: receives messages from a Tandem broker or pair and prints them on stdout.
//
//   tandem-recv URI DESTINATION [--count N] [--timeout MS] [--ack auto|client|client-individual]
//               [--selector EXPR] [--headers] [--durable NAME --client-id ID] [--prefetch N]
//               [--login NAME] [--passcode P]   (or TANDEM_PASSCODE in the environment)
//
// By default one line per message: its body. With --headers each message is its `key:value`
// header lines, an empty line, the body, and an empty line between messages. A message is
// printed (and stdout flushed) before it is acknowledged, so a crash in between makes the
// broker redeliver it with redelivered:true rather than lose it: a consumer may see a message
// twice, the second copy marked redelivered, never zero times.
// --ack auto with --count subscribes client-individual and acks each printed message, so the
// messages the broker sent beyond --count are not lost when the program exits.
// Exit codes are in tools/cli_common.h; --timeout ending the run is exit 0.

#include <chrono>
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "failover/errors.h"
#include "tools/cli_common.h"

namespace {

using namespace tandem;
using namespace std::chrono;
constexpr std::string_view program = "tandem-recv";

struct args {
  std::string uri;
  std::string destination;
  std::uint64_t count = 0;  // 0 = until stopped
  long long timeout_ms = -1;
  std::string ack = "auto";
  std::string selector;
  bool headers = false;
  std::string durable;
  std::string client_id;
  cli::credentials credentials;
  std::string id = "tandem-recv";
  long long prefetch = -1;
  long long connect_timeout_ms = -1;
  bool quiet = false;
  std::string trace;
};

struct counters {
  std::uint64_t received = 0;
  std::uint64_t redelivered = 0;
  std::uint64_t acked = 0;
  std::uint64_t stale_acks = 0;  // printed, ack not sent: the connection was lost; redelivered later
};

// A header line stays one line: backslash, LF and CR are escaped as STOMP 1.2 writes them
// (a ':' is left alone; the first ':' of the line ends the key).
std::string escape_header(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char ch : v) {
    if (ch == '\\') out += "\\\\";
    else if (ch == '\n') out += "\\n";
    else if (ch == '\r') out += "\\r";
    else out += ch;
  }
  return out;
}

// False when stdout could not take the message (a full disk, a closed pipe with SIGPIPE
// ignored): the message is then not acked, so the broker keeps it.
bool print(const failover::message& m, bool with_headers, bool first) {
  if (with_headers) {
    if (!first) std::fputc('\n', stdout);
    for (const auto& [k, v] : m.frame.headers)
      std::fprintf(stdout, "%s:%s\n", escape_header(k).c_str(), escape_header(v).c_str());
    std::fputc('\n', stdout);
  }
  std::fwrite(m.frame.body.data(), 1, m.frame.body.size(), stdout);
  std::fputc('\n', stdout);
  return std::fflush(stdout) == 0 && !std::ferror(stdout);
}

// Receives until --count, --timeout of silence, a signal or an error. Returns the exit code.
int receive_loop(const args& a, bool ack_for_auto, failover::client& c, counters& n, bool& idle_timeout,
                 cli::trace_log* trace) {
  // receive() in short slices so a signal is noticed; --timeout counts from the last message.
  constexpr milliseconds slice{200};
  auto last = steady_clock::now();
  while (a.count == 0 || n.received < a.count) {
    if (cli::stop_requested) return cli::exit_interrupted;
    auto wait = slice;
    if (a.timeout_ms >= 0) {
      auto left = milliseconds(a.timeout_ms) - duration_cast<milliseconds>(steady_clock::now() - last);
      if (left <= milliseconds(0)) {
        idle_timeout = true;
        return cli::exit_ok;
      }
      wait = std::min(wait, left);
    }
    auto m = c.receive(wait);
    if (!m) {
      if (m.code() == failover::errc::timed_out) continue;
      std::fprintf(stderr, "%s: receiving from %s failed: %s\n", program.data(), a.destination.c_str(),
                   m.err().describe().c_str());
      return cli::exit_failed;
    }
    if (!print(*m, a.headers, n.received == 0)) {
      std::fprintf(stderr, "%s: cannot write to stdout; message %.*s not acked\n", program.data(),
                   int(m->message_id().size()), m->message_id().data());
      return cli::exit_failed;
    }
    ++n.received;
    if (m->redelivered()) ++n.redelivered;
    if (trace) {
      // "message GEN REDELIVERED TIMESTAMP MESSAGE-ID BODY": the connection it came on, whether
      // it is marked redelivered, the broker's acceptance time (the same for every delivery of
      // one stored message), its id and its body.
      trace->write("message", {std::to_string(m->generation), m->redelivered() ? "1" : "0", m->header("timestamp"),
                               cli::trace_log::escape(m->message_id()), cli::trace_log::escape(m->body())});
    }
    last = steady_clock::now();
    if (a.ack == "auto" && !ack_for_auto) continue;
    auto e = c.ack(*m);
    if (!e) {
      ++n.acked;
    } else if (e.code == failover::errc::stale_message) {
      ++n.stale_acks;
    } else {
      std::fprintf(stderr, "%s: ack of %.*s failed: %s\n", program.data(), int(m->message_id().size()),
                   m->message_id().data(), e.describe().c_str());
      return cli::exit_failed;
    }
  }
  return cli::exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
  args a;
  CLI::App app{"tandem-recv: receive messages from a Tandem broker or pair (any failover URI)"};
  app.add_option("URI", a.uri, "stomp://H:P, stomp+ssl://H:P?caFile=F or failover:(URI,URI)?OPTIONS")->required();
  app.add_option("DESTINATION", a.destination, "/queue/NAME or /topic/NAME")->required();
  app.add_option("--count", a.count, "exit after N messages (0: until stopped)");
  app.add_option("--timeout", a.timeout_ms, "exit (status 0) when nothing arrives for MS ms");
  app.add_option("--ack", a.ack, "acknowledgement mode; each printed message is acked")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "client", "client-individual"}));
  app.add_option("--selector", a.selector, "only messages matching EXPR, e.g. \"type = 'red'\"");
  app.add_flag("--headers", a.headers, "print header lines, an empty line and the body");
  app.add_option("--durable", a.durable, "durable topic subscription NAME (needs a client id)");
  app.add_option("--client-id", a.client_id, "client-id for the connection (or clientId= on the URI)");
  app.add_option("--id", a.id, "subscription id")->capture_default_str();
  app.add_option("--prefetch", a.prefetch, "activemq.prefetchSize (default: the broker's)");
  app.add_option("--connect-timeout", a.connect_timeout_ms, "give up connecting after MS ms (-1: as the URI says)");
  app.add_option("--login", a.credentials.login, "STOMP login (instead of login= on the URI)");
  app.add_option("--passcode", a.credentials.passcode,
                 "STOMP passcode (instead of passcode= on the URI; or the environment variable TANDEM_PASSCODE)");
  app.add_flag("--quiet,-q", a.quiet, "no summary line");
  app.add_option("--trace", a.trace, "write a timed line per message and per connection event to FILE");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : cli::exit_usage;
  }

  std::unique_ptr<cli::trace_log> trace;
  if (!a.trace.empty()) {
    auto t = cli::trace_log::open(a.trace);
    if (!t) {
      std::fprintf(stderr, "%s: %s\n", program.data(), t.err().describe().c_str());
      return cli::exit_usage;
    }
    trace = std::move(*t);
  }
  int code = cli::exit_ok;
  auto adjust = [&](failover::failover_options& o) -> error {
    if (!a.client_id.empty()) o.client_id = a.client_id;
    cli::apply_credentials(a.credentials, o);
    if (!a.durable.empty() && o.client_id.empty())
      return error{std::make_error_code(std::errc::invalid_argument),
                   "--durable needs a client id (--client-id ID or clientId=ID on the URI)"};
    return {};
  };
  auto client = cli::open_client(program, a.uri, milliseconds(a.connect_timeout_ms), adjust, code, trace.get());
  if (!client) return code;
  // Only now: while connecting, SIGINT/SIGTERM end the program at once (the default action).
  cli::install_stop_signals();

  // With auto the broker counts a message consumed once it is sent, so messages prefetched
  // beyond --count would be lost when the program exits. With --count, "auto" therefore
  // subscribes client-individual and acks each printed message: what is printed is consumed,
  // the rest stays on the broker.
  const bool ack_for_auto = a.ack == "auto" && a.count > 0;
  failover::subscription_spec spec{
      .id = a.id, .destination = a.destination, .ack = ack_for_auto ? "client-individual" : a.ack, .extra = {}};
  if (!a.selector.empty()) spec.extra.emplace_back("selector", a.selector);
  if (a.prefetch >= 0) spec.extra.emplace_back("activemq.prefetchSize", std::to_string(a.prefetch));
  if (!a.durable.empty()) spec.extra.emplace_back("activemq.subscriptionName", a.durable);

  counters n;
  bool idle_timeout = false;
  if (auto e = client->subscribe(spec)) {
    std::fprintf(stderr, "%s: subscribing to %s failed: %s\n", program.data(), a.destination.c_str(),
                 e.describe().c_str());
    code = cli::exit_failed;
  } else {
    code = receive_loop(a, ack_for_auto, *client, n, idle_timeout, trace.get());
  }
  // stats() asks the client's thread, which close() stops: read them first.
  auto st = client->stats();
  client->close();
  if (!a.quiet) {
    std::string line = fmt::format("{}: received {} ({} redelivered), acked {}", program, n.received, n.redelivered,
                                   n.acked);
    if (n.stale_acks > 0) line += fmt::format(", {} not acked (connection lost; the broker redelivers)", n.stale_acks);
    line += ", " + cli::plural(st.connects > 0 ? st.connects - 1 : 0, "failover");
    if (idle_timeout) line += fmt::format("; nothing arrived for {} ms", a.timeout_ms);
    if (code == cli::exit_interrupted) line += " (interrupted)";
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  return code;
}
