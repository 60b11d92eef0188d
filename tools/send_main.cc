// tandem-send: sends a message (or N of them) to a Tandem broker or pair.
//
//   tandem-send URI DESTINATION [BODY] [--file F] [--count N] [--rate R] [--persistent]
//               [--header K=V]... [--no-receipt] [--number] [--transaction-batch K]
//               [--login NAME] [--passcode P]   (or TANDEM_PASSCODE in the environment)
//
// URI is any form failover/uri.h accepts (stomp://, stomp+ssl://, failover:(...)). The body is
// BODY, else the contents of --file, else stdin. By default each send waits for its RECEIPT
// (durable, for --persistent) before the next; --no-receipt pipelines them and waits for every
// receipt at the end. Switchover events and the final summary go to stderr; exit codes are in
// tools/cli_common.h (0 done, 1 usage/bad URI, 2 could not connect, 3 a send failed).

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "failover/errors.h"
#include "tools/cli_common.h"

namespace {

using namespace tandem;
using namespace std::chrono;
constexpr std::string_view program = "tandem-send";

struct args {
  std::string uri;
  std::string destination;
  std::optional<std::string> body;
  std::string file;
  std::uint64_t count = 1;
  double rate = 0;  // messages per second; 0 = as fast as receipts allow
  bool persistent = false;
  std::vector<std::string> header_args;
  bool receipt = true;
  bool number = false;
  std::uint64_t transaction_batch = 0;
  std::uint64_t window = 1000;
  long long connect_timeout_ms = -1;
  bool quiet = false;
  cli::credentials credentials;
  std::string trace;
};

// What the summary line reports. `receipted` counts completions without error.
struct counters {
  std::uint64_t sent = 0;
  std::uint64_t receipted = 0;
  std::uint64_t batches_retried = 0;
};

std::string replace_all(std::string s, std::string_view what, std::string_view with) {
  for (auto pos = s.find(what); pos != std::string::npos; pos = s.find(what, pos + with.size()))
    s.replace(pos, what.size(), with);
  return s;
}

// --rate: message n (1-based) is due at start + (n-1)/rate. Sleeping here is pacing, not
// synchronisation; a signal ends the sleep early (the loop then sees stop_requested).
void pace(const args& a, steady_clock::time_point start, std::uint64_t n) {
  if (a.rate <= 0) return;
  auto due = start + duration_cast<steady_clock::duration>(duration<double>(double(n - 1) / a.rate));
  while (!cli::stop_requested && steady_clock::now() < due) {
    auto left = due - steady_clock::now();
    std::this_thread::sleep_for(std::min<steady_clock::duration>(left, milliseconds(100)));
  }
}

class sender {
 public:
  sender(const args& a, failover::client& c, failover::headers h, std::string body, cli::trace_log* trace)
      : a_(a), c_(c), headers_(std::move(h)), body_(std::move(body)), trace_(trace) {}

  // Returns the exit code; the summary is printed by the caller.
  int run() {
    start_ = steady_clock::now();
    if (a_.transaction_batch > 0) return run_transactions();
    if (!a_.receipt) return run_pipelined();
    for (std::uint64_t n = 1; n <= a_.count; ++n) {
      if (cli::stop_requested) return cli::exit_interrupted;
      pace(a_, start_, n);
      ++counts_.sent;
      if (auto e = c_.send(a_.destination, body_for(n), headers_)) return failed(n, e);
      ++counts_.receipted;
      traced_receipt(n);
    }
    return cli::exit_ok;
  }

  const counters& counts() const { return counts_; }

 private:
  std::string body_for(std::uint64_t n) const {
    return a_.number ? replace_all(body_, "{n}", std::to_string(n)) : body_;
  }

  // "receipt N GEN": message N has its receipt; GEN is the connection current when it came.
  void traced_receipt(std::uint64_t n) {
    if (trace_) trace_->write("receipt", {std::to_string(n), std::to_string(c_.generation())});
  }

