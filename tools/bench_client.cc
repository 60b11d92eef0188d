#include "tools/bench_client.h"

#include <cstdio>

#include <fmt/format.h>

#include "tools/cli_common.h"

namespace tandem::bench {

namespace {
double ms(clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }
}  // namespace

std::string effective_uri(const options& o) {
  return o.uri.empty() ? fmt::format("stomp://{}:{}", o.host, o.port) : o.uri;
}

result<failover::failover_options> client_options(const options& o) {
  auto parsed = failover::parse_uri(effective_uri(o));
  if (!parsed) return parsed.err();
  // The command line wins over the URI's login/passcode options, so run-all.sh and friends can
  // pass credentials without rewriting a URI they were given.
  cli::apply_credentials({o.login, o.passcode}, *parsed);
  return parsed;
}

failover::connect_options plain_connect_options(const failover::failover_options& uri,
                                                std::chrono::milliseconds timeout) {
  failover::connect_options c;
  c.login = uri.login;
  c.passcode = uri.passcode;
  c.vhost = uri.vhost;
  c.timeout = timeout;
  return c;
}

result<std::vector<failover::endpoint>> plain_endpoints(const options& o, const failover::failover_options& uri) {
  std::vector<failover::endpoint> out;
  for (const auto& e : uri.endpoints)
    if (!e.tls) out.push_back(e);
  if (out.empty())
    return error{failover::errc::invalid_uri,
                 fmt::format("'{}' has no stomp:// endpoint (connections, probe and stream --receipts last "
                             "speak plain STOMP)",
                             effective_uri(o))};
  return out;
}

error receipt_window::acquire(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (outstanding_ >= size_) {
    // A full window waits until half of it is receipted: one wake-up per size/2 receipts
    // instead of one per receipt (a context switch per message would be the bench's own cost).
    waiting_ = true;
    const bool room = cv_.wait_for(lock, timeout, [&] { return outstanding_ <= size_ / 2 || failure_; });
    waiting_ = false;
    if (!room)
      return error{failover::errc::timed_out,
                   fmt::format("no receipt for {} pipelined sends within {} ms", outstanding_, timeout.count())};
  }
  if (failure_) return failure_;
  ++outstanding_;
  return {};
}

void receipt_window::release(const error& e) {
  std::lock_guard lock(mutex_);
  --outstanding_;
  if (e && !failure_) failure_ = e;
  if (waiting_ && (outstanding_ <= size_ / 2 || failure_)) cv_.notify_one();
}

result<std::unique_ptr<failover::client>> switchover_log::open(const failover::failover_options& options,
                                                               std::string who, std::chrono::milliseconds timeout) {
  auto c = failover::client::open(options, timeout);
  if (!c) return error{c.code(), fmt::format("{}: {}", who, c.err().message)};
  (*c)->on_event([this, who = std::move(who)](const failover::event& e) { on_event(who, e); });
  return c;
}

void switchover_log::on_event(const std::string& who, const failover::event& e) {
  using failover::event_kind;
  std::lock_guard lock(mutex_);
  switch (e.kind) {
    case event_kind::interrupted:
      ++interruptions_;
      if (print_)
        std::fprintf(stderr, "\ntandem-bench: %s lost %s: %s\n", who.c_str(), e.endpoint.c_str(),
                     e.reason.describe().c_str());
      break;
    case event_kind::resumed:
      if (e.first) break;
      reconnects_.fetch_add(1, std::memory_order_release);
      longest_outage_ = std::max(longest_outage_, e.outage);
      if (print_)
        std::fprintf(stderr,
                     "\ntandem-bench: %s resumed on %s after %lld ms (re-sent %zu, resubscribed %zu, "
                     "transactions rolled back %zu)\n",
                     who.c_str(), e.endpoint.c_str(), static_cast<long long>(e.outage.count()), e.resent,
                     e.resubscribed, e.rolled_back);
      break;
    case event_kind::closed:
      // Our own close() at the end of a workload ends with errc::closed (or no reason at all);
      // anything else (reconnect attempts exhausted) is news.
      if (!e.reason || e.reason.code == failover::errc::closed) break;
      ++closed_unexpectedly_;
      if (print_) std::fprintf(stderr, "\ntandem-bench: %s closed: %s\n", who.c_str(), e.reason.describe().c_str());
      break;
  }
}

void switchover_log::collect(failover::client& c) {
  const auto s = c.stats();
  std::lock_guard lock(mutex_);
  totals_.connects += s.connects;
  totals_.failed_attempts += s.failed_attempts;
  totals_.sends += s.sends;
  totals_.receipts += s.receipts;
  totals_.resent += s.resent;
  totals_.messages += s.messages;
  totals_.redelivered += s.redelivered;
  totals_.stale_acks += s.stale_acks;
  totals_.rolled_back += s.rolled_back;
  totals_.timed_out += s.timed_out;
}

void switchover_log::add_gap(clock::duration d) {
  std::lock_guard lock(mutex_);
  longest_gap_ = std::max(longest_gap_, d);
}

void switchover_log::note_receipt_after_reconnect(std::chrono::system_clock::time_point when) {
  std::lock_guard lock(mutex_);
  if (!first_receipt_after_reconnect_ || when < *first_receipt_after_reconnect_) first_receipt_after_reconnect_ = when;
}

void switchover_log::add_stale_acks(std::uint64_t n) {
  std::lock_guard lock(mutex_);
  stale_acks_refused_ += n;
}

void switchover_log::add_to(report& r, const std::string& gap_of) const {
  std::lock_guard lock(mutex_);
  r.extra.emplace_back("reconnects", std::to_string(reconnects_.load()));
  r.extra.emplace_back("interruptions", std::to_string(interruptions_));
  r.extra.emplace_back("failed_attempts", std::to_string(totals_.failed_attempts));
  r.extra.emplace_back("longest_outage_ms", std::to_string(longest_outage_.count()));
  r.extra.emplace_back("resent", std::to_string(totals_.resent));
  r.extra.emplace_back("redelivered", std::to_string(totals_.redelivered));
  r.extra.emplace_back("stale_acks", std::to_string(totals_.stale_acks + stale_acks_refused_));
  r.extra.emplace_back("timed_out", std::to_string(totals_.timed_out));
  if (totals_.rolled_back) r.extra.emplace_back("rolled_back", std::to_string(totals_.rolled_back));
  if (closed_unexpectedly_) r.extra.emplace_back("closed_unexpectedly", std::to_string(closed_unexpectedly_));
  r.extra.emplace_back("longest_gap_ms", fmt::format("{:.3f}", ms(longest_gap_)));
  r.extra.emplace_back("gap_between", gap_of);
  if (first_receipt_after_reconnect_) {
    const auto at = std::chrono::duration<double, std::milli>(first_receipt_after_reconnect_->time_since_epoch());
    r.extra.emplace_back("first_receipt_after_reconnect_unix_ms", fmt::format("{:.3f}", at.count()));
  }
}

}  // namespace tandem::bench
