#pragma once
// What the admin API and the metrics say about one destination's traffic beyond its counters:
// which connections sent to it lately and its rates. Kept cheap on the message path:
//   - note_producer() is one integer-keyed hash lookup per send; it allocates only the first
//     time a connection sends to the destination (and entries silent for a minute are pruned);
//   - rates cost nothing per message: the housekeeping timer samples the destination's
//     cumulative counters once a second, and a rate is the difference over the last 10 s.
//
// Single-threaded: used only on the broker's event loop.

#include <array>
#include <cstdint>
#include <unordered_map>

namespace tandem::broker {

class traffic {
 public:
  static constexpr std::int64_t producer_window_s = 60;
  static constexpr std::size_t rate_window_s = 10;

  // `connection` sent a message at `now_s` (the broker's coarse clock, in seconds). 0 (a
  // message from no connection, e.g. the admin API) is not a producer.
  void note_producer(std::uint64_t connection, std::int64_t now_s) {
    if (connection) producers_[connection] = now_s;
  }
  // Connections that sent within the last producer_window_s.
  std::size_t producers(std::int64_t now_s) const {
    std::size_t n = 0;
    for (auto& [id, at] : producers_) n += now_s - at <= producer_window_s;
    return n;
  }
  void prune(std::int64_t now_s) { std::erase_if(producers_, [&](auto& p) { return now_s - p.second > producer_window_s; }); }

  // A destination starts with nothing in or out: the first second's messages count in its rate.
  traffic() { sample(0, 0); }
  // Starts the rate window over at these counts (messages recovered at start are not traffic).
  void restart_at(std::uint64_t in, std::uint64_t out) {
    filled_ = 0;
    next_ = 0;
    sample(in, out);
  }

  // Once a second: the destination's cumulative counts of messages in and out.
  void sample(std::uint64_t in, std::uint64_t out) {
    in_[next_] = in;
    out_[next_] = out;
    next_ = (next_ + 1) % in_.size();
    if (filled_ < in_.size()) ++filled_;
  }
  // Messages per second over the last rate_window_s (or over what was sampled so far).
  double in_rate() const { return rate(in_); }
  double out_rate() const { return rate(out_); }

 private:
  using samples = std::array<std::uint64_t, rate_window_s + 1>;
  double rate(const samples& s) const {
    if (filled_ < 2) return 0;
    std::size_t newest = (next_ + s.size() - 1) % s.size();
    std::size_t oldest = (next_ + s.size() - filled_) % s.size();
    if (s[newest] < s[oldest]) return 0;
    return static_cast<double>(s[newest] - s[oldest]) / static_cast<double>(filled_ - 1);
  }

  std::unordered_map<std::uint64_t, std::int64_t> producers_;  // connection -> second of its last send
  samples in_{};
  samples out_{};
  std::size_t next_ = 0;
  std::size_t filled_ = 0;
};

}  // namespace tandem::broker
