#include "broker/http_auth.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <stdexcept>

#include "auth/password.h"
#include "common/log.h"

namespace tandem::broker {
namespace {

std::string hex(const unsigned char* p, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 0xf];
  }
  return out;
}

// Looking tokens up by their digest keeps the comparison of secret bytes out of the map's
// string compare (no timing hint about a token's prefix).
std::string digest(std::string_view token) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(token.data(), token.size(), out, &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

auth_outcome decide(bool open, const credential_check& c, bool tandem_header, auth::http_role needed,
                    std::string_view action) {
  auth_outcome out;
  if (open) {
    out.who.role = auth::http_role::admin;
    return out;
  }
  auto refuse = [&](int status, std::string why) {
    out.status = status;
    out.error = std::move(why);
    // A browser shows its own password dialog on a challenge; the console asks itself.
    out.challenge = status == 401 && !tandem_header;
    return out;
  };
  using kind = credential_check::kind;
  if (c.from == kind::none) return refuse(401, "authentication required: log in, or send HTTP Basic credentials");
  if (c.throttled) {
    out.retry_after_s = c.retry_after_s;
    return refuse(c.throttled, c.throttled == 429
                                   ? fmt::format("too many failed logins from this address: try again in {} s",
                                                 c.retry_after_s)
                                   : std::string("too many password checks at once: try again in a moment"));
  }
  if (!c.user) {
    return refuse(401, c.from == kind::basic ? "wrong user name or password"
                                             : "the session has expired or is unknown: log in again");
  }
  if (c.user->role < needed) {
    return refuse(403, fmt::format("user '{}' ({}) may not {}: needs {}", c.user->name, auth::to_string(c.user->role),
                                   action, auth::to_string(needed)));
  }
  out.who = principal{c.user->name, c.user->role, c.user, c.from == kind::cookie};
  return out;
}

session_store::session_store(std::size_t max_sessions, std::chrono::seconds ttl, std::size_t max_per_user)
    : max_(max_sessions), max_per_user_(std::max<std::size_t>(1, max_per_user)), ttl_(ttl) {}

std::string session_store::create(const auth::user& user) {
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) throw std::runtime_error("RAND_bytes failed: no randomness for a session token");
  std::string token = hex(raw, sizeof raw);
  auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mu_);
  evict_locked(now);
  evict_oldest_of_locked(user);
  std::string d = digest(token);
  by_digest_[d] = session{&user, now + ttl_, next_};
  by_age_[next_++] = d;
  return token;
}

void session_store::evict_locked(std::chrono::steady_clock::time_point now) {
  // Expired sessions go first; past the bound, the oldest live ones too.
  for (auto it = by_age_.begin(); it != by_age_.end();) {
    auto s = by_digest_.find(it->second);
    bool gone = s == by_digest_.end() || s->second.expires <= now || by_digest_.size() >= max_;
    if (!gone) break;  // sessions expire in creation order: the rest are newer
    if (s != by_digest_.end()) by_digest_.erase(s);
    it = by_age_.erase(it);
  }
}

void session_store::evict_oldest_of_locked(const auth::user& user) {
  // At most max_ sessions to look through, and only at a login.
  std::size_t count = 0;
  auto oldest = by_age_.end();
  for (auto it = by_age_.begin(); it != by_age_.end(); ++it) {
    auto s = by_digest_.find(it->second);
    if (s == by_digest_.end() || s->second.user != &user) continue;
    if (oldest == by_age_.end()) oldest = it;
    ++count;
  }
  if (count < max_per_user_) return;
  by_digest_.erase(oldest->second);
  by_age_.erase(oldest);
}

const auth::user* session_store::find(std::string_view token) {
  if (token.empty()) return nullptr;
  auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mu_);
  auto it = by_digest_.find(digest(token));
  if (it == by_digest_.end()) return nullptr;
  if (it->second.expires <= now) {
    by_age_.erase(it->second.created);
    by_digest_.erase(it);
    return nullptr;
  }
  return it->second.user;
}

void session_store::end(std::string_view token) {
  std::lock_guard lock(mu_);
  auto it = by_digest_.find(digest(token));
  if (it == by_digest_.end()) return;
  by_age_.erase(it->second.created);
  by_digest_.erase(it);
}

std::size_t session_store::size() {
  std::lock_guard lock(mu_);
  return by_digest_.size();
}

