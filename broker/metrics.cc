#include "broker/metrics.h"

#include <fmt/format.h>

#include <cmath>

#include "common/utf8.h"

namespace tandem::broker {

std::string prometheus_text::escape_help(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string prometheus_text::escape_label_value(std::string_view value) {
  // Destination names, logins and client ids come from clients and may be any bytes; the
  // format is UTF-8 and a parser rejects the whole page at one invalid byte.
  std::string out;
  out.reserve(value.size());
  for (std::size_t i = 0; i < value.size();) {
    const char c = value[i];
    const std::size_t n = utf8_sequence_at(value, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER, one per invalid byte
      ++i;
      continue;
    }
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out.append(value.substr(i, n));
    i += n;
  }
  return out;
}

std::string prometheus_text::format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Counts are whole numbers: write them without an exponent, however large.
  if (v == std::floor(v) && std::fabs(v) < 1e18) return fmt::format("{}", static_cast<long long>(v));
  return fmt::format("{}", v);  // shortest form that reads back exactly
}

void prometheus_text::family(std::string_view name, std::string_view type, std::string_view help) {
  out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escape_help(help), name, type);
}

void prometheus_text::sample(std::string_view name, const std::vector<metric_label>& labels, double value) {
  out_ += name;
  if (!labels.empty()) {
    out_ += '{';
    bool first = true;
    for (const auto& l : labels) {
      if (!first) out_ += ',';
      first = false;
      out_ += fmt::format("{}=\"{}\"", l.name, escape_label_value(l.value));
    }
    out_ += '}';
  }
  out_ += ' ';
  out_ += format_value(value);
  out_ += '\n';
}

void prometheus_text::sample(std::string_view name, std::initializer_list<metric_label> labels, double value) {
  sample(name, std::vector<metric_label>(labels), value);
}

void prometheus_text::histogram(std::string_view name, std::string_view help, const histogram_snapshot& h) {
  family(name, "histogram", help);
  const std::string bucket = std::string(name) + "_bucket";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < h.bounds.size(); ++i) {
    cumulative += h.buckets[i];
    std::string le = format_value(h.bounds[i]);
    sample(bucket, {{"le", le}}, static_cast<double>(cumulative));
  }
  sample(bucket, {{"le", "+Inf"}}, static_cast<double>(h.count));
  sample(std::string(name) + "_sum", h.sum);
  sample(std::string(name) + "_count", static_cast<double>(h.count));
}

}  // namespace tandem::broker
