#include "storage/nfs_file_system.h"

#include <fcntl.h>
#include <nfsc/libnfs.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <mutex>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "storage/nfs_connection.h"

namespace tandem::storage {
namespace {

using nfs_detail::clock;
using nfs_detail::connection;
using nfs_detail::failure;
using nfs_detail::nfs_path;
using nfs_detail::shared_state;

// libnfs 4.0.0 fails NFSv4 WRITEs above 3944 bytes ("Failed to encode COMPOUND4args").
constexpr std::size_t nfs4_max_write = 3944;
constexpr std::size_t max_transfer = 1 << 20;

std::size_t write_chunk(const shared_state& st, connection& c) {
  if (st.cfg.version == 4) return nfs4_max_write;
  auto m = static_cast<std::size_t>(nfs_get_writemax(c.ctx()));
  return std::clamp<std::size_t>(m, 4096, max_transfer);
}

std::size_t read_chunk(const shared_state& st, connection& c) {
  auto m = static_cast<std::size_t>(nfs_get_readmax(c.ctx()));
  // libnfs 4.0.0 learns no read size on NFSv4 (0): asking for 4 KiB per READ made a journal
  // recovery one round trip per 4 KiB (30 s for 1.2 MiB at 100 ms). A larger READ is safe: the
  // server answers with at most its own maximum and read_at() continues after a short read.
  if (st.cfg.version == 4 && m == 0) m = max_transfer;
  return std::clamp<std::size_t>(m, 4096, max_transfer);
}

// Runs one directory-level call on a borrowed connection. `fn(connection&)` returns libnfs's
// int (negative errno on failure). Retried once on a fresh connection when `idempotent` and
// the connection broke quickly (a timeout is reported at once: the server is not answering).
template <typename F>
status run(shared_state& st, const char* op, const std::string& shown, bool idempotent, F&& fn) {
  for (int attempt = 0;; ++attempt) {
    auto c = st.take();
    if (!c) return status{c.err().code, fmt::format("nfs {} {}: {}", op, shown, c.err().message)};
    auto started = clock::now();
    int rc = fn(**c);
    if (rc >= 0) {
      st.give_back(std::move(*c));
      return {};
    }
    failure f = nfs_detail::translate(st.cfg, c->get(), op, shown, rc, started);
    if (!f.connection_lost) {
      st.give_back(std::move(*c));
      return f.error;
    }
    st.discard(std::move(*c));
    if (f.timed_out || !idempotent || attempt > 0) return f.error;
  }
}

// The temporary names of exclusive_create: an artifact of this backend, never listed.
bool is_create_temp(const std::string& name) {
  static constexpr std::string_view suffix = ".creating";
  return name.size() > suffix.size() + 1 && name.front() == '.' &&
         name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Exclusive create that stays atomic when two contexts of one process race: a file under a
// unique temporary name, then LINK to the wanted name (LINK fails with EEXIST if the name
// exists, on every NFS version), then UNLINK of the temporary name. NFS exclusive create
// itself (OPEN/CREATE with a verifier) was seen to let two racing libnfs 4.0.0 contexts of one
// process both succeed (NFSv4, ~1 in 600 races under load; presumably equal create verifiers,
// which the server must treat as a retransmission).
// On success `fh` is open on `kept`; `kept` is null when the connection broke after the file
// was made (the file reopens itself by path on first use).
status exclusive_create(shared_state& st, const std::string& path, std::unique_ptr<connection>& kept, nfsfh*& fh) {
  static std::atomic<std::uint64_t> counter{0};
  static const std::uint64_t salt = [] {
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  }();
  const std::string p = nfs_path(path);
  auto slash = p.rfind('/');
  const std::string tmp = fmt::format("{}/.{}.{:x}-{:x}-{}.creating", p.substr(0, slash), p.substr(slash + 1), salt,
                                      static_cast<unsigned>(::getpid()), counter.fetch_add(1));
  auto c = st.take();
  if (!c) return status{c.err().code, fmt::format("nfs create {}: {}", path, c.err().message)};
  connection& conn = **c;
  auto fail = [&](const char* op, int rc, clock::time_point started) {
    failure f = nfs_detail::translate(st.cfg, &conn, op, path, rc, started);
    if (f.connection_lost) {
      st.discard(std::move(*c));
    } else {
      st.give_back(std::move(*c));
    }
    return f.error;
  };
  auto started = clock::now();
  int rc = nfs_open2(conn.ctx(), tmp.c_str(), O_RDWR | O_CREAT | O_EXCL, 0644, &fh);
  if (rc != 0) return fail("create", rc, started);
  // (The new file's mtime holds the create verifier until the first write; nfs_utimes by
  // path is not used to fix it: on NFSv4 it breaks the open-owner sequence of this context.)
  started = clock::now();
  rc = nfs_link(conn.ctx(), tmp.c_str(), p.c_str());
  if (rc != 0) {
    failure f = nfs_detail::translate(st.cfg, &conn, "create", path, rc, started);
    if (!f.connection_lost) {
      (void)nfs_close(conn.ctx(), fh);
      (void)nfs_unlink(conn.ctx(), tmp.c_str());
      st.give_back(std::move(*c));
    } else {
      st.discard(std::move(*c));  // the temporary name stays behind; harmless
    }
    fh = nullptr;
    return f.error;
  }
  started = clock::now();
  rc = nfs_unlink(conn.ctx(), tmp.c_str());
  if (rc != 0 && nfs_detail::translate(st.cfg, &conn, "create", path, rc, started).connection_lost) {
    st.discard(std::move(*c));  // the file is ours; it reopens by path on first use
    fh = nullptr;
    return {};
  }
  kept = std::move(*c);
  return {};
}

class nfs_file final : public file {
 public:
  nfs_file(std::shared_ptr<shared_state> st, std::string path, int reopen_flags, std::unique_ptr<connection> c,
           nfsfh* fh)
      : st_(std::move(st)), path_(std::move(path)), reopen_flags_(reopen_flags), conn_(std::move(c)), fh_(fh) {}

  ~nfs_file() override {
    if (!conn_) return;
    // NFSv4 CLOSE releases the open state; bounded by the timeout like every call.
    if (nfs_close(conn_->ctx(), fh_) == 0) {
      st_->give_back(std::move(conn_));
    } else {
      st_->discard(std::move(conn_));
    }
  }

  result<std::size_t> read_at(std::uint64_t offset, void* buf, std::size_t n) override {
    std::lock_guard lock(mu_);
    std::size_t done = 0;
    bool eof = false;
    while (done < n && !eof) {
      status s = call("read", true, [&](connection& c, nfsfh* fh) {
        std::size_t want = std::min(n - done, read_chunk(*st_, c));
        int r = nfs_pread(c.ctx(), fh, offset + done, want, static_cast<char*>(buf) + done);
        if (r == 0) eof = true;
        if (r > 0) done += static_cast<std::size_t>(r);
        return r;
      });
      if (s) return s;
    }
    return done;
  }

  status write_at(std::uint64_t offset, const void* data, std::size_t n) override {
    std::lock_guard lock(mu_);
    return write_locked(offset, data, n);
  }

  status append(const void* data, std::size_t n) override {
    std::lock_guard lock(mu_);
    auto sz = size_locked();
    if (!sz) return sz.err();
    return write_locked(*sz, data, n);
  }

  status sync() override {
    std::lock_guard lock(mu_);
    if (lost_unsynced_)
      return status{std::make_error_code(std::errc::io_error),
                    fmt::format("nfs fsync {}: the connection to the server was lost while writes were not yet "
                                "committed; they may be gone (server {})",
                                path_, st_->cfg.server)};
    // Not retried: a COMMIT on a new connection proves nothing about writes sent on the old one.
    status s = call("fsync", false, [&](connection& c, nfsfh* fh) { return nfs_fsync(c.ctx(), fh); });
    if (!s) dirty_ = false;
    return s;
  }

  result<std::uint64_t> size() override {
    std::lock_guard lock(mu_);
    return size_locked();
  }

  status truncate(std::uint64_t size) override {
    std::lock_guard lock(mu_);
    return call("truncate", true, [&](connection& c, nfsfh* fh) {
      int r = nfs_ftruncate(c.ctx(), fh, size);
      if (r >= 0) dirty_ = true;
      return r;
    });
  }

  const std::string& path() const override { return path_; }

 private:
  status write_locked(std::uint64_t offset, const void* data, std::size_t n) {
    const char* bytes = static_cast<const char*>(data);
    // The same bytes at the same offset: safe to resend whole after a reconnect. `dirty_` is
    // set only once all of them are written, so a broken attempt does not count against
    // writes made before it. (Pipelining the pieces with libnfs's async API was tried: no
    // gain here, the per-WRITE cost is CPU on client and server, not the round trip.)
    status s = call("write", true, [&](connection& c, nfsfh* fh) {
      const std::size_t piece = write_chunk(*st_, c);
      for (std::size_t done = 0; done < n;) {
        int r = nfs_pwrite(c.ctx(), fh, offset + done, std::min(piece, n - done), bytes + done);
        if (r < 0) return r;
        if (r == 0) return -EIO;  // no progress: never loop forever
        done += static_cast<std::size_t>(r);
      }
      return 0;
    });
    if (!s && n > 0) dirty_ = true;
    return s;
  }

  result<std::uint64_t> size_locked() {
    nfs_stat_64 st{};
    status s = call("fstat", true, [&](connection& c, nfsfh* fh) { return nfs_fstat64(c.ctx(), fh, &st); });
    if (s) return s;
    return static_cast<std::uint64_t>(st.nfs_size);
  }

  // Runs `fn(connection&, nfsfh*)` on this file's connection, first reconnecting and reopening
  // the file by path if the connection was lost.
  template <typename F>
  status call(const char* op, bool idempotent, F&& fn) {
    for (int attempt = 0;; ++attempt) {
      if (!conn_) {
        if (status s = reopen(op)) return s;
      }
      auto started = clock::now();
      int rc = fn(*conn_, fh_);
      if (rc >= 0) return {};
      failure f = nfs_detail::translate(st_->cfg, conn_.get(), op, path_, rc, started);
      if (!f.connection_lost) return f.error;
      lose();
      if (f.timed_out || !idempotent || attempt > 0) return f.error;
    }
  }

  void lose() {
    st_->discard(std::move(conn_));
    fh_ = nullptr;
    if (dirty_) lost_unsynced_ = true;
    dirty_ = false;
  }

  status reopen(const char* op) {
    auto c = st_->take();
    if (!c) return status{c.err().code, fmt::format("nfs {} {}: {}", op, path_, c.err().message)};
    auto started = clock::now();
    nfsfh* fh = nullptr;
    int rc = nfs_open2((*c)->ctx(), nfs_path(path_).c_str(), reopen_flags_, 0, &fh);
    if (rc != 0) {
      failure f = nfs_detail::translate(st_->cfg, c->get(), "reopen", path_, rc, started);
      if (f.connection_lost) {
        st_->discard(std::move(*c));
      } else {
        st_->give_back(std::move(*c));
      }
      return f.error;
    }
    conn_ = std::move(*c);
    fh_ = fh;
    return {};
  }

  std::shared_ptr<shared_state> st_;
  std::string path_;
  int reopen_flags_;
  std::mutex mu_;
  std::unique_ptr<connection> conn_;  // null after a failure: the next call reconnects
  nfsfh* fh_;
  bool dirty_ = false;          // this connection carried writes not yet committed
  bool lost_unsynced_ = false;  // a connection died with uncommitted writes: sync() fails from now on
};

}  // namespace

bool is_nfs_url(const std::string& location) { return location.rfind("nfs://", 0) == 0; }

result<std::unique_ptr<nfs_file_system>> nfs_file_system::open(const std::string& url) {
  nfs_options o;
  o.url = url;
  return open(std::move(o));
}

result<std::unique_ptr<nfs_file_system>> nfs_file_system::open(nfs_options options) {
  auto cfg = nfs_detail::parse_config(std::move(options));
  if (!cfg) return cfg.err();
  auto st = std::make_shared<shared_state>();
  st->cfg = std::move(*cfg);
  auto c = st->take();  // mount once now: a wrong URL or a dead server is reported here
  if (!c) return c.err();
  st->give_back(std::move(*c));
  return std::unique_ptr<nfs_file_system>(new nfs_file_system(std::move(st)));
}

nfs_file_system::nfs_file_system(std::shared_ptr<shared_state> state) : state_(std::move(state)) {}
nfs_file_system::~nfs_file_system() = default;

nfs_stats nfs_file_system::stats() const { return nfs_stats{state_->created.load(), state_->lost.load()}; }
int nfs_file_system::nfs_version() const { return state_->cfg.version; }
const std::string& nfs_file_system::server() const { return state_->cfg.server; }

result<std::unique_ptr<file>> nfs_file_system::open(const std::string& path, open_mode mode) {
  auto& st = *state_;
  const std::string p = nfs_path(path);
  nfsfh* fh = nullptr;
  std::unique_ptr<connection> kept;
  int reopen_flags = O_RDWR;
  // Opens on the borrowed connection and keeps it (with the handle) for the file.
  auto open_on = [&](connection& c, int flags) {
    int rc = nfs_open2(c.ctx(), p.c_str(), flags, 0644, &fh);
    return rc;
  };
  auto attempt = [&](const char* op, int flags, bool idempotent) -> status {
    for (int i = 0;; ++i) {
      auto c = st.take();
      if (!c) return status{c.err().code, fmt::format("nfs {} {}: {}", op, path, c.err().message)};
      auto started = clock::now();
      int rc = open_on(**c, flags);
      if (rc == 0) {
        kept = std::move(*c);
        return {};
      }
      failure f = nfs_detail::translate(st.cfg, c->get(), op, path, rc, started);
      if (!f.connection_lost) {
        st.give_back(std::move(*c));
        return f.error;
      }
      st.discard(std::move(*c));
      if (f.timed_out || !idempotent || i > 0) return f.error;
    }
  };

  status s;
  switch (mode) {
    case open_mode::read_only:
      reopen_flags = O_RDONLY;
      s = attempt("open", O_RDONLY, true);
      break;
    case open_mode::read_write:
      s = attempt("open", O_RDWR, true);
      break;
    case open_mode::create:
      // libnfs 4.0.0 sends every NFSv4 create as exclusive (EEXIST on an existing file), so
      // open the existing file first; on a race with another creator, open what it made.
      s = attempt("open", O_RDWR, true);
      if (s.code == std::errc::no_such_file_or_directory) {
        s = attempt("create", O_RDWR | O_CREAT | O_EXCL, false);
        if (s.code == std::errc::file_exists) s = attempt("open", O_RDWR, true);
      }
      break;
    case open_mode::create_exclusive:
      // Of two contenders exactly one succeeds. Not retried: after a lost reply, a retry
      // would see our own file and report file_exists.
      s = exclusive_create(st, path, kept, fh);
      break;
  }
  if (s) return s;
  return std::unique_ptr<file>(std::make_unique<nfs_file>(state_, path, reopen_flags, std::move(kept), fh));
}

status nfs_file_system::rename(const std::string& from, const std::string& to) {
  const std::string f = nfs_path(from), t = nfs_path(to);
  return run(*state_, "rename", from + " -> " + to, false,
             [&](connection& c) { return nfs_rename(c.ctx(), f.c_str(), t.c_str()); });
}

status nfs_file_system::remove(const std::string& path) {
  const std::string p = nfs_path(path);
  return run(*state_, "unlink", path, false, [&](connection& c) { return nfs_unlink(c.ctx(), p.c_str()); });
}

result<std::vector<std::string>> nfs_file_system::list(const std::string& dir) {
  const std::string p = nfs_path(dir);
  std::vector<std::string> names;
  status s = run(*state_, "readdir", dir, true, [&](connection& c) {
    names.clear();
    nfsdir* d = nullptr;
    int rc = nfs_opendir(c.ctx(), p.c_str(), &d);
    // NFSv3 READDIRPLUS fails as a whole with NOENT when an entry it is describing is
    // unlinked meanwhile (Ganesha VFS), e.g. exclusive_create's temporary name. The
    // directory itself is there: list it again (a few times; a missing directory keeps
    // failing and is reported).
    for (int again = 0; rc == -ENOENT && again < 5; ++again) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1 << again));
      rc = nfs_opendir(c.ctx(), p.c_str(), &d);
    }
    if (rc != 0) return rc;
    while (nfsdirent* e = nfs_readdir(c.ctx(), d)) {
      std::string n = e->name;
      if (n == "." || n == ".." || is_create_temp(n)) continue;
      names.push_back(std::move(n));
    }
    nfs_closedir(c.ctx(), d);
    return 0;
  });
  if (s) return s;
  return names;
}

