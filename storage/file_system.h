#pragma once
// The small interface through which the journal (and the lease) touch the shared directory.
// Everything storage does to disk goes through it, so a test can substitute a
// fault-injecting implementation, and a user-space NFS backend (libnfs) can be added later as
// one more implementation without touching the journal.
//
// Paths are '/'-separated and relative to the file system's root (an implementation decides
// what the root is: a local directory, an NFS export).
//
// Durability contract (the POSIX one, made explicit):
//   - file::write_at / append put bytes in the file; they may be lost in a host crash until
//     file::sync returns without error.
//   - Creating, renaming or removing a file changes its directory; that change may be lost in
//     a host crash until sync_dir(parent) returns without error.
//
// Errors: every call returns tandem::error / tandem::result<T> whose code is the errno
// (std::system_category, compare with std::errc::...) and whose message names the operation
// and the path ("fdatasync /data/journal-...").
//
// Threading: a file_system may be used from several threads at once. One `file` object is
// used by one thread at a time (the journal writer owns the active segment; readers open
// their own handles).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"

namespace tandem::storage {

// A successful call returns a default-constructed (false) status.
using status = tandem::error;

enum class open_mode {
  read_only,         // must exist
  read_write,        // must exist
  create,            // read-write; created empty when missing, kept when present
  create_exclusive,  // read-write; fails with std::errc::file_exists if present. Atomic: of two
                     // contenders exactly one succeeds (O_CREAT|O_EXCL; NFS exclusive create).
};

struct file_stat {
  std::uint64_t size = 0;
  bool is_directory = false;
  std::int64_t mtime_ns = 0;
};

class file {
 public:
  virtual ~file() = default;
  file() = default;
  file(const file&) = delete;
  file& operator=(const file&) = delete;

  // Reads up to `n` bytes at `offset`. Returns fewer only at end of file.
  virtual result<std::size_t> read_at(std::uint64_t offset, void* buf, std::size_t n) = 0;
  // Writes all `n` bytes at `offset` (extending the file if needed).
  virtual status write_at(std::uint64_t offset, const void* data, std::size_t n) = 0;
  // Writes all `n` bytes at the current end of file.
  virtual status append(const void* data, std::size_t n) = 0;
  // Makes the file's data durable (fdatasync).
  virtual status sync() = 0;
  virtual result<std::uint64_t> size() = 0;
  virtual status truncate(std::uint64_t size) = 0;
  virtual const std::string& path() const = 0;
};

class file_system {
 public:
  virtual ~file_system() = default;
  file_system() = default;
  file_system(const file_system&) = delete;
  file_system& operator=(const file_system&) = delete;

  virtual result<std::unique_ptr<file>> open(const std::string& path, open_mode mode) = 0;
  // Atomically replaces `to` with `from` (POSIX rename).
  virtual status rename(const std::string& from, const std::string& to) = 0;
  virtual status remove(const std::string& path) = 0;
  // Names (not paths) of the entries of `dir`, excluding "." and "..", in no particular order.
  virtual result<std::vector<std::string>> list(const std::string& dir) = 0;
  virtual result<file_stat> stat(const std::string& path) = 0;
  // Creates `dir` and its missing parents; succeeds if it already exists.
  virtual status mkdirs(const std::string& dir) = 0;
  // Makes creations, renames and removals inside `dir` durable (fsync of the directory).
  virtual status sync_dir(const std::string& dir) = 0;
  // Whether writing zeros ahead of the data (the journal's preallocation) makes later syncs
  // cheaper. Local disks: yes (an fdatasync that need not change the file size commits no
  // metadata). The nfs backend says no: a COMMIT costs the same either way, and the zeros cost
  // WRITEs (on NFSv4, 266 of them per MiB, one round trip each).
  virtual bool zero_fill_helps() const { return true; }
};

// Local disk (or a kernel NFS mount): paths are resolved under `root` ("" = as given).
class posix_file_system final : public file_system {
 public:
  explicit posix_file_system(std::string root = {});
  result<std::unique_ptr<file>> open(const std::string& path, open_mode mode) override;
  status rename(const std::string& from, const std::string& to) override;
  status remove(const std::string& path) override;
  result<std::vector<std::string>> list(const std::string& dir) override;
  result<file_stat> stat(const std::string& path) override;
  status mkdirs(const std::string& dir) override;
  status sync_dir(const std::string& dir) override;

 private:
  std::string resolve(const std::string& path) const;
  std::string root_;
};

// Joins a directory and a name with exactly one '/'.
std::string join_path(const std::string& dir, const std::string& name);

}  // namespace tandem::storage
