#pragma once
// Figures for tandem-bench: latency samples, a live progress line and the final report.
//
// Threading: latency_samples is per thread (merge them at the end); progress_meter's counter is
// atomic and may be bumped from any thread; report is built and printed by the main thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace tandem::bench {

using clock = std::chrono::steady_clock;

// Every sample kept and sorted at the end: exact percentiles, 8 bytes per message (a few
// million messages cost tens of MB, which is fine for a benchmark).
class latency_samples {
 public:
  void add(clock::duration d) { ns_.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count()); }
  void merge(const latency_samples& other) { ns_.insert(ns_.end(), other.ns_.begin(), other.ns_.end()); }
  std::size_t size() const { return ns_.size(); }
  void reserve(std::size_t n) { ns_.reserve(n); }

  struct summary {
    double median_ms = 0, p99_ms = 0, p999_ms = 0, max_ms = 0;
  };
  summary summarize();  // sorts in place

 private:
  std::vector<std::int64_t> ns_;
};

// "\r  3.2 s   12,345 msgs   4,021 msg/s" on stderr about four times a second.
class progress_meter {
 public:
  explicit progress_meter(bool enabled) : enabled_(enabled) {}
  ~progress_meter() { stop(); }
  progress_meter(const progress_meter&) = delete;
  progress_meter& operator=(const progress_meter&) = delete;

  void start(std::string label);
  void add(std::uint64_t n = 1) { count_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  void stop();  // joins the printer and ends the line; idempotent

 private:
  bool enabled_;
  std::atomic<std::uint64_t> count_{0};
  std::atomic<bool> running_{false};
  std::thread printer_;
};

// The result of one workload, printed as a table (stdout) or one JSON line (--json).
struct report {
  std::string workload;
  std::string description;
  std::uint64_t messages = 0;
  double seconds = 0;
  bool has_latency = false;
  std::string latency_label;  // what the latency figures measure
  latency_samples::summary latency;
  std::vector<std::pair<std::string, std::string>> extra;  // key, value (numbers unquoted in JSON)

  double rate() const { return seconds > 0 ? messages / seconds : 0; }
  void print(bool json) const;
};

double seconds_between(clock::time_point a, clock::time_point b);

}  // namespace tandem::bench
