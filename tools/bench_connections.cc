// tandem-bench workloads that are about connections rather than one queue: topic fan-out,
// many idle connections, and the readiness probe used to time a broker restart.

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <latch>
#include <memory>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "failover/stomp_connection.h"
#include "tools/bench_workloads.h"

namespace tandem::bench {

namespace {

using failover::stomp_connection;
using std::chrono::milliseconds;

failover::connect_options connect_options(const options& o, milliseconds timeout) {
  failover::connect_options c;
  c.login = o.login;
  c.passcode = o.passcode;
  c.timeout = timeout;
  return c;
}

// Fan-out bodies start with the send time (steady clock, same process) as 16 hex digits, so a
// subscriber can measure send-to-delivery latency without clock agreement across hosts.
constexpr std::size_t stamp_digits = 16;

void stamp(std::string& body) {
  if (body.size() < stamp_digits) return;
  const auto ns = static_cast<unsigned long long>(clock::now().time_since_epoch().count());
  auto text = fmt::format("{:016x}", ns);
  body.replace(0, stamp_digits, text);
}

std::optional<clock::time_point> read_stamp(const std::string& body) {
  if (body.size() < stamp_digits) return std::nullopt;
  const auto ns = std::strtoull(body.substr(0, stamp_digits).c_str(), nullptr, 16);
  return clock::time_point(clock::duration(ns));
}

}  // namespace

result<report> run_fanout(const options& o) {
  const int n = std::max(1, o.subscribers);
  const std::uint64_t count = o.count ? o.count : 10000;
  const std::string destination =
      o.destination.empty() ? fmt::format("/topic/bench.{}", ::getpid()) : o.destination;
  const milliseconds timeout(o.timeout_ms);

  std::mutex mutex;
  error failure;
  auto record = [&](error e) {
    std::lock_guard lock(mutex);
    if (!failure) failure = std::move(e);
  };
  progress_meter progress(o.progress);
  std::latch subscribed(n);
  std::vector<latency_samples> samples(n);
  std::vector<clock::time_point> finished(n);
  std::vector<std::thread> threads;
  for (int s = 0; s < n; ++s) {
    threads.emplace_back([&, s] {
      stomp_connection c;
      error e = c.connect(o.host, o.port, connect_options(o, timeout));
      // The receipt proves the subscription is in place before the producer starts.
      if (!e) e = c.subscribe("bench-fanout", destination, "auto", {}, true);
      subscribed.count_down();
      samples[s].reserve(count);
      for (std::uint64_t i = 0; !e && i < count; ++i) {
        auto m = c.receive(timeout);
        if (!m) {
          e = error{m.code(), fmt::format("subscriber {} received {} of {}: {}", s, i, count, m.err().message)};
          break;
        }
        if (auto sent = read_stamp(m->body)) samples[s].add(clock::now() - *sent);
        progress.add();
      }
      finished[s] = clock::now();
      if (e) record(e);
      else c.disconnect(timeout);
    });
  }
  subscribed.wait();

  stomp_connection producer;
  error e = producer.connect(o.host, o.port, connect_options(o, timeout));
  failover::headers hdrs;
  if (o.persistent) hdrs.emplace_back("persistent", "true");
  std::string body(o.size, 'x');
  progress.start("fanout");
  const auto t0 = clock::now();
  // A receipt every `window` messages, with at most one window unconfirmed: pipelined, but the
  // producer cannot run arbitrarily far ahead of the broker.
  std::string previous;
  const std::uint64_t window = std::max<std::uint64_t>(1, o.window);
  for (std::uint64_t i = 0; !e && i < count; ++i) {
    stamp(body);
    const bool want = (i + 1) % window == 0 || i + 1 == count;
    auto id = producer.send_async(destination, body, hdrs, want);
    if (!id) {
      e = id.err();
      break;
    }
    if (want) {
      if (!previous.empty()) e = producer.wait_receipt(previous, timeout);
      previous = *id;
    }
  }
  if (!e && !previous.empty()) e = producer.wait_receipt(previous, timeout);
  if (e) record(error{e.code, "producer: " + e.message});
  // Subscribers waiting for messages that will never come give up after --timeout-ms.
  for (auto& t : threads) t.join();
  progress.stop();
  producer.disconnect(timeout);
  if (failure) return failure;

  report r;
  r.workload = "fanout";
  r.description = fmt::format("1 producer, {} topic subscribers, {} {} B messages to {}", n,
                              o.persistent ? "persistent" : "non-persistent", o.size, destination);
  latency_samples all;
  for (auto& s : samples) all.merge(s);
  r.messages = count * n;
  r.seconds = seconds_between(t0, *std::max_element(finished.begin(), finished.end()));
  r.has_latency = all.size() > 0;
  r.latency_label = "send to delivery";
  r.latency = all.summarize();
  r.extra.emplace_back("produced", std::to_string(count));
  r.extra.emplace_back("subscribers", std::to_string(n));
  return r;
}

result<report> run_connections(const options& o) {
  const std::uint64_t count = o.count ? o.count : 1000;
  // Each connection is one descriptor here (they share one io_context); ask for enough.
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < count + 64) {
    limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, count + 64);
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  const milliseconds timeout(o.timeout_ms);
  asio::io_context io;
  std::vector<std::unique_ptr<stomp_connection>> connections;
  connections.reserve(count);
  std::uint64_t failed = 0;
  std::string first_error;
  progress_meter progress(o.progress);
  progress.start("connections");
  const auto t0 = clock::now();
  for (std::uint64_t i = 0; i < count; ++i) {
    auto c = std::make_unique<stomp_connection>(io);
    if (auto e = c->connect(o.host, o.port, connect_options(o, timeout))) {
      ++failed;
      if (first_error.empty()) first_error = fmt::format("connection {}: {}", i + 1, e.describe());
      continue;
    }
    connections.push_back(std::move(c));
    progress.add();
  }
  const auto opened = clock::now();
  // Holding is the point of this workload: idle connections must stay up on the broker.
  std::this_thread::sleep_for(std::chrono::duration<double>(o.hold_s));
  std::uint64_t alive = 0;
  for (auto& c : connections)
    if (!c->disconnect(timeout)) ++alive;
  progress.stop();

