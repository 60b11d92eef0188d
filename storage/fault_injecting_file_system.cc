#include "storage/fault_injecting_file_system.h"

namespace tandem::storage {
namespace {

int idx(fault_op op) { return static_cast<int>(op); }

std::string parent_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

std::string trim_slashes(std::string p) {
  while (!p.empty() && p.back() == '/') p.pop_back();
  return p;
}

class fault_file final : public file {
 public:
  fault_file(fault_injecting_file_system& fs, std::unique_ptr<file> inner, std::string name)
      : fs_(fs), inner_(std::move(inner)), name_(std::move(name)) {}

  result<std::size_t> read_at(std::uint64_t offset, void* buf, std::size_t n) override {
    if (auto s = fs_.before(fault_op::read, inner_->path())) return s;
    return inner_->read_at(offset, buf, n);
  }
  status write_at(std::uint64_t offset, const void* data, std::size_t n) override {
    if (auto s = fs_.before(fault_op::write, inner_->path())) return s;
    return inner_->write_at(offset, data, n);
  }
  status append(const void* data, std::size_t n) override {
    if (auto s = fs_.before(fault_op::write, inner_->path())) return s;
    return inner_->append(data, n);
  }
  status sync() override {
    if (auto s = fs_.before(fault_op::sync, inner_->path())) return s;
    if (auto s = inner_->sync()) return s;
    auto sz = inner_->size();
    if (!sz) return sz.err();
    fs_.note_synced(name_, *sz);
    return {};
  }
  result<std::uint64_t> size() override {
    if (auto s = fs_.before(fault_op::stat, inner_->path())) return s;
    return inner_->size();
  }
  status truncate(std::uint64_t size) override {
    if (auto s = fs_.before(fault_op::truncate, inner_->path())) return s;
    return inner_->truncate(size);
  }
  const std::string& path() const override { return inner_->path(); }

 private:
  fault_injecting_file_system& fs_;
  std::unique_ptr<file> inner_;
  std::string name_;
};

}  // namespace

fault_injecting_file_system::fault_injecting_file_system(file_system& inner) : inner_(inner) {}

status fault_injecting_file_system::before(fault_op op, const std::string& path) {
  std::unique_lock lk(mu_);
  ++calls_[idx(op)];
  if (stalled_[idx(op)]) {
    ++waiting_[idx(op)];
    cv_.notify_all();
    cv_.wait(lk, [&] { return !stalled_[idx(op)]; });
    --waiting_[idx(op)];
  }
  if (down_) return status{std::make_error_code(std::errc::io_error), "injected: storage down: " + path};
  if (fail_count_[idx(op)] > 0) {
    --fail_count_[idx(op)];
    return status{fail_code_[idx(op)], "injected failure: " + path};
  }
  return {};
}

void fault_injecting_file_system::note_synced(const std::string& path, std::uint64_t size) {
  std::lock_guard lk(mu_);
  files_[path].synced_size = size;
}

void fault_injecting_file_system::track_open(const std::string& path, bool created, std::uint64_t size) {
  std::lock_guard lk(mu_);
  auto it = files_.find(path);
  if (it != files_.end()) return;
  files_[path] = tracked{created ? 0 : size, created};
}

result<std::unique_ptr<file>> fault_injecting_file_system::open(const std::string& path, open_mode mode) {
  if (auto s = before(fault_op::open, path)) return s;
  bool existed = static_cast<bool>(inner_.stat(path));
  auto f = inner_.open(path, mode);
  if (!f) return f.err();
  if (mode != open_mode::read_only) {
    auto sz = (*f)->size();
    track_open(path, !existed, sz ? *sz : 0);
  }
  return std::unique_ptr<file>(std::make_unique<fault_file>(*this, std::move(*f), path));
}

status fault_injecting_file_system::rename(const std::string& from, const std::string& to) {
  if (auto s = before(fault_op::rename, from)) return s;
  if (auto s = inner_.rename(from, to)) return s;
  std::lock_guard lk(mu_);
  tracked t;
  if (auto it = files_.find(from); it != files_.end()) {
    t = it->second;
    files_.erase(it);
  } else if (auto st = inner_.stat(to)) {
    t.synced_size = st->size;
  }
  t.dir_entry_unsynced = true;  // the new name exists only once the directory is synced
  files_[to] = t;
  return {};
}

status fault_injecting_file_system::remove(const std::string& path) {
  if (auto s = before(fault_op::remove, path)) return s;
  if (auto s = inner_.remove(path)) return s;
  std::lock_guard lk(mu_);
  files_.erase(path);
  return {};
}

result<std::vector<std::string>> fault_injecting_file_system::list(const std::string& dir) {
  if (auto s = before(fault_op::list, dir)) return s;
  return inner_.list(dir);
}

result<file_stat> fault_injecting_file_system::stat(const std::string& path) {
  if (auto s = before(fault_op::stat, path)) return s;
  return inner_.stat(path);
}

status fault_injecting_file_system::mkdirs(const std::string& dir) {
  if (auto s = before(fault_op::mkdirs, dir)) return s;
  return inner_.mkdirs(dir);
}

status fault_injecting_file_system::sync_dir(const std::string& dir) {
  if (auto s = before(fault_op::sync_dir, dir)) return s;
  if (auto s = inner_.sync_dir(dir)) return s;
  std::lock_guard lk(mu_);
  std::string d = trim_slashes(dir);
  for (auto& [path, t] : files_) {
    if (parent_of(path) == d) t.dir_entry_unsynced = false;
  }
  return {};
}

void fault_injecting_file_system::drop_unsynced() {
  std::lock_guard lk(mu_);
  for (auto& [path, t] : files_) {
    if (t.dir_entry_unsynced) {
      (void)inner_.remove(path);
      continue;
    }
    auto f = inner_.open(path, open_mode::read_write);
    if (!f) continue;
    auto sz = (*f)->size();
    if (sz && *sz > t.synced_size) (void)(*f)->truncate(t.synced_size);
  }
  files_.clear();
}

void fault_injecting_file_system::fail_next(fault_op op, int count, std::error_code code) {
  std::lock_guard lk(mu_);
  fail_count_[idx(op)] = count;
  fail_code_[idx(op)] = code;
}

void fault_injecting_file_system::set_down(bool down) {
  std::lock_guard lk(mu_);
  down_ = down;
}

void fault_injecting_file_system::stall(fault_op op) {
  std::lock_guard lk(mu_);
  stalled_[idx(op)] = true;
}

void fault_injecting_file_system::release(fault_op op) {
  std::lock_guard lk(mu_);
  stalled_[idx(op)] = false;
  cv_.notify_all();
}

void fault_injecting_file_system::wait_stalled(fault_op op, int n) {
  std::unique_lock lk(mu_);
  cv_.wait(lk, [&] { return waiting_[idx(op)] >= n; });
}

std::uint64_t fault_injecting_file_system::calls(fault_op op) const {
  std::lock_guard lk(mu_);
  return calls_[idx(op)];
}

}  // namespace tandem::storage
