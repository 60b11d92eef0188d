// tandem-bench stream --receipts last: (c) with a receipt for the final message only, on one plain
// STOMP connection (see bench_workloads.h for why it cannot go through the failover library).
//
// What the final receipt proves differs by broker: on Tandem the journal is one ordered log, so
// the last message durable means every earlier one is too; on ActiveMQ the earlier sends are
// stored without a sync of their own, before the last one, whose synced write covers the journal
// file they were written to.

#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>

#include "tools/bench_client.h"
#include "tools/bench_workloads.h"

namespace tandem::bench {

result<report> run_stream_final_receipt(const options& o, const std::string& name) {
  using std::chrono::milliseconds;
  const std::uint64_t count = std::max<std::uint64_t>(1, o.count ? o.count : 50000);
  const std::string destination = o.destination.empty() ? fmt::format("/queue/bench.{}", ::getpid()) : o.destination;
  const std::string body(o.size, 'x');
  failover::headers hdrs;
  if (o.persistent) hdrs.emplace_back("persistent", "true");
  const milliseconds timeout(o.timeout_ms);
  auto uri = client_options(o);
  if (!uri) return uri.err();
  auto endpoints = plain_endpoints(o, *uri);
  if (!endpoints) return endpoints.err();

  failover::stomp_connection c;
  error e;
  std::string used;
  for (const auto& ep : *endpoints) {
    if (!(e = c.connect(ep.host, ep.port, plain_connect_options(*uri, timeout)))) {
      used = ep.to_string();
      break;
    }
  }
  if (e) return error{e.code, fmt::format("{}: {}", name, e.describe())};
  // The warm-up ends with a receipt too, so none of it is still being stored when timing starts.
  for (std::uint64_t i = 0; i < o.warmup; ++i)
    if ((e = c.send(destination, body, hdrs, i + 1 == o.warmup, timeout))) return error{e.code, "warm-up: " + e.message};

  progress_meter progress(o.progress);
  progress.start(name);
  const auto t0 = clock::now();
  for (std::uint64_t i = 0; i + 1 < count; ++i) {
    if (auto sent = c.send_async(destination, body, hdrs, false); !sent) return sent.err();
    progress.add();
  }
  auto last = c.send_async(destination, body, hdrs, true);
  if (!last) return last.err();
  const auto written = clock::now();
  if ((e = c.wait_receipt(*last, timeout))) return error{e.code, "final receipt: " + e.message};
  const auto t1 = clock::now();
  progress.add();
  progress.stop();
  c.disconnect(timeout);

  report r;
  r.workload = name;
  r.description = fmt::format("{} {} B to {} pipelined, a receipt for the last only (plain STOMP)",
                              o.persistent ? "persistent" : "non-persistent", o.size, destination);
  r.messages = count;
  r.seconds = seconds_between(t0, t1);
  r.extra.emplace_back("written_s", fmt::format("{:.3f}", seconds_between(t0, written)));
  r.extra.emplace_back("size", std::to_string(o.size));
  r.extra.emplace_back("destination", destination);
  r.extra.emplace_back("receipts", "last");
  r.extra.emplace_back("uri", used);
  return r;
}

}  // namespace tandem::bench
