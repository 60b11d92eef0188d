#pragma once
// A file_system for tests that wraps another one and injects the faults a real disk or NFS
// server produces (the idea of LevelDB's fault_injection_test):
//   - drop_unsynced(): simulates a host crash. Every file written through this wrapper is
//     truncated to the size it had at its last successful sync(), and every file created or
//     renamed into place since the last sync_dir() of its directory is removed.
//   - fail_next(op, n): the next n calls of that kind fail with the given error (EIO default).
//   - set_down(true): every call fails until set_down(false) (storage unreachable).
//   - stall(op) / release(op): calls of that kind block at a gate until released.
//
// Limits of the model (documented so a test does not rely on more): a remove() is applied
// at once and is not undone by drop_unsynced(); overwriting already-synced bytes with
// write_at and then crashing keeps the new bytes.
//
// Thread-safe. The wrapped file_system must outlive this one and every file it opened.

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <system_error>

#include "storage/file_system.h"

namespace tandem::storage {

enum class fault_op { open, read, write, sync, sync_dir, rename, remove, list, stat, truncate, mkdirs, count_ };

class fault_injecting_file_system final : public file_system {
 public:
  explicit fault_injecting_file_system(file_system& inner);

  result<std::unique_ptr<file>> open(const std::string& path, open_mode mode) override;
  status rename(const std::string& from, const std::string& to) override;
  status remove(const std::string& path) override;
  result<std::vector<std::string>> list(const std::string& dir) override;
  result<file_stat> stat(const std::string& path) override;
  status mkdirs(const std::string& dir) override;
  status sync_dir(const std::string& dir) override;
  bool zero_fill_helps() const override { return inner_.zero_fill_helps(); }

  // Host crash: forget everything not made durable. Call with no writer running.
  void drop_unsynced();
  void fail_next(fault_op op, int count, std::error_code code = std::make_error_code(std::errc::io_error));
  void set_down(bool down);
  void stall(fault_op op);
  void release(fault_op op);
  // Blocks until at least `n` calls are waiting at the gate of `op`.
  void wait_stalled(fault_op op, int n);

  std::uint64_t calls(fault_op op) const;  // calls attempted, failed or not

  // Internal, used by the wrapped files.
  status before(fault_op op, const std::string& path);
  void note_synced(const std::string& path, std::uint64_t size);

 private:
  struct tracked {
    std::uint64_t synced_size = 0;
    bool dir_entry_unsynced = false;
  };
  void track_open(const std::string& path, bool created, std::uint64_t size);

  file_system& inner_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, tracked> files_;
  int fail_count_[static_cast<int>(fault_op::count_)] = {};
  std::error_code fail_code_[static_cast<int>(fault_op::count_)];
  bool stalled_[static_cast<int>(fault_op::count_)] = {};
  int waiting_[static_cast<int>(fault_op::count_)] = {};
  std::uint64_t calls_[static_cast<int>(fault_op::count_)] = {};
  bool down_ = false;
};

}  // namespace tandem::storage
