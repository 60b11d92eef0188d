#include "tools/ctl_output.h"

#include <cmath>
#include <ctime>

#include <fmt/format.h>

#include "common/utf8.h"

namespace tandem::ctl {

constexpr std::string_view dash = "—";

std::size_t display_width(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

void text_table::print(std::FILE* out) const {
  std::vector<std::size_t> widths(columns_.size());
  for (std::size_t i = 0; i < columns_.size(); ++i) widths[i] = display_width(columns_[i].header);
  std::vector<std::vector<std::string>> rows;
  for (const auto& row : rows_) {
    auto& safe = rows.emplace_back();
    for (const auto& cell : row) safe.push_back(printable(cell));
  }
  for (const auto& row : rows)
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) widths[i] = std::max(widths[i], display_width(row[i]));
  auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (std::size_t i = 0; i < columns_.size(); ++i) {
      const std::string& cell = i < cells.size() ? cells[i] : std::string();
      std::string pad(widths[i] - display_width(cell), ' ');
      bool last = i + 1 == columns_.size();
      if (columns_[i].right) text += pad + cell;
      else text += last ? cell : cell + pad;
      if (!last) text += "  ";
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    std::fprintf(out, "%s\n", text.c_str());
  };
  std::vector<std::string> headers;
  for (const auto& c : columns_) headers.push_back(c.header);
  line(headers);
  for (const auto& row : rows) line(row);
}

std::string count(std::uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string rate(double r) {
  if (r <= 0) return "0/s";
  if (r < 10) return fmt::format("{:.1f}/s", r);
  if (r < 1000) return fmt::format("{:.0f}/s", r);
  if (r < 1e6) return fmt::format("{:.{}f}k/s", r / 1e3, r < 1e4 ? 1 : 0);
  return fmt::format("{:.{}f}M/s", r / 1e6, r < 1e7 ? 1 : 0);
}

std::string bytes(std::uint64_t n) {
  if (n < 1024) return fmt::format("{} B", n);
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double v = n / 1024.0;
  int i = 0;
  while (v >= 1024 && i < 3) {
    v /= 1024;
    ++i;
  }
  return fmt::format("{:.{}f} {}", v, v < 10 ? 1 : 0, units[i]);
}

std::string duration_ms(double ms) {
  if (ms < 1000) return fmt::format("{:.0f} ms", ms);
  double s = ms / 1000;
  if (s < 60) return fmt::format("{:.{}f} s", s, s < 10 ? 1 : 0);
  auto total = static_cast<std::int64_t>(s);
  auto d = total / 86400, h = total % 86400 / 3600, m = total % 3600 / 60, sec = total % 60;
  if (d > 0) return h ? fmt::format("{} d {} h", d, h) : fmt::format("{} d", d);
  if (h > 0) return m ? fmt::format("{} h {} min", h, m) : fmt::format("{} h", h);
  return sec ? fmt::format("{} min {} s", m, sec) : fmt::format("{} min", m);
}

std::string clock_time(std::int64_t epoch_ms) {
  if (epoch_ms <= 0) return std::string(dash);
  std::time_t t = epoch_ms / 1000;
  std::tm local{};
  ::localtime_r(&t, &local);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &local);
  return buf;
}

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    const std::size_t n = utf8_sequence_at(text, i);
    if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (n == 0 || c < 0x20 || c == 0x7f) out += fmt::format("\\x{:02x}", c);
    // C1 controls (U+0080..U+009F, e.g. U+009B, a one-character CSI) are encoded C2 80..C2 9F.
    else if (n == 2 && c == 0xc2 && static_cast<unsigned char>(text[i + 1]) < 0xa0)
      out += fmt::format("\\u{:04x}", static_cast<unsigned char>(text[i + 1]));
    else out.append(text.substr(i, n));
    i += n == 0 ? 1 : n;
  }
  return out;
}

std::string one_line(std::string_view text, std::size_t width) {
  std::string out = printable(text);
  if (display_width(out) <= width) return out;
  std::string cut;
  std::size_t w = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    unsigned char c = out[i];
    if ((c & 0xC0) != 0x80 && ++w > width - 1) break;
    cut += out[i];
  }
  return cut + "…";
}

std::string json_count(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || !j[key].is_number()) return std::string(dash);
  return count(j[key].get<std::uint64_t>());
}

std::string json_text(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return std::string(dash);
  if (j[key].is_string()) return j[key].get<std::string>().empty() ? std::string(dash) : j[key].get<std::string>();
  return j[key].dump();
}

}  // namespace tandem::ctl