std::optional<std::pair<std::string, std::string>> parse_basic(std::string_view header) {
  header = trim(header);
  if (header.size() < 6 || (header.substr(0, 6) != "Basic " && header.substr(0, 6) != "basic ")) return std::nullopt;
  std::string decoded;
  if (!auth::decode_base64(trim(header.substr(6)), decoded)) return std::nullopt;
  auto colon = decoded.find(':');
  if (colon == std::string::npos) return std::nullopt;
  return std::pair{decoded.substr(0, colon), decoded.substr(colon + 1)};
}

std::string cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    auto semi = header.find(';');
    std::string_view item = trim(header.substr(0, semi));
    auto eq = item.find('=');
    if (eq != std::string_view::npos && trim(item.substr(0, eq)) == name) return std::string(trim(item.substr(eq + 1)));
    if (semi == std::string_view::npos) break;
    header.remove_prefix(semi + 1);
  }
  return {};
}

std::string peer_address(std::string_view peer) {
  auto colon = peer.rfind(':');
  return std::string(colon == std::string_view::npos ? peer : peer.substr(0, colon));
}

http_auth::http_auth(auth::user_directory& users, security_stats& stats, const std::string& node_name,
                     throttle_options limits)
    : cookie_name_("tandem_session_" + node_name), users_(users), stats_(stats), throttle_(limits) {}

void http_auth::failed(const std::string& peer, std::string_view user, std::string_view how) {
  stats_.http_auth_failures.fetch_add(1, std::memory_order_relaxed);
  throttle_.failed(peer_address(peer));
  // A guessing client must not flood the log either; the counter above counts every one.
  std::uint64_t left_out = 0;
  switch (throttle_.may_log(left_out)) {
    case login_throttle::log_decision::log:
      log::warn("http", "failed login from {} as '{}' ({}){}", peer, printable(user), how,
                left_out ? fmt::format("; {} more failed logins were not logged", left_out) : "");
      break;
    case login_throttle::log_decision::announce_quiet:
      log::warn("http", "more than {} failed logins within {} s: the next ones are counted "
                        "(tandem_auth_failures_total) but not logged for the rest of that time",
                throttle_.options().log_lines, throttle_.options().log_window.count());
      break;
    case login_throttle::log_decision::quiet: break;
  }
}

http_auth::verified http_auth::verify(std::string_view name, std::string_view password, const std::string& peer,
                                      std::string_view how) {
  verified out;
  // Before anything else, so a client backing off learns nothing about the password, right
  // or wrong, and costs no PBKDF2.
  if (auto wait = throttle_.backing_off(peer_address(peer))) {
    out.throttled = 429;
    out.retry_after_s = *wait;
    return out;
  }
  if ((out.user = users_.authenticate_cached(name, password))) return out;
  auto slot = throttle_.acquire();
  if (!slot) {
    out.throttled = 503;
    out.retry_after_s = 1;
    return out;
  }
  out.user = users_.authenticate(name, password);
  if (!out.user) failed(peer, name, how);
  return out;
}

credential_check http_auth::check(const request_credentials& r) {
  credential_check c;
  if (!r.authorization.empty()) {
    c.from = credential_check::kind::basic;
    auto creds = parse_basic(r.authorization);
    if (!creds) {
      failed(r.peer, "", "an Authorization header that is not HTTP Basic");
      return c;
    }
    c.claimed = creds->first;
    auto v = verify(creds->first, creds->second, r.peer, "HTTP Basic");
    c.user = v.user;
    c.throttled = v.throttled;
    c.retry_after_s = v.retry_after_s;
    return c;
  }
  if (!r.session_token.empty()) {
    c.from = credential_check::kind::cookie;
    c.user = sessions_.find(r.session_token);
  }
  return c;
}

http_auth::login_result http_auth::login(std::string_view name, std::string_view password, const std::string& peer) {
  login_result out;
  auto v = verify(name, password, peer, "console login");
  out.user = v.user;
  out.throttled = v.throttled;
  out.retry_after_s = v.retry_after_s;
  if (!out.user) return out;
  out.token = sessions_.create(*out.user);
  log::info("http", "{} logged in from {} ({})", out.user->name, peer, auth::to_string(out.user->role));
  return out;
}

}  // namespace tandem::broker
