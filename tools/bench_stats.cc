#include "tools/bench_stats.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <fmt/format.h>

namespace tandem::bench {

double seconds_between(clock::time_point a, clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

latency_samples::summary latency_samples::summarize() {
  summary s;
  if (ns_.empty()) return s;
  std::sort(ns_.begin(), ns_.end());
  // Nearest-rank percentile: the smallest sample with at least q of all samples at or below it.
  auto at = [&](double q) {
    auto rank = static_cast<std::size_t>(std::ceil(q * ns_.size()));
    return ns_[std::clamp<std::size_t>(rank, 1, ns_.size()) - 1] / 1e6;
  };
  s.median_ms = at(0.5);
  s.p99_ms = at(0.99);
  s.p999_ms = at(0.999);
  s.max_ms = ns_.back() / 1e6;
  return s;
}

void progress_meter::start(std::string label) {
  if (!enabled_ || running_.exchange(true)) return;
  printer_ = std::thread([this, label = std::move(label)] {
    const auto t0 = clock::now();
    auto last_t = t0;
    std::uint64_t last_n = 0;
    while (running_.load()) {
      for (int i = 0; i < 25 && running_.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      const auto now = clock::now();
      const std::uint64_t n = count();
      const double dt = seconds_between(last_t, now);
      const double rate = dt > 0 ? (n - last_n) / dt : 0;
      std::fprintf(stderr, "\r%s %7.1f s %12llu msgs %10.0f msg/s ", label.c_str(), seconds_between(t0, now),
                   static_cast<unsigned long long>(n), rate);
      std::fflush(stderr);
      last_t = now;
      last_n = n;
    }
    std::fputc('\n', stderr);
  });
}

void progress_meter::stop() {
  if (!running_.exchange(false)) return;
  if (printer_.joinable()) printer_.join();
}

namespace {
std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", c);
    } else {
      out += c;
    }
  }
  return out + "\"";
}
bool is_number(const std::string& s) {
  if (s.empty()) return false;
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}
}  // namespace

void report::print(bool json) const {
  if (json) {
    std::string line = fmt::format("{{\"workload\":{},\"messages\":{},\"seconds\":{:.6f},\"msgs_per_s\":{:.1f}",
                                   json_string(workload), messages, seconds, rate());
    if (has_latency)
      line += fmt::format(
          ",\"latency\":{},\"latency_ms\":{{\"median\":{:.4f},\"p99\":{:.4f},\"p99_9\":{:.4f},\"max\":{:.4f}}}",
          json_string(latency_label), latency.median_ms, latency.p99_ms, latency.p999_ms, latency.max_ms);
    for (const auto& [k, v] : extra) line += fmt::format(",{}:{}", json_string(k), is_number(v) ? v : json_string(v));
    std::printf("%s}\n", line.c_str());
  } else {
    std::printf("workload    %s (%s)\n", workload.c_str(), description.c_str());
    std::printf("messages    %llu\n", static_cast<unsigned long long>(messages));
    std::printf("seconds     %.3f\n", seconds);
    std::printf("msgs/s      %.0f\n", rate());
    if (has_latency)
      std::printf("latency ms  median %.3f  p99 %.3f  p99.9 %.3f  max %.3f  (%s)\n", latency.median_ms,
                  latency.p99_ms, latency.p999_ms, latency.max_ms, latency_label.c_str());
    int width = 11;  // the labels above
    for (const auto& [k, v] : extra) width = std::max(width, static_cast<int>(k.size()));
    for (const auto& [k, v] : extra) std::printf("%-*s %s\n", width, k.c_str(), v.c_str());
  }
  std::fflush(stdout);
}

}  // namespace tandem::bench
