#pragma once
// The journal's byte format: segment file names and headers, record framing, and the payload
// of every record type. storage/FORMAT.md is the human-readable grammar of the same thing;
// keep them in step. All integers are little-endian.
//
//   segment file  := segment_header record*  (then possibly zeros or a torn record)
//   segment_header:= magic[8]="TNDMJRNL" version:u32 epoch:u64 segment:u64 masked_crc:u32
//   record        := masked_crc:u32 length:u32 type:u8 payload[length]
//                    crc = crc32c(length bytes, type byte, payload)

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "storage/store.h"

namespace tandem::storage::journal {

inline constexpr char segment_magic[8] = {'T', 'N', 'D', 'M', 'J', 'R', 'N', 'L'};
inline constexpr std::uint32_t format_version = 1;
inline constexpr std::size_t segment_header_size = 32;
inline constexpr std::size_t record_header_size = 9;
// Larger lengths are garbage (a message is bounded far below this by the broker's limits).
inline constexpr std::uint32_t max_record_payload = 1u << 30;

enum class record_type : std::uint8_t {
  message_added = 1,
  ref_added = 2,
  ref_removed = 3,
  txn_begin = 4,
  txn_commit = 5,
  txn_abort = 6,
  subscription_added = 7,
  subscription_removed = 8,
  epoch_start = 9,
  checkpoint_marker = 10,
  message_relocated = 11,  // a live message rewritten at the head by compaction
  padding = 12,            // fills reserved space that could not be filled (ignored)
};
inline constexpr std::uint8_t max_record_type = 12;
const char* to_string(record_type t);

// Where a record starts: segment number and byte offset inside that segment file.
struct position {
  std::uint64_t segment = 0;
  std::uint64_t offset = 0;
  auto operator<=>(const position&) const = default;
};

struct segment_header {
  std::uint64_t epoch = 0;
  std::uint64_t segment = 0;
};
std::string encode_segment_header(const segment_header& h);
std::optional<segment_header> decode_segment_header(std::string_view bytes);

// "journal-<epoch:10>-<segment:10>.log"
std::string segment_file_name(std::uint64_t epoch, std::uint64_t segment);
bool parse_segment_file_name(std::string_view name, std::uint64_t& epoch, std::uint64_t& segment);

// Framing. begin_record() reserves the header in `out` and returns where the record starts;
// the caller appends the payload; end_record() fills in length and CRC. This lets a body be
// copied exactly once, straight into the write buffer.
std::size_t begin_record(std::string& out);
void end_record(std::string& out, std::size_t start, record_type type);
// Checks the record starting at `p` (at most `avail` bytes available). Returns the payload
// and type when the header is plausible and the CRC matches.
struct record_view {
  record_type type;
  std::string_view payload;
  std::size_t total_size() const { return record_header_size + payload.size(); }
};
std::optional<record_view> check_record(const char* p, std::size_t avail);

// ---- payloads ----
void encode_message(std::string& out, const message_record& m);
result<message_record> decode_message(std::string_view payload);

// What recovery needs of a message without copying its body.
struct message_meta {
  std::uint64_t seq = 0;
  std::uint8_t priority = 4;
  std::int64_t expires_ms = 0;
  std::string_view producer_id;
  std::uint64_t producer_seq = 0;
  std::string_view destination;
  std::vector<std::string_view> containers;
  std::uint32_t size = 0;  // header keys + values + body bytes
  std::uint32_t body_size = 0;
};
bool decode_message_meta(std::string_view payload, message_meta& out);
// Bytes of headers and body, the `size` accounted for a message.
std::uint32_t message_size(const message_record& m);

struct ref_payload {
  std::uint64_t seq = 0;
  std::string container;
};
void encode_ref(std::string& out, std::uint64_t seq, std::string_view container);
bool decode_ref(std::string_view payload, ref_payload& out);

struct txn_payload {
  std::uint64_t txn_id = 0;
  std::uint32_t op_count = 0;  // begin only
};
void encode_txn_begin(std::string& out, std::uint64_t txn_id, std::uint32_t op_count);
void encode_txn_end(std::string& out, std::uint64_t txn_id);
bool decode_txn(std::string_view payload, record_type type, txn_payload& out);

void encode_subscription(std::string& out, const durable_subscription& s);
bool decode_subscription(std::string_view payload, durable_subscription& out);
void encode_subscription_removed(std::string& out, std::string_view container);
bool decode_subscription_removed(std::string_view payload, std::string& container);

// Written first in every segment a writer opens at start-up. `sealed` is where the valid log
// of the previous writer ended as this writer's recovery saw it (FORMAT.md, "Fencing").
struct epoch_start_payload {
  std::uint64_t epoch = 0;
  position sealed;
};
void encode_epoch_start(std::string& out, const epoch_start_payload& e);
bool decode_epoch_start(std::string_view payload, epoch_start_payload& out);

struct checkpoint_marker_payload {
  std::uint64_t checkpoint = 0;  // checkpoint file number
  position covers;               // the checkpoint reflects every record before this
};
void encode_checkpoint_marker(std::string& out, const checkpoint_marker_payload& c);
bool decode_checkpoint_marker(std::string_view payload, checkpoint_marker_payload& out);

// message_relocated := n:u32 container:str * n  length:u32 message_added-payload[length]
//                      zero-padding (compaction reserves space before it reads the old
//                      record; an old record that was itself a relocation shrinks)
// encode_relocated_prefix writes the containers part; the caller appends length + payload.
void encode_relocated_prefix(std::string& out, const std::vector<std::string>& containers);
bool decode_relocated(std::string_view payload, std::vector<std::string_view>& containers,
                      std::string_view& message_payload);

}  // namespace tandem::storage::journal
