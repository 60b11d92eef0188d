#include "stomp/encoder.h"

#include <charconv>

#include "stomp/escape.h"

namespace tandem::stomp {

void encode(const frame& f, version v, std::string& out) { encode(f, f.body, v, out); }

void encode(const frame& f, std::string_view body, version v, std::string& out) {
  const bool escaped = escapes_headers(f.command, v);
  std::size_t size = f.command.size() + body.size() + 32;
  for (const auto& [k, val] : f.headers) size += k.size() + val.size() + 2;
  out.reserve(out.size() + size);

  auto append = [&](std::string_view s, bool is_name) {
    if (escaped) append_escaped(s, v, out);
    else append_unescaped(s, is_name, out);
  };
  char digits[24];
  const auto body_size = std::to_chars(digits, digits + sizeof digits, body.size());
  const std::string_view length(digits, body_size.ptr - digits);

  out += f.command;
  out += '\n';
  bool wrote_length = false;
  for (const auto& [k, val] : f.headers) {
    if (k == "content-length") {
      if (wrote_length) continue;
      wrote_length = true;
      out += "content-length:";
      out += length;
      out += '\n';
      continue;
    }
    append(k, true);
    out += ':';
    append(val, false);
    out += '\n';
  }
  if (!wrote_length && !body.empty()) {
    out += "content-length:";
    out += length;
    out += '\n';
  }
  out += '\n';
  out += body;
  out += '\0';
}

std::string encode(const frame& f, version v) {
  std::string out;
  encode(f, v, out);
  return out;
}

}  // namespace tandem::stomp
