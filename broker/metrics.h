#pragma once
// The Prometheus text exposition format, version 0.0.4: what GET /metrics writes.
//
//   # HELP tandem_epoch The epoch this node holds or last held.
//   # TYPE tandem_epoch gauge
//   tandem_epoch 7
//   tandem_destination_depth{destination="/queue/orders"} 12
//   tandem_journal_fsync_seconds_bucket{le="0.001"} 40      (cumulative; the last is le="+Inf")
//   tandem_journal_fsync_seconds_sum 0.0312
//   tandem_journal_fsync_seconds_count 41
//
// Every family gets its HELP and TYPE lines before its samples; HELP text escapes '\' and
// line feeds, label values also '"', and every byte of a label value that is not part of
// well-formed UTF-8 becomes U+FFFD (names from clients may be any bytes; the format is UTF-8). Values are written in the shortest form that reads back
// exactly, with +Inf, -Inf and NaN spelt as the format wants. A pure value type: no I/O.

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/histogram.h"

namespace tandem::broker {

struct metric_label {
  std::string_view name;
  std::string_view value;
};

class prometheus_text {
 public:
  // Starts a family. `type`: "counter", "gauge" or "histogram". Names are the caller's
  // constants ([a-zA-Z_:][a-zA-Z0-9_:]*); they are not checked.
  void family(std::string_view name, std::string_view type, std::string_view help);
  // One sample of the current family (`name` may carry a suffix such as _total).
  void sample(std::string_view name, std::initializer_list<metric_label> labels, double value);
  void sample(std::string_view name, const std::vector<metric_label>& labels, double value);
  void sample(std::string_view name, double value) { sample(name, {}, value); }
  // A whole histogram family: HELP, TYPE, cumulative buckets with +Inf, sum and count.
  void histogram(std::string_view name, std::string_view help, const histogram_snapshot& h);

  const std::string& text() const { return out_; }

  static std::string escape_help(std::string_view text);
  static std::string escape_label_value(std::string_view value);
  static std::string format_value(double v);

 private:
  std::string out_;
};

}  // namespace tandem::broker
