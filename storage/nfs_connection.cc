#include "storage/nfs_connection.h"

#include <nfsc/libnfs.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <random>

#include <fmt/format.h>

namespace tandem::storage::nfs_detail {
namespace {

status invalid(const std::string& what) {
  return status{std::make_error_code(std::errc::invalid_argument), "nfs url: " + what};
}

// Reads a positive integer query value.
bool parse_ms(const std::string& v, int& out) {
  int x = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (ec != std::errc{} || p != v.data() + v.size() || x <= 0) return false;
  out = x;
  return true;
}

// Unique per context: libnfs 4.0.0's default NFSv4 client name (pid + seconds) collides for
// two contexts made within one second, and the server then expires the older one's state.
std::string unique_client_name() {
  static std::atomic<std::uint64_t> counter{0};
  static const std::uint64_t salt = [] {
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  }();
  char host[64] = {};
  ::gethostname(host, sizeof host - 1);
  return fmt::format("tandem-{}-{}-{}-{:016x}", host, ::getpid(), counter.fetch_add(1), salt);
}

// Errors that are the server's answer about the object, not a sign of a broken connection.
bool answer_errno(int e) {
  switch (e) {
    case ENOENT: case EEXIST: case ENOTDIR: case EISDIR: case ENOTEMPTY: case EACCES:
    case EPERM: case EINVAL: case ENOSPC: case EDQUOT: case EROFS: case EFBIG:
    case ENAMETOOLONG: case EXDEV: case EMLINK:
      return true;
    default:
      return false;
  }
}

}  // namespace

std::string nfs_path(const std::string& path) {
  if (path.empty()) return "/";
  return path.front() == '/' ? path : "/" + path;
}

result<config> parse_config(nfs_options options) {
  config cfg;
  cfg.timeout_ms = options.timeout_ms;
  cfg.max_idle_ms = options.max_idle_ms;
  cfg.max_pooled = options.max_pooled;
  const std::string& url = options.url;
  static constexpr std::string_view scheme = "nfs://";
  if (url.compare(0, scheme.size(), scheme) != 0) return invalid("'" + url + "' does not start with nfs://");
  std::string rest = url.substr(scheme.size());
  std::string query;
  if (auto q = rest.find('?'); q != std::string::npos) {
    query = rest.substr(q + 1);
    rest.resize(q);
  }
  auto slash = rest.find('/');
  cfg.server = rest.substr(0, slash);
  cfg.export_path = slash == std::string::npos ? "/" : rest.substr(slash);
  if (cfg.server.empty()) return invalid("'" + url + "' names no server");
  if (cfg.server.find(':') != std::string::npos)
    return invalid("'" + url + "': give ports as ?nfsport=&mountport=, not host:port");

  std::string kept;
  std::size_t start = 0;
  while (start <= query.size() && !query.empty()) {
    auto amp = query.find('&', start);
    std::string kv = query.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
    start = amp == std::string::npos ? query.size() + 1 : amp + 1;
    if (kv.empty()) continue;
    auto eq = kv.find('=');
    std::string key = kv.substr(0, eq), value = eq == std::string::npos ? "" : kv.substr(eq + 1);
    if (key == "timeout") {
      if (!parse_ms(value, cfg.timeout_ms)) return invalid("timeout=" + value + " is not a positive number of ms");
      continue;
    }
    if (key == "max_idle") {
      if (!parse_ms(value, cfg.max_idle_ms)) return invalid("max_idle=" + value + " is not a positive number of ms");
      continue;
    }
    if (key == "version") {
      if (value != "3" && value != "4") return invalid("version=" + value + " (3 or 4)");
      cfg.version = value == "4" ? 4 : 3;
    }
    kept += (kept.empty() ? "?" : "&") + kv;
  }
  cfg.libnfs_url = std::string(scheme) + rest + kept;
  return cfg;
}

result<std::unique_ptr<connection>> connection::connect(const config& cfg) {
  nfs_context* ctx = nfs_init_context();
  if (!ctx) return status{std::make_error_code(std::errc::not_enough_memory), "nfs_init_context"};
  auto fail = [&](const std::string& what) -> status {
    std::string text = nfs_get_error(ctx) ? nfs_get_error(ctx) : "";
    nfs_destroy_context(ctx);
    return status{std::make_error_code(std::errc::io_error),
                  fmt::format("nfs {} {}: {} (server {})", what, cfg.export_path, text, cfg.server)};
  };
  // Applies the URL's libnfs parameters (version, ports, ...) to this context.
  nfs_url* u = nfs_parse_url_dir(ctx, cfg.libnfs_url.c_str());
  if (!u) return fail("parse url");
  nfs_destroy_url(u);
  nfs_set_timeout(ctx, cfg.timeout_ms);
  nfs_set_dircache(ctx, 0);  // other clients change the directory; never answer from a cache
  // No silent reconnect inside libnfs: a lost connection must surface, so that a file with
  // uncommitted writes learns that the server may have dropped them (see file::sync).
  nfs_set_autoreconnect(ctx, 0);
  nfs4_set_client_name(ctx, unique_client_name().c_str());
  auto started = clock::now();
  int rc = nfs_mount(ctx, cfg.server.c_str(), cfg.export_path.c_str());
  if (rc != 0) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - started).count();
    std::string text = nfs_get_error(ctx) ? nfs_get_error(ctx) : std::strerror(-rc);
    nfs_destroy_context(ctx);
    bool timed_out = (rc == -EINTR || rc == -ETIMEDOUT) && ms >= cfg.timeout_ms / 2;
    if (timed_out)
      return status{std::make_error_code(std::errc::timed_out),
                    fmt::format("nfs mount {}: timed out after {} ms (server {})", cfg.export_path, cfg.timeout_ms, cfg.server)};
    int e = rc < 0 ? -rc : EIO;
    return status{std::error_code(e, std::system_category()),
                  fmt::format("nfs mount {}: {} (server {})", cfg.export_path, text, cfg.server)};
  }
  return std::unique_ptr<connection>(new connection(ctx));
}

