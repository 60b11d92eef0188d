#pragma once
// Shared helpers for storage tests: a scratch directory, byte-level damage, and a waiter
// for completions that run on the writer thread.

#include <algorithm>
#include <condition_variable>
#include <functional>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <system_error>
#include <vector>

#include "storage/file_system.h"

namespace tandem::storage::test {

// A fresh directory under /tmp, removed with its content at scope exit.
class scratch_dir {
 public:
  scratch_dir() {
    std::string tmpl = "/tmp/tandem-storage-test-XXXXXX";
    path_ = ::mkdtemp(tmpl.data());
  }
  ~scratch_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  std::vector<std::string> names(const std::string& prefix) const {
    std::vector<std::string> out;
    for (auto& e : std::filesystem::directory_iterator(path_)) {
      auto n = e.path().filename().string();
      if (n.rfind(prefix, 0) == 0) out.push_back(n);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  std::string path_;
};

inline std::uint64_t file_size(const std::string& path) { return std::filesystem::file_size(path); }

inline void corrupt_byte(const std::string& path, std::uint64_t offset) {
  posix_file_system fs;
  auto f = fs.open(path, open_mode::read_write);
  char c = 0;
  (void)(*f)->read_at(offset, &c, 1);
  c = static_cast<char>(c ^ 0x5a);
  (void)(*f)->write_at(offset, &c, 1);
}

inline void truncate_tail(const std::string& path, std::uint64_t new_size) {
  std::filesystem::resize_file(path, new_size);
}

// Counts completions and remembers their errors; wait_for(n) blocks until n have run.
class completions {
 public:
  std::function<void(std::error_code)> make() {
    return [this](std::error_code ec) {
      std::lock_guard lk(mu_);
      ++count_;
      if (ec) ++errors_;
      codes_.push_back(ec);
      cv_.notify_all();
    };
  }
  void wait_for(std::size_t n) {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return count_ >= n; });
  }
  std::size_t count() const {
    std::lock_guard lk(mu_);
    return count_;
  }
  std::size_t errors() const {
    std::lock_guard lk(mu_);
    return errors_;
  }
  std::vector<std::error_code> codes() const {
    std::lock_guard lk(mu_);
    return codes_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::size_t count_ = 0, errors_ = 0;
  std::vector<std::error_code> codes_;
};

}  // namespace tandem::storage::test
