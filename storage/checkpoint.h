#pragma once
// Checkpoint files: a snapshot of the message index so recovery replays only the journal
// after the checkpoint's position instead of the whole history.
//
//   checkpoint-<number:20>.ckpt := magic[8]="TNDMCKPT" version:u32 masked_crc:u32 record*
// framed like journal records (FORMAT.md), with their own record types. A checkpoint is
// valid only if every record checks and it ends with an `end` record whose counts match;
// it is written under a ".tmp" name, synced, renamed into place and the directory synced,
// so a crash leaves either the old or the new checkpoint, never a half one.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "storage/file_system.h"
#include "storage/journal_format.h"
#include "storage/message_index.h"

namespace tandem::storage::checkpoint {

inline constexpr char magic[8] = {'T', 'N', 'D', 'M', 'C', 'K', 'P', 'T'};
inline constexpr std::uint32_t version = 1;
inline constexpr std::size_t file_header_size = 16;
inline constexpr std::size_t messages_per_record = 4096;

enum class record_type : std::uint8_t {
  header = 1,        // number:u64 epoch:u64 covers.segment:u64 covers.offset:u64 next_seq:u64
  containers = 2,    // first_id:u32 n:u32 name:str * n
  messages = 3,      // n:u32 message_entry * n
  subscription = 4,  // as journal subscription_added
  producer = 5,      // producer:str n:u32 producer_seq:u64 * n
  end = 6,           // messages:u64 records:u64 (records before this one)
};
const char* to_string(record_type t);

struct info {
  std::uint64_t number = 0;
  std::uint64_t epoch = 0;
  journal::position covers;  // replay starts here
  std::uint64_t file_bytes = 0;  // load(): the file's size
};

// "checkpoint-<epoch:10>-<number:20>.ckpt": the epoch keeps a stale writer's checkpoint from
// replacing a newer writer's file of the same number.
std::string file_name(std::uint64_t epoch, std::uint64_t number);
bool parse_file_name(std::string_view name, std::uint64_t& epoch, std::uint64_t& number);

// Serialises the index. Runs on the store's thread; the result is written by the writer.
std::string encode(const message_index& index, const info& i);

// Writes `bytes` as checkpoint (epoch, number) in `dir`: tmp file, sync, rename, dir sync.
status write_file(file_system& fs, const std::string& dir, std::uint64_t epoch, std::uint64_t number,
                  const std::string& bytes);

// Reads and fully validates a checkpoint into `index` (which must be empty). On error the
// index content is unspecified and the caller should discard it.
result<info> load(file_system& fs, const std::string& path, message_index& index);

// Visits a checkpoint's records (for tandem-journal): type and payload. Returns records seen,
// or an error describing the first damage.
struct visit_result {
  std::uint64_t records = 0;
  std::uint64_t messages = 0;
  bool complete = false;  // the end record was found and matched
};
result<visit_result> verify(file_system& fs, const std::string& path);

}  // namespace tandem::storage::checkpoint