connection::~connection() {
  // No UMNT/RPC here: destroying must not block on a dead server. Handles still open on a
  // lost connection are abandoned with it; the server expires their state.
  nfs_destroy_context(ctx_);
}

failure translate(const config& cfg, connection* conn, const char* op, const std::string& path, int rc,
                  clock::time_point started) {
  int e = rc < 0 ? -rc : EIO;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - started).count();
  std::string text = conn && nfs_get_error(conn->ctx()) ? nfs_get_error(conn->ctx()) : std::strerror(e);
  failure f{};
  if ((e == EINTR || e == ETIMEDOUT) && ms >= cfg.timeout_ms / 2) {
    f.timed_out = true;
    f.connection_lost = true;
    f.error = status{std::make_error_code(std::errc::timed_out),
                     fmt::format("nfs {} {}: timed out after {} ms (server {})", op, path, cfg.timeout_ms, cfg.server)};
    return f;
  }
  if (e == EFAULT) {
    // libnfs 4.0.0 reports every NFSv3 READ failure as EFAULT; the real status is lost.
    f.connection_lost = true;
    f.error = status{std::make_error_code(std::errc::io_error),
                     fmt::format("nfs {} {}: the server reported an error (libnfs gives no detail: {}) (server {})", op,
                                 path, text, cfg.server)};
    return f;
  }
  f.connection_lost = !answer_errno(e);
  f.error = status{std::error_code(e, std::system_category()),
                   fmt::format("nfs {} {}: {} (server {})", op, path, text, cfg.server)};
  return f;
}

result<std::unique_ptr<connection>> shared_state::take() {
  {
    std::lock_guard lock(mu);
    auto now = clock::now();
    while (!idle.empty()) {
      std::unique_ptr<connection> c = std::move(idle.back());
      idle.pop_back();
      if (now - c->last_used() <= std::chrono::milliseconds(cfg.max_idle_ms)) return c;
      // Too old: its NFSv4 state may have expired (libnfs sends no RENEW). Older ones too.
      idle.clear();
    }
  }
  auto c = connection::connect(cfg);
  if (c) created.fetch_add(1, std::memory_order_relaxed);
  return c;
}

void shared_state::give_back(std::unique_ptr<connection> c) {
  c->touch();
  std::lock_guard lock(mu);
  if (idle.size() >= cfg.max_pooled) idle.erase(idle.begin());
  idle.push_back(std::move(c));
}

void shared_state::discard(std::unique_ptr<connection> c) {
  lost.fetch_add(1, std::memory_order_relaxed);
  c.reset();
}

}  // namespace tandem::storage::nfs_detail