  int failed(std::uint64_t n, const error& e) {
    if (trace_) trace_->write("failed", {std::to_string(n), cli::trace_log::escape(e.describe())});
    std::fprintf(stderr, "%s: message %llu to %s failed: %s\n", program.data(), (unsigned long long)n,
                 a_.destination.c_str(), e.describe().c_str());
    return cli::exit_failed;
  }

  // --no-receipt: at most --window sends without a receipt, so a long run neither floods the
  // library's buffer during an outage nor holds every body in memory.
  int run_pipelined() {
    std::uint64_t n = 1;
    for (; n <= a_.count; ++n) {
      if (cli::stop_requested) break;
      pace(a_, start_, n);
      {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return in_flight_ < a_.window || first_error_; });
        if (first_error_) break;
        ++in_flight_;
      }
      ++counts_.sent;
      c_.send_async(a_.destination, body_for(n), headers_, [this, n](error e) {
        std::lock_guard lock(mutex_);
        --in_flight_;
        if (!e) {
          ++counts_.receipted;
          traced_receipt(n);
        } else if (!first_error_) {
          first_error_ = std::move(e);
          first_error_n_ = n;
        }
        cv_.notify_all();
      });
    }
    auto e = c_.wait_for_receipts();
    std::lock_guard lock(mutex_);
    if (first_error_) return failed(first_error_n_, first_error_);
    if (e) return failed(n, e);
    return cli::stop_requested && n <= a_.count ? cli::exit_interrupted : cli::exit_ok;
  }

  // --transaction-batch K: BEGIN, K sends, COMMIT. A failover while the transaction is open rolls
  // it back (errc::transaction_rolled_back); the batch is then sent again in a new transaction,
  // so every message ends up committed exactly once.
  int run_transactions() {
    constexpr int max_tries = 10;
    const auto tx_prefix = fmt::format("tandem-send-{}-", ::getpid());
    for (std::uint64_t first = 1; first <= a_.count; first += a_.transaction_batch) {
      const std::uint64_t last = std::min(a_.count, first + a_.transaction_batch - 1);
      for (int attempt = 1;; ++attempt) {
        if (cli::stop_requested) return cli::exit_interrupted;
        const auto tx = fmt::format("{}{}-{}", tx_prefix, first, attempt);
        std::uint64_t n = first;
        error e = c_.begin(tx);
        while (!e && n <= last) {
          pace(a_, start_, n);
          counts_.sent = std::max(counts_.sent, n);  // a message sent again counts once
          e = c_.send(a_.destination, body_for(n), headers_, tx);
          if (!e) ++n;
        }
        if (!e) e = c_.commit(tx);
        if (!e) {
          counts_.receipted += last - first + 1;
          for (auto m = first; m <= last; ++m) traced_receipt(m);
          break;
        }
        if (e.code != failover::errc::transaction_rolled_back || attempt == max_tries)
          return failed(std::min(n, last), e);
        c_.abort(tx);  // forgets the rolled-back transaction; succeeds by contract
        ++counts_.batches_retried;
        std::fprintf(stderr, "%s: transaction %s rolled back by a failover; sending messages %llu-%llu again\n",
                     program.data(), tx.c_str(), (unsigned long long)first, (unsigned long long)last);
      }
    }
    return cli::exit_ok;
  }

  const args& a_;
  failover::client& c_;
  failover::headers headers_;
  std::string body_;
  steady_clock::time_point start_;
  counters counts_;
  cli::trace_log* trace_;

  std::mutex mutex_;  // the pipelined mode's completions run on the client's thread
  std::condition_variable cv_;
  std::uint64_t in_flight_ = 0;
  error first_error_;
  std::uint64_t first_error_n_ = 0;
};