result<file_stat> nfs_file_system::stat(const std::string& path) {
  const std::string p = nfs_path(path);
  nfs_stat_64 st{};
  status s = run(*state_, "stat", path, true, [&](connection& c) { return nfs_stat64(c.ctx(), p.c_str(), &st); });
  if (s) return s;
  file_stat out;
  out.size = st.nfs_size;
  out.is_directory = S_ISDIR(static_cast<mode_t>(st.nfs_mode));
  out.mtime_ns = static_cast<std::int64_t>(st.nfs_mtime) * 1'000'000'000 + static_cast<std::int64_t>(st.nfs_mtime_nsec);
  return out;
}

status nfs_file_system::mkdirs(const std::string& dir) {
  const std::string p = nfs_path(dir);
  for (std::size_t i = 1; i <= p.size(); ++i) {
    if (i != p.size() && p[i] != '/') continue;
    std::string prefix = p.substr(0, i);
    if (prefix == "/") continue;
    status s = run(*state_, "mkdir", prefix, true, [&](connection& c) {
      int rc = nfs_mkdir2(c.ctx(), prefix.c_str(), 0755);
      return rc == -EEXIST ? 0 : rc;
    });
    if (s) return s;
  }
  return {};
}

status nfs_file_system::sync_dir(const std::string& dir) {
  // NFS servers make CREATE/REMOVE/RENAME stable before replying and there is no directory
  // COMMIT; a GETATTR proves the server is there and the directory exists.
  const std::string p = nfs_path(dir);
  nfs_stat_64 st{};
  return run(*state_, "sync_dir", dir, true, [&](connection& c) { return nfs_stat64(c.ctx(), p.c_str(), &st); });
}

}  // namespace tandem::storage
