// tandem-bench: drives a broker over STOMP and prints throughput and latency figures.
//
//   tandem-bench [--uri URI | --host H --port P] WORKLOAD [options]
//
// URI is any form the failover library takes (failover/uri.h): stomp://H:P, stomp+ssl://H:P,
// failover:(stomp://a:P,stomp://b:P)?OPTIONS; --host/--port is the shortcut for stomp://H:P.
// Every workload but connections and probe runs through failover::client and reports what
// happened during switchovers (reconnects, re-sent sends, redeliveries, the longest gap between
// receipts or deliveries); the events themselves are printed on stderr as they happen.
//
// Workloads (the project's performance targets):
//   latency|single  one producer, persistent messages, waits for each receipt       (a)
//   producers       --producers N of the same, one connection and thread each       (b)
//   stream          --count messages pipelined, a receipt each (or --receipts last)  (c)
//   fill            the same, to fill a queue for drain                              (c)
//   drain           one client-individual consumer acking each message               (d)
//   fanout          1 producer, --subscribers N topic subscribers
//   connections     --count idle connections held --hold seconds
//   probe           retries CONNECT until the broker serves (restart timing)
// Progress goes to stderr (on a terminal, or with --progress); figures to stdout, as a small
// table or, with --json, one JSON object per line. Exit status 1 and a message on stderr when
// the broker refuses (ERROR frame) or an answer does not come within --timeout-ms.

#include <unistd.h>

#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "tools/bench_workloads.h"

int main(int argc, char** argv) {
  using namespace tandem::bench;
  options o;
  bool json = false;
  bool progress = false;
  bool quiet = false;
  bool non_persistent = false;
  std::string receipts = "each";

  CLI::App app{"tandem-bench: STOMP throughput and latency against a Tandem broker"};
  app.require_subcommand(1);
  app.add_option("--uri", o.uri,
                 "stomp://H:P, stomp+ssl://H:P?caFile=..., failover:(stomp://a:P,stomp://b:P)?... "
                 "(default: stomp://HOST:PORT)");
  app.add_option("--host", o.host, "broker host (without --uri)")->capture_default_str();
  app.add_option("--port", o.port, "broker STOMP port (without --uri)")->capture_default_str();
  app.add_option("--login", o.login, "STOMP login");
  app.add_option("--passcode", o.passcode, "STOMP passcode (or the environment variable TANDEM_PASSCODE)");

  auto common = [&](CLI::App* sub) {
    sub->add_option("--count", o.count, "messages (total across producers) or connections; default per workload");
    sub->add_option("--size", o.size, "message body bytes")->capture_default_str();
    sub->add_option("--destination", o.destination, "default /queue/bench.<pid> (/topic/... for fanout)");
    sub->add_option("--duration", o.duration_s, "latency/producers: run S seconds instead of --count");
    sub->add_option("--warmup", o.warmup, "messages per connection sent/received before timing starts");
    sub->add_option("--producers", o.producers, "producers workload: connections")->capture_default_str();
    sub->add_option("--subscribers", o.subscribers, "fanout: subscribers")->capture_default_str();
    sub->add_option("--prefetch", o.prefetch, "drain: activemq.prefetchSize (default: broker's)");
    sub->add_option("--window", o.window,
                    "stream/fill/fanout: at most N sends without a receipt (default 8000 stream, 1000 fanout)");
    sub->add_option("--receipts", receipts,
                    "stream/fill: each (default; failover library) or last (plain STOMP, a receipt for the "
                    "final message only)")
        ->check(CLI::IsMember({"each", "last"}));
    sub->add_option("--hold", o.hold_s, "connections: seconds to hold them")->capture_default_str();
    sub->add_option("--timeout-ms", o.timeout_ms, "bound for each receipt/message wait")->capture_default_str();
    sub->add_flag("--non-persistent", non_persistent, "send without persistent:true");
    sub->add_flag("--json", json, "print one JSON object line");
    sub->add_flag("--progress", progress, "live progress line on stderr even when it is not a terminal");
    sub->add_flag("--quiet", quiet, "no progress line, no switchover events on stderr");
    // Global options are accepted after the workload name too.
    sub->fallthrough();
  };
  struct workload {
    const char* name;
    const char* alias;
    const char* help;
  };
  const workload workloads[] = {
      {"latency", "single", "(a) one producer, persistent, waits for each receipt"},
      {"producers", nullptr, "(b) --producers N concurrent producers, receipt each"},
      {"stream", nullptr, "(c) pipelined sends, time until the final receipt"},
      {"fill", nullptr, "(c) without timing pretensions: fill a queue for drain"},
      {"drain", nullptr, "(d) one client-individual consumer acking each message"},
      {"fanout", nullptr, "1 producer, --subscribers N topic subscribers"},
      {"connections", nullptr, "open --count idle connections, hold them --hold seconds"},
      {"probe", nullptr, "retry CONNECT+receipt until the broker serves (within --timeout-ms)"},
  };
  for (const auto& w : workloads) {
    auto* sub = app.add_subcommand(w.name, w.help);
    if (w.alias) sub->alias(w.alias);
    common(sub);
  }
  CLI11_PARSE(app, argc, argv);

  o.persistent = !non_persistent;
  o.receipt_last_only = receipts == "last";
  o.quiet = quiet;
  o.progress = !quiet && !json && (progress || ::isatty(STDERR_FILENO));
  const std::string name = app.get_subcommands().front()->get_name();

  auto run = [&]() -> tandem::result<report> {
    if (name == "latency" || name == "producers") return run_producers(o, name);
    if (name == "stream" || name == "fill")
      return o.receipt_last_only ? run_stream_final_receipt(o, name) : run_stream(o, name);
    if (name == "drain") return run_drain(o);
    if (name == "fanout") return run_fanout(o);
    if (name == "connections") return run_connections(o);
    return run_probe(o);
  };
  auto r = [&]() -> tandem::result<report> {
    try {
      return run();
    } catch (const std::exception& e) {  // e.g. std::system_error from a thread or the resolver
      return tandem::error{std::make_error_code(std::errc::io_error), e.what()};
    }
  }();
  if (!r) {
    std::fprintf(stderr, "tandem-bench %s: %s\n", name.c_str(), r.err().describe().c_str());
    return 1;
  }
  r->print(json);
  return 0;
}
