#pragma once
// CRC32C (Castagnoli), the checksum of every journal record and checkpoint record.
// Uses the SSE4.2 crc32 instruction when the CPU has it (checked once at run time),
// a table otherwise. Both give identical results.

#include <cstddef>
#include <cstdint>

namespace tandem::storage::crc32c {

// Returns the crc32c of data[0, n) appended to a stream whose crc32c is `crc`.
std::uint32_t extend(std::uint32_t crc, const void* data, std::size_t n);
inline std::uint32_t value(const void* data, std::size_t n) { return extend(0, data, n); }

// Masked form stored on disk (as LevelDB does): computing the CRC of a string that contains
// embedded CRCs is otherwise problematic, so stored CRCs are rotated and offset.
inline constexpr std::uint32_t mask_delta = 0xa282ead8u;
inline std::uint32_t mask(std::uint32_t crc) { return ((crc >> 15) | (crc << 17)) + mask_delta; }
inline std::uint32_t unmask(std::uint32_t masked) {
  std::uint32_t rot = masked - mask_delta;
  return (rot >> 17) | (rot << 15);
}

bool hardware_accelerated();
// The portable table implementation, exposed so a test can compare both paths.
std::uint32_t extend_portable(std::uint32_t crc, const void* data, std::size_t n);

}  // namespace tandem::storage::crc32c
