// tandem-bench workloads that are about connections rather than one queue: topic fan-out
// (through the failover library), many idle connections and the readiness probe used to time a
// broker restart (both plain STOMP with stomp_connection, see bench_workloads.h).

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <latch>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>

#include <fmt/format.h>

#include "failover/stomp_connection.h"
#include "tools/bench_client.h"
#include "tools/bench_workloads.h"

namespace tandem::bench {

namespace {

using failover::stomp_connection;
using std::chrono::milliseconds;

// Fan-out bodies start with the send time (steady clock, same process) as 16 hex digits, so a
// subscriber can measure send-to-delivery latency without clock agreement across hosts.
constexpr std::size_t stamp_digits = 16;

void stamp(std::string& body) {
  if (body.size() < stamp_digits) return;
  const auto ns = static_cast<unsigned long long>(clock::now().time_since_epoch().count());
  auto text = fmt::format("{:016x}", ns);
  body.replace(0, stamp_digits, text);
}

std::optional<clock::time_point> read_stamp(std::string_view body) {
  if (body.size() < stamp_digits) return std::nullopt;
  const auto ns = std::strtoull(std::string(body.substr(0, stamp_digits)).c_str(), nullptr, 16);
  return clock::time_point(clock::duration(ns));
}

}  // namespace

result<report> run_fanout(const options& o) {
  const int n = std::max(1, o.subscribers);
  const std::uint64_t count = o.count ? o.count : 10000;
  const std::string destination =
      o.destination.empty() ? fmt::format("/topic/bench.{}", ::getpid()) : o.destination;
  const milliseconds timeout(o.timeout_ms);
  auto copts = client_options(o);
  if (!copts) return copts.err();

  std::mutex mutex;
  error failure;
  auto record = [&](error e) {
    std::lock_guard lock(mutex);
    if (!failure) failure = std::move(e);
  };
  switchover_log log(!o.quiet);
  progress_meter progress(o.progress);
  std::latch subscribed(n);
  std::vector<latency_samples> samples(n);
  std::vector<clock::time_point> finished(n);
  std::vector<std::thread> threads;
  for (int s = 0; s < n; ++s) {
    threads.emplace_back([&, s] {
      auto c = log.open(*copts, fmt::format("subscriber {}", s + 1), timeout);
      error e = c ? error{} : c.err();
      // subscribe() returns at the broker's receipt: the subscription is in place before the
      // producer starts.
      if (!e) e = (*c)->subscribe({.id = "bench-fanout", .destination = destination, .ack = "auto", .extra = {}});
      subscribed.count_down();
      samples[s].reserve(count);
      gap_clock gaps;
      for (std::uint64_t i = 0; !e && i < count; ++i) {
        auto m = (*c)->receive(timeout);
        if (!m) {
          e = error{m.code(), fmt::format("subscriber {} received {} of {}: {}", s + 1, i, count, m.err().message)};
          break;
        }
        if (auto sent = read_stamp(m->body())) samples[s].add(clock::now() - *sent);
        gaps.tick();
        progress.add();
      }
      finished[s] = clock::now();
      log.add_gap(gaps.max());
      if (e) record(e);
      if (c) {
        log.collect(**c);
        (*c)->close();
      }
    });
  }
  subscribed.wait();

  std::string body(o.size, 'x');
  failover::headers hdrs;
  if (o.persistent) hdrs.emplace_back("persistent", "true");
  // Pipelined, but at most one window without a receipt: the producer cannot run arbitrarily far
  // ahead of the broker. Declared before the client, whose close() completes pending sends.
  receipt_window window(o.window ? o.window : 1000);
  error e;
  progress.start("fanout");
  const auto t0 = clock::now();
  {
    auto producer = log.open(*copts, "producer", timeout);
    if (!producer) e = producer.err();
    for (std::uint64_t i = 0; !e && i < count; ++i) {
      stamp(body);
      if ((e = window.acquire(timeout))) break;
      (*producer)->send_async(destination, body, hdrs, [&](error sent) { window.release(sent); });
    }
    if (!e) e = (*producer)->wait_for_receipts(timeout);
    if (producer) {
      log.collect(**producer);
      (*producer)->close();
    }
  }
  if (e) record(error{e.code, "producer: " + e.message});
  // Subscribers waiting for messages that will never come give up after --timeout-ms.
  for (auto& t : threads) t.join();
  progress.stop();
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
  r.extra.emplace_back("uri", effective_uri(o));
  log.add_to(r, "deliveries");
  return r;
}

result<report> run_connections(const options& o) {
  const std::uint64_t count = o.count ? o.count : 1000;
  auto uri = client_options(o);
  if (!uri) return uri.err();
  auto endpoints = plain_endpoints(o, *uri);
  if (!endpoints) return endpoints.err();
  // Each connection is one descriptor here (they share one io_context); ask for enough.
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < count + 64) {
    limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, count + 64);
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  const milliseconds timeout(o.timeout_ms);
  const auto copts = plain_connect_options(*uri, timeout);
  asio::io_context io;
  std::vector<std::unique_ptr<stomp_connection>> connections;
  connections.reserve(count);
  std::uint64_t failed = 0;
  std::string first_error;
  // With several endpoints (a pair), the first connection finds the one that serves; the rest
  // go there too.
  std::optional<failover::endpoint> serving;
  progress_meter progress(o.progress);
  progress.start("connections");
  const auto t0 = clock::now();
  for (std::uint64_t i = 0; i < count; ++i) {
    auto c = std::make_unique<stomp_connection>(io);
    error e;
    for (const auto& ep : *endpoints) {
      if (serving && !serving->same_address(ep)) continue;
      e = c->connect(ep.host, ep.port, copts);
      if (!e) {
        serving = ep;
        break;
      }
      c = std::make_unique<stomp_connection>(io);
    }
    if (e) {
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
  if (serving) r.extra.emplace_back("endpoint", serving->to_string());
  if (!first_error.empty()) r.extra.emplace_back("first_error", first_error);
  return r;
}

result<report> run_probe(const options& o) {
  auto uri = client_options(o);
  if (!uri) return uri.err();
  auto endpoints = plain_endpoints(o, *uri);
  if (!endpoints) return endpoints.err();
  const auto t0 = clock::now();
  const auto deadline = t0 + milliseconds(o.timeout_ms);
  std::uint64_t attempts = 0;
  error last;
  while (clock::now() < deadline) {
    // One attempt per endpoint per round: whichever node of a pair serves first answers.
    for (const auto& ep : *endpoints) {
      ++attempts;
      stomp_connection c;
      const auto left = std::max(milliseconds(1), std::chrono::duration_cast<milliseconds>(deadline - clock::now()));
      last = c.connect(ep.host, ep.port, plain_connect_options(*uri, std::min(left, milliseconds(2000))));
      if (!last) last = c.disconnect(std::min(left, milliseconds(2000)));
      if (!last) {
        report r;
        r.workload = "probe";
        r.description = "CONNECT and DISCONNECT receipt until the broker serves";
        r.seconds = seconds_between(t0, clock::now());
        const auto wall =
            std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch());
        r.extra.emplace_back("attempts", std::to_string(attempts));
        r.extra.emplace_back("ready_unix_ms", std::to_string(wall.count()));
        r.extra.emplace_back("endpoint", ep.to_string());
        return r;
      }
      last.message = fmt::format("{}: {}", ep.to_string(), last.message);
    }
    std::this_thread::sleep_for(milliseconds(5));
  }
  return error{last.code, fmt::format("broker not serving after {} ms ({} attempts): {}", o.timeout_ms, attempts,
                                      last.message)};
}

}  // namespace tandem::bench
