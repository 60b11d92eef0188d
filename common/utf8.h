#pragma once
// UTF-8 well-formedness, for text that came from clients (any bytes) and goes where only UTF-8
// is valid (the Prometheus text format) or where control characters must not pass (a terminal).

#include <cstddef>
#include <string_view>

namespace tandem {

// Length (1-4) of the well-formed UTF-8 sequence that starts at `s[i]`, or 0 when none does: a
// stray continuation byte, a lead byte never used, a sequence cut short, an overlong form, a
// surrogate, or a code point past U+10FFFF (Unicode's table 3-7, what strict decoders check).
// REQUIRES: i < s.size().
inline std::size_t utf8_sequence_at(std::string_view s, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char lead = byte(0);
  if (lead < 0x80) return 1;
  std::size_t n = 0;
  unsigned char lo = 0x80, hi = 0xbf;  // the range of the second byte
  if (lead >= 0xc2 && lead <= 0xdf) n = 2;
  else if (lead == 0xe0) n = 3, lo = 0xa0;
  else if (lead == 0xed) n = 3, hi = 0x9f;
  else if (lead >= 0xe1 && lead <= 0xef) n = 3;
  else if (lead == 0xf0) n = 4, lo = 0x90;
  else if (lead == 0xf4) n = 4, hi = 0x8f;
  else if (lead >= 0xf1 && lead <= 0xf3) n = 4;
  else return 0;
  if (i + n > s.size() || byte(1) < lo || byte(1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k)
    if ((byte(k) & 0xc0) != 0x80) return 0;
  return n;
}

}  // namespace tandem
