#include "auth/user_directory.h"

#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <stdexcept>

#include "auth/password.h"
#include "auth/permissions.h"

namespace tandem::auth {

std::string_view to_string(http_role r) {
  switch (r) {
    case http_role::none: return "none";
    case http_role::viewer: return "viewer";
    case http_role::admin: return "admin";
  }
  return "none";
}

bool user::may_read(std::string_view destination) const {
  return role == http_role::admin || any_matches(read, destination);
}

bool user::may_write(std::string_view destination) const {
  return role == http_role::admin || any_matches(write, destination);
}

user_directory::user_directory(std::vector<user> users, std::chrono::seconds cache_ttl)
    : users_(std::move(users)), cache_ttl_(cache_ttl), hmac_key_(32, '\0') {
  if (RAND_bytes(reinterpret_cast<unsigned char*>(hmac_key_.data()), static_cast<int>(hmac_key_.size())) != 1) {
    throw std::runtime_error("RAND_bytes failed: no randomness for the login cache key");
  }
  // The same cost as a real user's hash, so timing does not tell which names exist.
  std::uint32_t iterations = default_iterations;
  if (!users_.empty()) {
    if (auto h = parse_password_hash(users_.front().password_hash)) iterations = h->iterations;
  }
  dummy_hash_ = hash_password("not a password", iterations);
}

const user* user_directory::find(std::string_view name) const {
  auto it = std::find_if(users_.begin(), users_.end(), [&](const user& u) { return u.name == name; });
  return it == users_.end() ? nullptr : &*it;
}

std::string user_directory::cache_key(std::string_view name, std::string_view password) const {
  std::string msg;
  msg.reserve(name.size() + 1 + password.size());
  msg.append(name).push_back('\0');
  msg.append(password);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), hmac_key_.data(), static_cast<int>(hmac_key_.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

const user* user_directory::cached(const user* u, const std::string& key, std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mu_);
  auto it = verified_.find(key);
  if (it == verified_.end()) return nullptr;
  if (u && it->second > now) return u;
  verified_.erase(it);
  return nullptr;
}

const user* user_directory::authenticate_cached(std::string_view name, std::string_view password) {
  const user* u = find(name);
  if (!u) return nullptr;
  return cached(u, cache_key(name, password), std::chrono::steady_clock::now());
}

const user* user_directory::authenticate(std::string_view name, std::string_view password) {
  const user* u = find(name);
  std::string key = cache_key(name, password);
  auto now = std::chrono::steady_clock::now();
  if (const user* hit = cached(u, key, now)) return hit;
  if (!u) {
    verify_password(password, dummy_hash_);
    return nullptr;
  }
  if (!verify_password(password, u->password_hash)) return nullptr;
  std::lock_guard lock(mu_);
  // Bounded: expired entries go when the map grows (one entry per distinct good password).
  if (verified_.size() > 4 * users_.size() + 64) {
    std::erase_if(verified_, [&](const auto& kv) { return kv.second <= now; });
  }
  verified_[key] = now + cache_ttl_;
  return u;
}

}  // namespace tandem::auth
