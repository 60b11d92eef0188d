#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "storage/file_system.h"

namespace tandem::storage {
namespace {

status errno_status(const char* op, const std::string& path) {
  int e = errno;
  return status{std::error_code(e, std::system_category()), std::string(op) + " " + path};
}

class posix_file final : public file {
 public:
  posix_file(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~posix_file() override { ::close(fd_); }

  result<std::size_t> read_at(std::uint64_t offset, void* buf, std::size_t n) override {
    std::size_t done = 0;
    while (done < n) {
      ssize_t r = ::pread(fd_, static_cast<char*>(buf) + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        return errno_status("pread", path_);
      }
      if (r == 0) break;
      done += static_cast<std::size_t>(r);
    }
    return done;
  }

  status write_at(std::uint64_t offset, const void* data, std::size_t n) override {
    std::size_t done = 0;
    while (done < n) {
      ssize_t r = ::pwrite(fd_, static_cast<const char*>(data) + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        return errno_status("pwrite", path_);
      }
      done += static_cast<std::size_t>(r);
    }
    return {};
  }

  status append(const void* data, std::size_t n) override {
    auto sz = size();
    if (!sz) return sz.err();
    return write_at(*sz, data, n);
  }

  status sync() override {
    if (::fdatasync(fd_) != 0) return errno_status("fdatasync", path_);
    return {};
  }

  result<std::uint64_t> size() override {
    struct ::stat st;
    if (::fstat(fd_, &st) != 0) return errno_status("fstat", path_);
    return static_cast<std::uint64_t>(st.st_size);
  }

  status truncate(std::uint64_t size) override {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) return errno_status("ftruncate", path_);
    return {};
  }

  const std::string& path() const override { return path_; }

 private:
  int fd_;
  std::string path_;
};

}  // namespace

std::string join_path(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  if (name.empty()) return dir;
  if (dir.back() == '/') return name.front() == '/' ? dir + name.substr(1) : dir + name;
  return name.front() == '/' ? dir + name : dir + "/" + name;
}

posix_file_system::posix_file_system(std::string root) : root_(std::move(root)) {}

std::string posix_file_system::resolve(const std::string& path) const {
  if (root_.empty()) return path.empty() ? std::string(".") : path;
  return join_path(root_, path);
}

result<std::unique_ptr<file>> posix_file_system::open(const std::string& path, open_mode mode) {
  std::string p = resolve(path);
  int flags = O_CLOEXEC;
  switch (mode) {
    case open_mode::read_only: flags |= O_RDONLY; break;
    case open_mode::read_write: flags |= O_RDWR; break;
    case open_mode::create: flags |= O_RDWR | O_CREAT; break;
    case open_mode::create_exclusive: flags |= O_RDWR | O_CREAT | O_EXCL; break;
  }
  int fd = ::open(p.c_str(), flags, 0644);
  if (fd < 0) return errno_status("open", p);
  return std::unique_ptr<file>(std::make_unique<posix_file>(fd, p));
}

status posix_file_system::rename(const std::string& from, const std::string& to) {
  std::string f = resolve(from), t = resolve(to);
  if (::rename(f.c_str(), t.c_str()) != 0) return errno_status("rename", f + " -> " + t);
  return {};
}

status posix_file_system::remove(const std::string& path) {
  std::string p = resolve(path);
  if (::unlink(p.c_str()) != 0) return errno_status("unlink", p);
  return {};
}

result<std::vector<std::string>> posix_file_system::list(const std::string& dir) {
  std::string p = resolve(dir);
  DIR* d = ::opendir(p.c_str());
  if (!d) return errno_status("opendir", p);
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(std::move(n));
  }
  ::closedir(d);
  return names;
}

result<file_stat> posix_file_system::stat(const std::string& path) {
  std::string p = resolve(path);
  struct ::stat st;
  if (::stat(p.c_str(), &st) != 0) return errno_status("stat", p);
  file_stat out;
  out.size = static_cast<std::uint64_t>(st.st_size);
  out.is_directory = S_ISDIR(st.st_mode);
  out.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  return out;
}

status posix_file_system::mkdirs(const std::string& dir) {
  std::string p = resolve(dir);
  for (std::size_t i = 1; i <= p.size(); ++i) {
    if (i != p.size() && p[i] != '/') continue;
    std::string prefix = p.substr(0, i);
    if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) return errno_status("mkdir", prefix);
  }
  return {};
}

status posix_file_system::sync_dir(const std::string& dir) {
  std::string p = resolve(dir);
  int fd = ::open(p.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_status("open directory", p);
  int rc = ::fsync(fd);
  status s;
  if (rc != 0) s = errno_status("fsync directory", p);
  ::close(fd);
  return s;
}

}  // namespace tandem::storage