result<std::string> read_body(const args& a) {
  if (a.body) return *a.body;
  if (!a.file.empty()) {
    std::ifstream in(a.file, std::ios::binary);
    if (!in) return error{std::make_error_code(std::errc::no_such_file_or_directory), "cannot read --file " + a.file};
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  std::ostringstream all;
  all << std::cin.rdbuf();
  return all.str();
}

}  // namespace

int main(int argc, char** argv) {
  args a;
  CLI::App app{"tandem-send: send messages to a Tandem broker or pair (any failover URI)"};
  app.add_option("URI", a.uri, "stomp://H:P, stomp+ssl://H:P?caFile=F or failover:(URI,URI)?OPTIONS")->required();
  app.add_option("DESTINATION", a.destination, "/queue/NAME or /topic/NAME")->required();
  auto* body_opt = app.add_option("BODY", a.body, "message body (default: --file, else stdin)");
  app.add_option("--file", a.file, "read the body from this file")->excludes(body_opt);
  app.add_option("--count", a.count, "send the message N times")->capture_default_str();
  app.add_option("--rate", a.rate, "at most R messages per second (0: no pacing)")->check(CLI::NonNegativeNumber);
  app.add_flag("--persistent", a.persistent, "persistent:true (receipt once durable)");
  app.add_option("--header", a.header_args, "extra header KEY=VALUE (repeatable)");
  app.add_flag("--receipt,!--no-receipt", a.receipt,
               "wait for each receipt before the next send (default); --no-receipt pipelines and waits at the end");
  app.add_flag("--number", a.number, "replace {n} in the body with the message number 1..N");
  app.add_option("--transaction-batch", a.transaction_batch, "BEGIN/COMMIT around every K sends (0: none)");
  app.add_option("--window", a.window, "--no-receipt: at most W sends awaiting receipts")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--connect-timeout", a.connect_timeout_ms, "give up connecting after MS ms (-1: as the URI says)");
  app.add_option("--login", a.credentials.login, "STOMP login (instead of login= on the URI)");
  app.add_option("--passcode", a.credentials.passcode,
                 "STOMP passcode (instead of passcode= on the URI; or the environment variable TANDEM_PASSCODE)");
  app.add_flag("--quiet,-q", a.quiet, "no summary line");
  app.add_option("--trace", a.trace, "write a timed line per receipt and per connection event to FILE");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : cli::exit_usage;
  }

  failover::headers headers;
  if (a.persistent) headers.emplace_back("persistent", "true");
  for (const auto& h : a.header_args) {
    auto kv = cli::parse_header_arg(h);
    if (!kv) {
      std::fprintf(stderr, "%s: %s\n", program.data(), kv.err().message.c_str());
      return cli::exit_usage;
    }
    headers.push_back(std::move(*kv));
  }
  auto body = read_body(a);
  if (!body) {
    std::fprintf(stderr, "%s: %s\n", program.data(), body.err().message.c_str());
    return cli::exit_usage;
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
  auto credentials = [&](failover::failover_options& o) -> error {
    cli::apply_credentials(a.credentials, o);
    return {};
  };
  auto client = cli::open_client(program, a.uri, milliseconds(a.connect_timeout_ms), credentials, code, trace.get());
  if (!client) return code;
  // Only now: while connecting, SIGINT/SIGTERM end the program at once (the default action).
  cli::install_stop_signals();

  sender s(a, *client, std::move(headers), std::move(*body), trace.get());
  code = s.run();
  // stats() asks the client's thread, which close() stops: read them first.
  auto st = client->stats();
  client->close();
  if (!a.quiet) {
    std::string line = fmt::format("{}: sent {}, receipted {}, re-sent {}, {}", program, s.counts().sent,
                                   s.counts().receipted, st.resent,
                                   cli::plural(st.connects > 0 ? st.connects - 1 : 0, "failover"));
    if (s.counts().batches_retried > 0)
      line += fmt::format(", {} sent again", cli::plural(s.counts().batches_retried, "transaction"));
    if (code == cli::exit_interrupted) line += " (interrupted)";
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  return code;
}
