#include "tools/bench_workloads.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <latch>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "failover/stomp_connection.h"

namespace tandem::bench {

namespace {

using failover::stomp_connection;
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

failover::connect_options connect_options(const options& o) {
  failover::connect_options c;
  c.login = o.login;
  c.passcode = o.passcode;
  c.timeout = milliseconds(o.timeout_ms);
  return c;
}

error connect(stomp_connection& c, const options& o) { return c.connect(o.host, o.port, connect_options(o)); }

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

}  // namespace

result<report> run_producers(const options& o, const std::string& name) {
  const int n = name == "producers" ? std::max(1, o.producers) : 1;
  const std::uint64_t total = o.count ? o.count : (n == 1 ? 10000 : 50000);
  const std::string destination = queue_or(o, "queue");
  const std::string body(o.size, 'x');
  const auto hdrs = send_headers(o);
  const milliseconds timeout(o.timeout_ms);

  first_error failure;
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
      stomp_connection c;
      bool ok = true;
      if (auto e = connect(c, o)) failure.record(e), ok = false;
      for (std::uint64_t i = 0; ok && i < o.warmup; ++i)
        if (auto e = c.send(destination, body, hdrs, true, timeout)) failure.record(e), ok = false;
      ready.count_down();
      go.wait();
      if (o.duration_s == 0 && mine < 1'000'000'000) samples[p].reserve(mine);
      for (std::uint64_t i = 0; ok && i < mine && !failure.failed(); ++i) {
        const auto t = clock::now();
        if (deadline && t >= *deadline) break;
        if (auto e = c.send(destination, body, hdrs, true, timeout)) {
          failure.record(e);
          break;
        }
        samples[p].add(clock::now() - t);
        progress.add();
      }
      finished[p] = clock::now();
      if (ok && !failure.failed()) c.disconnect(timeout);
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
  return r;
}

result<report> run_stream(const options& o, const std::string& name) {
  const std::uint64_t count = std::max<std::uint64_t>(1, o.count ? o.count : 50000);
  const std::string destination = queue_or(o, "queue");
  const std::string body(o.size, 'x');
  const auto hdrs = send_headers(o);
  const milliseconds timeout(o.timeout_ms);

  stomp_connection c;
  if (auto e = connect(c, o)) return e;
  for (std::uint64_t i = 0; i < o.warmup; ++i) {
    auto id = c.send_async(destination, body, hdrs, i + 1 == o.warmup);
    if (!id) return id.err();
    if (i + 1 == o.warmup)
      if (auto e = c.wait_receipt(*id, timeout)) return e;
  }
  progress_meter progress(o.progress);
  progress.start(name);
  const auto t0 = clock::now();
  std::string last;
  for (std::uint64_t i = 0; i < count; ++i) {
    auto id = c.send_async(destination, body, hdrs, i + 1 == count);
    if (!id) return id.err();
    last = *id;
    progress.add();
  }
  if (auto e = c.flush()) return e;
  const auto written = clock::now();
  if (auto e = c.wait_receipt(last, timeout)) return error{e.code, "final receipt: " + e.message};
  const auto t1 = clock::now();
  progress.stop();
  c.disconnect(timeout);

  report r;
  r.workload = name;
  r.description = fmt::format("{} pipelined, final receipt proves all durable", describe_send(o));
  r.messages = count;
  r.seconds = seconds_between(t0, t1);
  r.extra.emplace_back("written_s", fmt::format("{:.3f}", seconds_between(t0, written)));
  r.extra.emplace_back("size", std::to_string(o.size));
  r.extra.emplace_back("destination", destination);
  return r;
}

result<report> run_drain(const options& o) {
  const std::uint64_t count = o.count ? o.count : 50000;
  const std::string destination = queue_or(o, "queue");
  const milliseconds timeout(o.timeout_ms);

  stomp_connection c;
  if (auto e = connect(c, o)) return e;
  failover::headers sub_headers;
  if (o.prefetch > 0) sub_headers.emplace_back("activemq.prefetchSize", std::to_string(o.prefetch));
  progress_meter progress(o.progress);
  progress.start("drain");
  auto t0 = clock::now();
  if (auto e = c.subscribe("bench-drain", destination, "client-individual", sub_headers)) return e;
  latency_samples gaps;
  gaps.reserve(count);
  auto last = t0;
  std::uint64_t bytes = 0;
  for (std::uint64_t i = 0; i < o.warmup + count; ++i) {
    auto m = c.receive(timeout);
    if (!m) {
      return error{m.code(), fmt::format("received {} of {} messages from {}: {}{}", i, o.warmup + count, destination,
                                         m.err().message, i == 0 ? " (is the queue filled? run fill first)" : "")};
    }
    const auto now = clock::now();
    if (i == o.warmup) t0 = last;  // timing starts after the warm-up messages
    if (i >= o.warmup) gaps.add(now - last);
    last = now;
    bytes += m->body.size();
    if (auto e = c.ack(*m)) return e;
    progress.add();
  }
  // The DISCONNECT receipt comes after the broker has handled every ACK before it.
  if (auto e = c.disconnect(timeout)) return error{e.code, "disconnect: " + e.message};
  const auto t1 = clock::now();
  progress.stop();

  report r;
  r.workload = "drain";
  r.description = fmt::format("1 consumer, client-individual ack per message, from {}", destination);
  r.messages = count;
  r.seconds = seconds_between(t0, t1);
  r.has_latency = true;
  r.latency_label = "gap between receives";
  r.latency = gaps.summarize();
  r.extra.emplace_back("bytes", std::to_string(bytes));
  return r;
}

}  // namespace tandem::bench
