#include "storage/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#include <nmmintrin.h>
#endif

namespace tandem::storage::crc32c {
namespace {

constexpr std::uint32_t poly = 0x82f63b78u;  // reflected Castagnoli polynomial

// Slicing-by-8 tables for the portable path.
struct tables {
  std::array<std::array<std::uint32_t, 256>, 8> t{};
  tables() {
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ poly : c >> 1;
      t[0][i] = c;
    }
    for (std::uint32_t i = 0; i < 256; ++i) {
      for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
    }
  }
};
const tables& table() {
  static const tables t;
  return t;
}

std::uint32_t extend_table(std::uint32_t crc, const unsigned char* p, std::size_t n) {
  const auto& t = table().t;
  std::uint32_t c = ~crc;
  while (n >= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);  // little-endian host assumed (x86-64, aarch64)
    w ^= c;
    c = t[7][w & 0xff] ^ t[6][(w >> 8) & 0xff] ^ t[5][(w >> 16) & 0xff] ^ t[4][(w >> 24) & 0xff] ^
        t[3][(w >> 32) & 0xff] ^ t[2][(w >> 40) & 0xff] ^ t[1][(w >> 48) & 0xff] ^ t[0][w >> 56];
    p += 8;
    n -= 8;
  }
  while (n--) c = t[0][(c ^ *p++) & 0xff] ^ (c >> 8);
  return ~c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint32_t extend_sse42(std::uint32_t crc, const unsigned char* p,
                                                               std::size_t n) {
  std::uint64_t c = ~crc;
  while (n >= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    c = _mm_crc32_u64(c, w);
    p += 8;
    n -= 8;
  }
  std::uint32_t c32 = static_cast<std::uint32_t>(c);
  while (n--) c32 = _mm_crc32_u8(c32, *p++);
  return ~c32;
}

bool detect_sse42() {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  return (c & bit_SSE4_2) != 0;
}
#endif

const bool g_hw = [] {
#if defined(__x86_64__)
  return detect_sse42();
#else
  return false;
#endif
}();

}  // namespace

bool hardware_accelerated() { return g_hw; }

std::uint32_t extend(std::uint32_t crc, const void* data, std::size_t n) {
  auto p = static_cast<const unsigned char*>(data);
#if defined(__x86_64__)
  if (g_hw) return extend_sse42(crc, p, n);
#endif
  return extend_table(crc, p, n);
}

std::uint32_t extend_portable(std::uint32_t crc, const void* data, std::size_t n) {
  return extend_table(crc, static_cast<const unsigned char*>(data), n);
}

}  // namespace tandem::storage::crc32c