  report r;
  r.workload = "connections";
  r.description = fmt::format("{} idle STOMP connections held {} s", count, o.hold_s);
  r.messages = connections.size();
  r.seconds = seconds_between(t0, opened);
  r.extra.emplace_back("requested", std::to_string(count));
  r.extra.emplace_back("opened", std::to_string(connections.size()));
  r.extra.emplace_back("failed", std::to_string(failed));
  r.extra.emplace_back("alive_after_hold", std::to_string(alive));
  if (!first_error.empty()) r.extra.emplace_back("first_error", first_error);
  return r;
}

result<report> run_probe(const options& o) {
  const auto t0 = clock::now();
  const auto deadline = t0 + milliseconds(o.timeout_ms);
  std::uint64_t attempts = 0;
  error last;
  while (clock::now() < deadline) {
    ++attempts;
    stomp_connection c;
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - clock::now());
    last = c.connect(o.host, o.port, connect_options(o, std::min(left, milliseconds(2000))));
    if (!last) last = c.disconnect(std::min(left, milliseconds(2000)));
    if (!last) {
      report r;
      r.workload = "probe";
      r.description = "CONNECT and DISCONNECT receipt until the broker serves";
      r.seconds = seconds_between(t0, clock::now());
      const auto wall = std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch());
      r.extra.emplace_back("attempts", std::to_string(attempts));
      r.extra.emplace_back("ready_unix_ms", std::to_string(wall.count()));
      return r;
    }
    std::this_thread::sleep_for(milliseconds(5));
  }
  return error{last.code, fmt::format("broker not serving after {} ms ({} attempts): {}", o.timeout_ms, attempts,
                                      last.message)};
}

}  // namespace tandem::bench
