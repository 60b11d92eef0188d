#pragma once
// Reads the records of one segment file, surviving any garbage.
//
// End of log vs corruption: when the bytes at the read position are not a valid record
// (bad CRC, impossible length or type, zeros), the reader scans forward byte by byte for the
// next position where a complete record with a correct CRC starts.
//   - If there is none, the invalid bytes are the torn tail of the log (a write cut short by
//     a crash, or zero-filled preallocated space): end of log, not an error.
//   - If there is one, the bytes in between are a corrupt region: reported once (log::warn
//     with segment and offset), counted, skipped; reading resumes at the valid record.
// We scan rather than trust the bad record's length because the length field may itself be
// the corrupted part. The price is that after corruption a record-shaped byte sequence
// inside a message body could be taken for a record; a CRC match makes that unlikely.
//
// Not thread-safe; one reader per thread. The segment is read into memory whole.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "storage/file_system.h"
#include "storage/journal_format.h"

namespace tandem::storage::journal {

struct corrupt_region {
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

class segment_reader {
 public:
  // Reads the whole file. An unreadable file is an error; a bad header is not (see header()).
  static result<segment_reader> open(file_system& fs, const std::string& path, std::uint64_t segment_number);

  // The decoded header, or nullopt when it is missing or fails its CRC (the reader then
  // still scans for records after where the header would end, and counts a corrupt region
  // unless the file is empty or all zeros).
  const std::optional<segment_header>& header() const { return header_; }
  std::uint64_t file_size() const { return data_.size(); }

  struct entry {
    position pos;
    record_type type;
    std::string_view payload;  // valid until the reader is destroyed
    std::size_t size;          // header + payload bytes
  };
  // Starts reading at `offset` (a record boundary, e.g. a checkpoint's position).
  void seek(std::uint64_t offset) { offset_ = offset; }
  // The next valid record, or false at the end of the log.
  bool next(entry& out);

  std::uint64_t valid_end() const { return valid_end_; }  // just past the last valid record
  const std::vector<corrupt_region>& corruptions() const { return corruptions_; }
  const std::string& path() const { return path_; }

 private:
  segment_reader() = default;
  bool all_zero(std::uint64_t from) const;

  std::string path_;
  std::uint64_t segment_ = 0;
  std::string data_;
  std::optional<segment_header> header_;
  std::uint64_t offset_ = segment_header_size;
  std::uint64_t valid_end_ = segment_header_size;
  std::vector<corrupt_region> corruptions_;
};

}  // namespace tandem::storage::journal
