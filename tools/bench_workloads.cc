#include "tools/bench_workloads.h"

#include <unistd.h>

#include <algorithm>
#include <functional>
#include <latch>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "tools/bench_client.h"

namespace tandem::bench {

namespace {

using std::chrono::milliseconds;

// The first error any thread met; the others stop at their next check.
class first_error {
 public:
  void record(error e) {
    std::lock_guard lock(mutex_);
    if (!failed_.exchange(true)) error_ = std::move(e);
  }
  bool failed() const { return failed_.load(); }
  error get() const {
    std::lock_guard lock(mutex_);
    return error_;
  }

 private:
  mutable std::mutex mutex_;
  std::atomic<bool> failed_{false};
  error error_;
};

failover::headers send_headers(const options& o) {
  failover::headers h;
  if (o.persistent) h.emplace_back("persistent", "true");
  return h;
}

std::string queue_or(const options& o, const char* kind) {
  return o.destination.empty() ? fmt::format("/{}/bench.{}", kind, ::getpid()) : o.destination;
}

std::string describe_send(const options& o) {
  return fmt::format("{} {} B to {}", o.persistent ? "persistent" : "non-persistent", o.size, queue_or(o, "queue"));
}

// Events on stderr unless the user asked for silence; --json alone keeps them (stdout is clean).
bool print_events(const options& o) { return !o.quiet; }

}  // namespace

result<report> run_producers(const options& o, const std::string& name) {
  const int n = name == "producers" ? std::max(1, o.producers) : 1;
  const std::uint64_t total = o.count ? o.count : (n == 1 ? 10000 : 50000);
  const std::string destination = queue_or(o, "queue");
  const std::string body(o.size, 'x');
  const auto hdrs = send_headers(o);
  const milliseconds timeout(o.timeout_ms);
  auto copts = client_options(o);
  if (!copts) return copts.err();

  first_error failure;
  switchover_log log(print_events(o));
  progress_meter progress(o.progress);
  std::latch ready(n);  // connected and warmed up
  std::latch go(1);
  std::optional<clock::time_point> deadline;
  std::vector<latency_samples> samples(n);
  std::vector<clock::time_point> finished(n);
  std::vector<std::thread> threads;

  for (int p = 0; p < n; ++p) {
    threads.emplace_back([&, p] {
      // --count is the total across producers; the first ones take the remainder.
      const std::uint64_t mine = o.duration_s > 0 ? UINT64_MAX : total / n + (p < static_cast<int>(total % n));
      auto c = log.open(*copts, fmt::format("producer {}", p + 1), timeout);
      bool ok = static_cast<bool>(c);
      if (!c) failure.record(c.err());
      for (std::uint64_t i = 0; ok && i < o.warmup; ++i)
        if (auto e = (*c)->send(destination, body, hdrs)) failure.record(e), ok = false;
      ready.count_down();
      go.wait();
      if (o.duration_s == 0 && mine < 1'000'000'000) samples[p].reserve(mine);
      gap_clock gaps;
      gaps.tick();
      for (std::uint64_t i = 0; ok && i < mine && !failure.failed(); ++i) {
        const auto t = clock::now();
        if (deadline && t >= *deadline) break;
        const auto reconnects = log.reconnects();
        // Blocks until the receipt; during a switchover that includes the reconnect and the
        // re-send (bounded by the URI's `timeout` while disconnected).
        if (auto e = (*c)->send(destination, body, hdrs)) {
          failure.record(e);
          break;
        }
        const auto now = clock::now();
        if (log.reconnects() != reconnects) log.note_receipt_after_reconnect(std::chrono::system_clock::now());
        samples[p].add(now - t);
        gaps.tick();
        progress.add();
      }
      finished[p] = clock::now();
      log.add_gap(gaps.max());
      if (c) {
        log.collect(**c);
        (*c)->close();
      }
    });
  }
  ready.wait();
  const auto t0 = clock::now();
  if (o.duration_s > 0) deadline = t0 + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(o.duration_s));
  progress.start(name);
  go.count_down();
  for (auto& t : threads) t.join();
  progress.stop();
  if (failure.failed()) return failure.get();

  report r;
  r.workload = name;
  r.description = fmt::format("{} producer{}, {}, receipt each", n, n == 1 ? "" : "s", describe_send(o));
  latency_samples all;
  for (auto& s : samples) all.merge(s);
  r.messages = all.size();
  r.seconds = seconds_between(t0, *std::max_element(finished.begin(), finished.end()));
  r.has_latency = true;
  r.latency_label = "send to receipt";
  r.latency = all.summarize();
  r.extra.emplace_back("producers", std::to_string(n));
  r.extra.emplace_back("size", std::to_string(o.size));
  r.extra.emplace_back("uri", effective_uri(o));
  log.add_to(r, "receipts");
  return r;
}

result<report> run_stream(const options& o, const std::string& name) {
  const std::uint64_t count = std::max<std::uint64_t>(1, o.count ? o.count : 50000);
  const std::string destination = queue_or(o, "queue");
  const std::string body(o.size, 'x');
  const auto hdrs = send_headers(o);
  const milliseconds timeout(o.timeout_ms);
  auto copts = client_options(o);
  if (!copts) return copts.err();

  // The library asks a receipt for every send (that is how it knows what to re-send after a
  // switchover); the window bounds how many are unanswered at once. Both outlive the client,
  // whose close() completes what is still pending.
  receipt_window window(o.window ? o.window : 8000);
  gap_clock gaps;  // touched only by completions, on the client's thread
  switchover_log log(print_events(o));
  auto c = log.open(*copts, name, timeout);
  if (!c) return c.err();
  auto& client = **c;
  for (std::uint64_t i = 0; i < o.warmup; ++i) client.send_async(destination, body, hdrs);
  if (auto e = client.wait_for_receipts(timeout)) return error{e.code, "warm-up: " + e.message};

  progress_meter progress(o.progress);
  progress.start(name);
  const auto t0 = clock::now();
  for (std::uint64_t i = 0; i < count; ++i) {
    if (auto e = window.acquire(timeout)) return e;
    client.send_async(destination, body, hdrs, [&](error e) {
      gaps.tick();
      window.release(e);
    });
    progress.add();
  }
  const auto written = clock::now();
  if (auto e = client.wait_for_receipts(timeout)) return error{e.code, "final receipts: " + e.message};
  const auto t1 = clock::now();
  progress.stop();
  log.add_gap(gaps.max());
  log.collect(client);
  client.close();

  report r;
  r.workload = name;
  r.description = fmt::format("{} pipelined, receipt each, timed to the last receipt", describe_send(o));
  r.messages = count;
  r.seconds = seconds_between(t0, t1);
  r.extra.emplace_back("written_s", fmt::format("{:.3f}", seconds_between(t0, written)));
  r.extra.emplace_back("size", std::to_string(o.size));
  r.extra.emplace_back("destination", destination);
  r.extra.emplace_back("uri", effective_uri(o));
  log.add_to(r, "receipts");
  return r;
}

result<report> run_drain(const options& o) {
  const std::uint64_t count = o.count ? o.count : 50000;
  const std::string destination = queue_or(o, "queue");
  const milliseconds timeout(o.timeout_ms);
  auto copts = client_options(o);
  if (!copts) return copts.err();

  switchover_log log(print_events(o));
  auto c = log.open(*copts, "drain", timeout);
  if (!c) return c.err();
  auto& client = **c;
  failover::subscription_spec spec{.id = "bench-drain", .destination = destination, .ack = "client-individual", .extra = {}};
  if (o.prefetch > 0) spec.extra.emplace_back("activemq.prefetchSize", std::to_string(o.prefetch));
  progress_meter progress(o.progress);
  progress.start("drain");
  auto t0 = clock::now();
  if (auto e = client.subscribe(spec)) return e;
  latency_samples gaps;
  gaps.reserve(count);
  auto last = t0;
  std::uint64_t bytes = 0;
  std::uint64_t stale = 0;
  std::uint64_t duplicates = 0;
  // Hashes of the last acked message ids: an ACK written just before a connection died may never
  // have reached the broker, which then redelivers a message we already counted. Only
  // redelivered messages are looked up, so the steady state costs one store per message.
  std::vector<std::uint64_t> recent(65536, 0);
  std::size_t recent_next = 0;
  const std::hash<std::string_view> hash;
  for (std::uint64_t i = 0; i < o.warmup + count;) {
    auto m = client.receive(timeout);
    if (!m) {
      return error{m.code(), fmt::format("received {} of {} messages from {}: {}{}", i, o.warmup + count, destination,
                                         m.err().message, i == 0 ? " (is the queue filled? run fill first)" : "")};
    }
    const auto now = clock::now();
    if (i == o.warmup) t0 = last;  // timing starts after the warm-up messages
    if (i >= o.warmup) gaps.add(now - last);
    last = now;
    if (auto e = client.ack(*m)) {
      // Delivered on a connection lost since: the ACK was not sent and the broker delivers the
      // message again (redelivered), so it is counted then.
      if (e.code == failover::errc::stale_message) {
        ++stale;
        continue;
      }
      return e;
    }
    const std::uint64_t id = hash(m->message_id()) | 1;  // 0 marks an empty slot
    if (m->redelivered() && std::find(recent.begin(), recent.end(), id) != recent.end()) {
      ++duplicates;  // acked again (harmless), counted once
      continue;
    }
    recent[recent_next++ % recent.size()] = id;
    bytes += m->body().size();
    ++i;
    progress.add();
  }
  // The UNSUBSCRIBE receipt comes after the broker has handled every ACK before it.
  if (auto e = client.unsubscribe(spec.id)) return error{e.code, "unsubscribe: " + e.message};
  const auto t1 = clock::now();
  progress.stop();
  latency_samples::summary summary = gaps.summarize();
  log.add_gap(std::chrono::duration_cast<clock::duration>(std::chrono::duration<double, std::milli>(summary.max_ms)));
  log.collect(client);
  client.close();

  report r;
  r.workload = "drain";
  r.description = fmt::format("1 consumer, client-individual ack per message, from {}", destination);
  r.messages = count;
  r.seconds = seconds_between(t0, t1);
  r.has_latency = true;
  r.latency_label = "gap between receives";
  r.latency = summary;
  r.extra.emplace_back("bytes", std::to_string(bytes));
  r.extra.emplace_back("uri", effective_uri(o));
  log.add_stale_acks(stale);
  log.add_to(r, "deliveries");
  r.extra.emplace_back("duplicates", std::to_string(duplicates));
  return r;
}

}  // namespace tandem::bench
