#pragma once
// tandem-ctl's human output: aligned text tables and the number formats the console uses
// (1,234; 1.2k/s; 3.4 MiB; 5.3 s; "4 min ago"). Machine output is --json, never these.

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace tandem::ctl {

struct column {
  std::string header;
  bool right = false;  // numbers are right-aligned
};

class text_table {
 public:
  explicit text_table(std::vector<column> columns) : columns_(std::move(columns)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  bool empty() const { return rows_.empty(); }
  // Columns separated by two spaces; the last column is not padded. Cells are printed
  // through printable().
  void print(std::FILE* out) const;

 private:
  std::vector<column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// Display width of UTF-8 text (code points; every character here is one column wide).
std::size_t display_width(std::string_view s);

std::string count(std::uint64_t n);          // 1234567 -> "1,234,567"
std::string rate(double per_second);         // 0 -> "0/s", 12.5 -> "12.5/s", 1234 -> "1.2k/s"
std::string bytes(std::uint64_t n);          // 3565158 -> "3.4 MiB"
std::string duration_ms(double ms);          // 40 -> "40 ms", 5300 -> "5.3 s", 250000 -> "4 min 10 s"
std::string clock_time(std::int64_t epoch_ms);  // "2025-12-05 14:03:27" (local time)

// Text from a node (names, ids, headers: any bytes a client sent) made safe for a terminal:
// control characters (C0, DEL, C1) and bytes that are not well-formed UTF-8 are shown as
// escapes (\n, \r, \t, \xNN, \u0080..\u009f), so an ESC sequence in a queue name cannot
// recolour, move or retitle the terminal. Text without them passes unchanged. Every cell of a
// text_table goes through it.
std::string printable(std::string_view text);

// One line of printable text at most `width` columns: control characters shown as escapes,
// the cut marked with "…".
std::string one_line(std::string_view text, std::size_t width);

// Field helpers that tolerate absent or null fields ("—").
std::string json_count(const nlohmann::json& j, const char* key);
std::string json_text(const nlohmann::json& j, const char* key);

}  // namespace tandem::ctl
