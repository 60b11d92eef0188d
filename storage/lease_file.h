#pragma once
// The lease's on-disk record and epoch file names (format in storage/LEASE.md).
//
// The lease directory holds one file per epoch, `epoch-<N as 20 zero-padded digits>`, so names
// sort like numbers and a listing shows the history. The holder of epoch N rewrites, at offset
// 0 of its file, one line of text (an operator can `cat` it):
//
//   tandem-lease v1 epoch=7 counter=42 released=0 holder=node-a ha=10.0.0.5:61617 crc32c=1a2b3c4d\n
//
// optionally with the holder's console address after `ha` (" console=http://10.0.0.5:8161/").
// A record without it is written exactly as before the field existed and still decodes.
//
// The checksum covers every byte before " crc32c=". A reader takes the bytes up to the first
// newline; anything after it (a longer record from earlier, never the case in practice since
// the counter only gains digits) is ignored. A missing, empty, torn or garbled record decodes
// to nullopt: the lease treats that like "no change of the heartbeat".

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "storage/epoch.h"
#include "storage/file_system.h"

namespace tandem::storage {

struct lease_record {
  epoch_t epoch{0};
  std::uint64_t counter = 0;  // heartbeat: strictly increases with every write by the holder
  bool released = false;      // set by a graceful release(): claim at once
  std::string holder;         // node name: non-empty, no whitespace or '=' (validated in options)
  std::string ha_address;     // holder's HA address for the fast path; may be empty
  std::string console;        // holder's console URL (http.public_url); may be empty

  bool operator==(const lease_record&) const = default;
};

// Largest record the reader accepts; the holder name and address are limited so a record
// always fits (and fits one NFSv4 WRITE of libnfs, see shared/NFS.md).
inline constexpr std::size_t max_lease_record_size = 1024;
inline constexpr std::size_t max_lease_field_size = 255;

std::string encode_lease_record(const lease_record& r);
std::optional<lease_record> decode_lease_record(std::string_view bytes);

// True when `s` may appear as a holder name, HA address or console URL in a record.
bool valid_lease_field(std::string_view s);

std::string epoch_file_name(epoch_t e);                          // "epoch-00000000000000000007"
std::optional<epoch_t> parse_epoch_file_name(std::string_view name);  // nullopt for other names

// The newest epoch in `dir` (nullopt when there is none). A missing directory is an error.
result<std::optional<epoch_t>> newest_epoch(file_system& fs, const std::string& dir);

// Opens, reads and closes the record of epoch `e` (a fresh open each time: NFS close-to-open
// consistency then shows the holder's last synced write). nullopt when garbled or empty;
// an error when the file cannot be opened or read (including std::errc::no_such_file_or_directory).
result<std::optional<lease_record>> read_lease_record(file_system& fs, const std::string& dir, epoch_t e);

// Writes `r` at offset 0 of `f` and syncs it.
status write_lease_record(file& f, const lease_record& r);

}  // namespace tandem::storage
