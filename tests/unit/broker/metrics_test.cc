// The Prometheus text rendering of /metrics (broker/metrics.h) and the histogram it shows
// (common/histogram.h).

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include "broker/metrics.h"
#include "common/histogram.h"

using namespace tandem;
using namespace tandem::broker;

TEST_CASE("a family is its HELP and TYPE lines followed by its samples", "[metrics]") {
  prometheus_text m;
  m.family("tandem_epoch", "gauge", "The lease epoch.");
  m.sample("tandem_epoch", 7);
  m.family("tandem_role", "gauge", "1 for the current role.");
  m.sample("tandem_role", {{"role", "active"}}, 1);
  m.sample("tandem_role", {{"role", "standby"}}, 0);
  CHECK(m.text() ==
        "# HELP tandem_epoch The lease epoch.\n"
        "# TYPE tandem_epoch gauge\n"
        "tandem_epoch 7\n"
        "# HELP tandem_role 1 for the current role.\n"
        "# TYPE tandem_role gauge\n"
        "tandem_role{role=\"active\"} 1\n"
        "tandem_role{role=\"standby\"} 0\n");
}

TEST_CASE("label values escape backslash, double quote and line feed", "[metrics]") {
  prometheus_text m;
  m.family("tandem_destination_depth", "gauge", "Depth.");
  m.sample("tandem_destination_depth", {{"destination", "/queue/a\"b\\c\nd"}, {"x", "y"}}, 3);
  CHECK(m.text().find("tandem_destination_depth{destination=\"/queue/a\\\"b\\\\c\\nd\",x=\"y\"} 3\n") !=
        std::string::npos);
}

TEST_CASE("label values replace bytes that are not well-formed UTF-8 with U+FFFD", "[metrics]") {
  const std::string fffd = "\xEF\xBF\xBD";
  // Well-formed text, from one to four bytes a character, passes unchanged.
  CHECK(prometheus_text::escape_label_value("/queue/caf\xC3\xA9-\xE2\x82\xAC-\xF0\x9F\x93\xA6") ==
        "/queue/caf\xC3\xA9-\xE2\x82\xAC-\xF0\x9F\x93\xA6");
  CHECK(prometheus_text::escape_label_value("/queue/\xFF") == "/queue/" + fffd);            // never a lead byte
  CHECK(prometheus_text::escape_label_value("a\x80" "b") == "a" + fffd + "b");               // stray continuation
  CHECK(prometheus_text::escape_label_value("a\xC3") == "a" + fffd);                        // cut short at the end
  CHECK(prometheus_text::escape_label_value("\xC3\\") == fffd + "\\\\");                   // cut short by an escape
  CHECK(prometheus_text::escape_label_value("\xC0\xAF") == fffd + fffd);                    // overlong '/'
  CHECK(prometheus_text::escape_label_value("\xED\xA0\x80") == fffd + fffd + fffd);         // a surrogate
  CHECK(prometheus_text::escape_label_value("\xF4\x90\x80\x80") == fffd + fffd + fffd + fffd);  // past U+10FFFF
  CHECK(prometheus_text::escape_label_value("\xE2\x82\"") == fffd + fffd + "\\\"");         // quote still escaped
}

TEST_CASE("HELP text escapes backslash and line feed but not quotes", "[metrics]") {
  CHECK(prometheus_text::escape_help("a \"b\" c\\d\ne") == "a \"b\" c\\\\d\\ne");
}

TEST_CASE("values are written so they read back exactly", "[metrics]") {
  CHECK(prometheus_text::format_value(0) == "0");
  CHECK(prometheus_text::format_value(42) == "42");
  CHECK(prometheus_text::format_value(-3) == "-3");
  CHECK(prometheus_text::format_value(12345678901234.0) == "12345678901234");
  CHECK(prometheus_text::format_value(0.25) == "0.25");
  CHECK(std::stod(prometheus_text::format_value(0.1)) == 0.1);
  CHECK(std::stod(prometheus_text::format_value(5e-05)) == 5e-05);
  CHECK(prometheus_text::format_value(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(prometheus_text::format_value(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(prometheus_text::format_value(std::nan("")) == "NaN");
}

TEST_CASE("a histogram observes values into the first bucket whose bound holds them", "[metrics][histogram]") {
  histogram h({0.001, 0.01, 0.1});
  for (double v : {0.0005, 0.001, 0.002, 0.05, 0.1, 3.0}) h.observe(v);
  auto s = h.snapshot();
  REQUIRE(s.buckets.size() == 4);
  CHECK(s.buckets == std::vector<std::uint64_t>{2, 1, 2, 1});  // 0.001 and 0.1 sit in their own `le` bucket
  CHECK(s.count == 6);
  CHECK(s.sum == Approx(3.1535));
}

TEST_CASE("a histogram renders cumulative buckets ending at +Inf, then sum and count", "[metrics][histogram]") {
  histogram h({1, 2, 4});
  for (double v : {1.0, 1.0, 3.0, 9.0}) h.observe(v);
  prometheus_text m;
  m.histogram("tandem_journal_group_size", "Appends per fsync.", h.snapshot());
  CHECK(m.text() ==
        "# HELP tandem_journal_group_size Appends per fsync.\n"
        "# TYPE tandem_journal_group_size histogram\n"
        "tandem_journal_group_size_bucket{le=\"1\"} 2\n"
        "tandem_journal_group_size_bucket{le=\"2\"} 2\n"
        "tandem_journal_group_size_bucket{le=\"4\"} 3\n"
        "tandem_journal_group_size_bucket{le=\"+Inf\"} 4\n"
        "tandem_journal_group_size_sum 14\n"
        "tandem_journal_group_size_count 4\n");
}

TEST_CASE("an empty histogram renders zeros", "[metrics][histogram]") {
  histogram h(histogram::latency_bounds());
  prometheus_text m;
  m.histogram("tandem_journal_fsync_seconds", "Fsync latency.", h.snapshot());
  CHECK(m.text().find("tandem_journal_fsync_seconds_bucket{le=\"5e-05\"} 0\n") != std::string::npos);
  CHECK(m.text().find("tandem_journal_fsync_seconds_bucket{le=\"+Inf\"} 0\n") != std::string::npos);
  CHECK(m.text().find("tandem_journal_fsync_seconds_count 0\n") != std::string::npos);
}

TEST_CASE("a histogram counts every observation made from several threads", "[metrics][histogram]") {
  histogram h(histogram::count_bounds());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&h, t] {
      for (int i = 0; i < 10000; ++i) h.observe(static_cast<double>((i + t) % 2000));
    });
  for (auto& t : threads) t.join();
  auto s = h.snapshot();
  CHECK(s.count == 40000);
  std::uint64_t total = 0;
  for (auto b : s.buckets) total += b;
  CHECK(total == 40000);
}
