#pragma once
// The `nfs` backend: the shared directory reached over NFS from user space through libnfs, with
// no kernel mount. Configured by a URL:
//
//   nfs://10.0.0.5/export/broker?version=4&nfsport=2049&timeout=1000
//   nfs://127.0.0.1/export/dir?nfsport=12049&mountport=12050          (NFSv3)
//
// Query parameters: every libnfs one (version, nfsport, mountport, uid, gid, ...) plus Tandem's
//   timeout=MS    bound on every NFS call, mount included (default 1000). A dead or frozen
//                 server makes a call fail with std::errc::timed_out after about this long,
//                 never hang.
//   max_idle=MS   an idle pooled connection older than this is discarded instead of reused
//                 (default 2000). libnfs sends no NFSv4 RENEW, so a connection left idle for
//                 a server lease period has lost its client state; see NFS_BACKEND.md.
//
// Connections: one libnfs context ("connection") per open `file`, plus connections borrowed
// for the duration of one directory call, all from one pool of idle connections. A connection
// is used by one holder at a time, so libnfs (not thread-safe) is never entered from two
// threads on one context, and no context ever holds two handles to one file (libnfs 4.0.0
// NFSv4 invalidates the first). Opening a file borrows a pooled connection, so it costs one
// OPEN round trip, not a new TCP connection and mount.
//
// Recovery: a connection that fails for a reason other than the answer itself (timeout, EIO
// after a server restart, stale handle, expired NFSv4 state) is destroyed; the next call builds
// a new one (mount again; for a file, re-open it by path). After `kill -9` and a restart of
// the server, the same nfs_file_system and the same open `file` objects work again. Calls that
// are safe to repeat (reads, stat, list, mkdirs, writes of the same bytes at the same offset)
// are retried once on a fresh connection when the old one broke quickly; a timeout is reported
// at once. rename, remove, append, sync and exclusive creates are never retried.
//
// Exclusive create is a LINK of a uniquely named new file to the wanted name (atomic on every
// NFS version); the temporary ".NAME.*.creating" names are never listed. See NFS_BACKEND.md.
//
// Durability: file::sync sends an NFS COMMIT. If a file's connection was lost while it had
// written bytes not yet committed, the server may have lost them (an NFS server keeps
// uncommitted writes in memory), so every later sync() of that file object fails with EIO:
// reopen the file and rewrite. sync_dir is a round trip to the server (NFS servers make
// directory changes stable before they reply; there is no directory COMMIT).
//
// Threading: as file_system.h says; any number of threads may call the file system at once
// (each call borrows its own connection), a `file` is used by one thread at a time (guarded
// by a mutex anyway).

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "storage/file_system.h"

namespace tandem::storage {

struct nfs_options {
  std::string url;              // nfs://server/path?...; Tandem's own parameters are removed
  int timeout_ms = 1000;        // every NFS call; overridden by ?timeout=
  int max_idle_ms = 2000;       // pooled connection reuse limit; overridden by ?max_idle=
  std::size_t max_pooled = 8;   // idle connections kept for reuse
};

struct nfs_stats {
  std::uint64_t connections_created = 0;  // mounts (first ones and rebuilds)
  std::uint64_t connections_lost = 0;     // connections destroyed after a failure
};

namespace nfs_detail {
struct shared_state;
}

class nfs_file_system final : public file_system {
 public:
  // Parses the URL (timeout= and max_idle= override the options) and mounts once, so a wrong
  // URL or an unreachable server is reported here.
  static result<std::unique_ptr<nfs_file_system>> open(const std::string& url);
  static result<std::unique_ptr<nfs_file_system>> open(nfs_options options);
  ~nfs_file_system() override;

  result<std::unique_ptr<file>> open(const std::string& path, open_mode mode) override;
  status rename(const std::string& from, const std::string& to) override;
  status remove(const std::string& path) override;
  result<std::vector<std::string>> list(const std::string& dir) override;
  result<file_stat> stat(const std::string& path) override;
  status mkdirs(const std::string& dir) override;
  bool zero_fill_helps() const override { return false; }
  status sync_dir(const std::string& dir) override;

  nfs_stats stats() const;
  int nfs_version() const;
  const std::string& server() const;

 private:
  explicit nfs_file_system(std::shared_ptr<nfs_detail::shared_state> state);
  std::shared_ptr<nfs_detail::shared_state> state_;
};

// True if `location` names the nfs backend ("nfs://...").
bool is_nfs_url(const std::string& location);

}  // namespace tandem::storage
