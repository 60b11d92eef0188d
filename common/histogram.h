#pragma once
// A histogram with fixed bucket bounds, for latencies and sizes the metrics show
// (Prometheus histograms: cumulative `le` buckets, a sum and a count).
//
// Threading: observe() is lock-free and may be called from any thread (the journal writer
// calls it after every fsync); snapshot() from any other thread. A snapshot taken while
// observations land may be off by those few; its bucket counts never exceed its count.

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace tandem {

struct histogram_snapshot {
  std::vector<double> bounds;          // upper bounds, ascending (the +Inf bucket is implicit)
  std::vector<std::uint64_t> buckets;  // per bucket, NOT cumulative; bounds.size() + 1 of them
  double sum = 0;
  std::uint64_t count = 0;
};

class histogram {
 public:
  // REQUIRES: `bounds` is ascending.
  explicit histogram(std::vector<double> bounds)
      : bounds_(std::move(bounds)), counts_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {}
  histogram(const histogram&) = delete;
  histogram& operator=(const histogram&) = delete;

  void observe(double v) {
    std::size_t i = 0;
    while (i < bounds_.size() && v > bounds_[i]) ++i;  // `le`: a value equal to a bound is in it
    counts_[i].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(v, std::memory_order_relaxed);
  }

  histogram_snapshot snapshot() const {
    histogram_snapshot s;
    s.bounds = bounds_;
    s.buckets.resize(bounds_.size() + 1);
    for (std::size_t i = 0; i <= bounds_.size(); ++i) {
      s.buckets[i] = counts_[i].load(std::memory_order_relaxed);
      s.count += s.buckets[i];
    }
    s.sum = sum_.load(std::memory_order_relaxed);
    return s;
  }

  // Bounds for durations in seconds from 50 µs to 10 s (fsync on local disks and on NFS).
  static std::vector<double> latency_bounds() {
    return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10};
  }
  // Powers of two from 1 to 1024 (how many things went together).
  static std::vector<double> count_bounds() { return {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;
  std::atomic<double> sum_{0};
};

}  // namespace tandem
