#pragma once
// The workloads tandem-bench runs against a broker over STOMP. Each opens its own connections,
// runs to completion and returns its figures, or the first error any connection met (an ERROR
// frame, a receipt that never came).
//
// latency, producers, stream, fill, drain and fanout go through the failover library
// (failover::client, one per producer/consumer: tools/bench_client.h), so they run unchanged
// against a pair with a failover URI and report what happened during switchovers.
// connections, probe and stream --receipts last speak plain STOMP with failover::stomp_connection:
// 10,000 idle sockets must not cost 10,000 threads, a restart probe must not wait for a reconnect
// backoff, and a stream with one final receipt cannot be replayed after a failover.

#include <cstdint>
#include <string>

#include "common/result.h"
#include "tools/bench_stats.h"

namespace tandem::bench {

struct options {
  std::string uri;             // stomp://, stomp+ssl://, failover:(...); empty: stomp://host:port
  std::string host = "127.0.0.1";
  std::uint16_t port = 61613;
  std::string login;
  std::string passcode;
  std::string destination;     // default: /queue/bench.<pid> (or /topic/... for fanout)
  std::uint64_t count = 0;     // 0: the workload's default
  double duration_s = 0;       // latency/producers: run this long instead of --count
  std::size_t size = 1024;     // body bytes
  std::uint64_t warmup = 0;    // per producer/consumer, sent/received but not timed
  bool persistent = true;
  int producers = 8;
  int subscribers = 8;
  int prefetch = 0;            // activemq.prefetchSize on SUBSCRIBE; 0: broker default
  std::uint64_t window = 0;    // stream/fill/fanout: at most this many sends without a receipt
                               // (0: the workload's default, 8000 for stream/fill, 1000 for fanout)
  bool receipt_last_only = false;  // stream/fill --receipts last: plain STOMP, one receipt at the end
  double hold_s = 10;          // connections: how long to hold them open
  int timeout_ms = 30000;      // per receipt / message wait
  bool progress = false;
  bool quiet = false;          // no progress line, no switchover events on stderr
};

// (a)/(b): `producers` connections, each sending and waiting for a receipt per message.
result<report> run_producers(const options& o, const std::string& name);
// (c): all messages pipelined, the last with a receipt; time until that receipt.
result<report> run_stream(const options& o, const std::string& name);
// (c) as the STOMP spec allows it: every message sent without a receipt but the last, whose
// receipt is awaited, on one plain stomp_connection (no failover library: it needs a receipt for
// every send to know what to re-send). The first endpoint of the URI that accepts is used.
result<report> run_stream_final_receipt(const options& o, const std::string& name);
// (d): one client-individual consumer acking every message until `count` are received.
result<report> run_drain(const options& o);
// 1 producer, `subscribers` topic subscribers; delivered messages per second.
result<report> run_fanout(const options& o);
// Opens `count` idle STOMP connections, holds them, checks they still answer (plain STOMP to the
// first endpoint of the URI that accepts; no TLS).
result<report> run_connections(const options& o);
// Retries CONNECT + DISCONNECT-receipt until it succeeds (restart-time measurement), trying
// every endpoint of the URI in turn (plain STOMP; no TLS).
result<report> run_probe(const options& o);

}  // namespace tandem::bench
