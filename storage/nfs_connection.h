#pragma once
// Internals of the nfs backend (storage/nfs_file_system.h): one libnfs context wrapped as a
// `connection`, the pool of idle connections, and the translation of libnfs errors into
// tandem::error. Not part of the storage API.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "storage/file_system.h"
#include "storage/nfs_file_system.h"

struct nfs_context;

namespace tandem::storage::nfs_detail {

using clock = std::chrono::steady_clock;

// What a URL says, parsed once.
struct config {
  std::string libnfs_url;  // the URL without Tandem's own parameters, handed to libnfs
  std::string server;
  std::string export_path;  // what is mounted ("/export/dir")
  int version = 3;
  int timeout_ms = 1000;
  int max_idle_ms = 2000;
  std::size_t max_pooled = 8;
};

result<config> parse_config(nfs_options options);

// One mounted libnfs context. Used by one holder at a time; not thread-safe (libnfs is not).
class connection {
 public:
  // Creates a context with a unique NFSv4 client name and the timeout, and mounts.
  static result<std::unique_ptr<connection>> connect(const config& cfg);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  nfs_context* ctx() const { return ctx_; }
  clock::time_point last_used() const { return last_used_; }
  void touch() { last_used_ = clock::now(); }

 private:
  explicit connection(nfs_context* ctx) : ctx_(ctx), last_used_(clock::now()) {}
  nfs_context* ctx_;
  clock::time_point last_used_;
};

// What a failed libnfs call means for the connection it ran on.
struct failure {
  status error;         // for the caller: names operation, path and server
  bool connection_lost;  // the connection must not be used again
  bool timed_out;       // the server did not answer within the timeout
};

// Translates a negative errno returned by libnfs. `started` is when the call began, so a
// timeout can be told from an interrupted call.
failure translate(const config& cfg, connection* conn, const char* op, const std::string& path, int rc,
                  clock::time_point started);

// Shared by the file system and the files it opened (a file may outlive its file system).
struct shared_state {
  config cfg;
  std::mutex mu;
  std::vector<std::unique_ptr<connection>> idle;  // most recently used last
  std::atomic<std::uint64_t> created{0};
  std::atomic<std::uint64_t> lost{0};

  // A pooled connection used within max_idle, else a new one.
  result<std::unique_ptr<connection>> take();
  // Returns a healthy connection to the pool (or drops it when the pool is full).
  void give_back(std::unique_ptr<connection> c);
  // Destroys a connection that failed.
  void discard(std::unique_ptr<connection> c);
};

// NFS paths are absolute below the mount point.
std::string nfs_path(const std::string& path);

}  // namespace tandem::storage::nfs_detail
