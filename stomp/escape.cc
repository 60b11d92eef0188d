#include "stomp/escape.h"

namespace tandem::stomp {

bool escapes_headers(std::string_view command, version v) {
  if (v == version::v1_0) return false;
  return command != "CONNECT" && command != "STOMP" && command != "CONNECTED";
}

void append_escaped(std::string_view s, version v, std::string& out) {
  std::size_t run = 0;  // start of the pending run of bytes that need no escape
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const char* esc = nullptr;
    switch (c) {
      case '\n': esc = "\\n"; break;
      case ':': esc = "\\c"; break;
      case '\0': esc = " "; break;  // no escape exists; a raw NUL would end the frame
      case '\\': esc = "\\\\"; break;
      case '\r':
        // 1.1 has no escape for CR; a raw CR is unambiguous except right before the EOL.
        if (v == version::v1_2) esc = "\\r";
        else if (i + 1 == s.size()) esc = " ";
        else continue;
        break;
      default: continue;
    }
    out.append(s.data() + run, i - run);
    out.append(esc);
    run = i + 1;
  }
  out.append(s.data() + run, s.size() - run);
}

void append_unescaped(std::string_view s, bool is_name, std::string& out) {
  const std::size_t start = out.size();
  out.append(s);
  for (std::size_t i = start; i < out.size(); ++i) {
    char& c = out[i];
    if (c == '\n' || c == '\r' || c == '\0') c = ' ';
    else if (is_name && c == ':') c = '_';
  }
}

}  // namespace tandem::stomp
