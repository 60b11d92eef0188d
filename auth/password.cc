#include "auth/password.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <charconv>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

namespace tandem::auth {
namespace {

constexpr std::string_view scheme = "pbkdf2-sha256";
constexpr std::size_t salt_bytes = 16;
constexpr std::size_t hash_bytes = 32;

std::string derive(std::string_view password, const std::string& salt, std::uint32_t iterations) {
  std::string out(hash_bytes, '\0');
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()),
                        static_cast<int>(iterations), EVP_sha256(), static_cast<int>(out.size()),
                        reinterpret_cast<unsigned char*>(out.data())) != 1) {
    throw std::runtime_error("PKCS5_PBKDF2_HMAC failed");  // only on allocation failure
  }
  return out;
}

}  // namespace

std::string encode_base64(std::string_view raw) {
  std::string out(4 * ((raw.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(raw.data()), static_cast<int>(raw.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

bool decode_base64(std::string_view text, std::string& out) {
  if (text.empty() || text.size() % 4 != 0) return false;
  for (char c : text) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
              c == '/' || c == '=';
    if (!ok) return false;
  }
  out.assign(3 * text.size() / 4, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return false;
  // EVP_DecodeBlock counts the padding as zero bytes; drop them.
  std::size_t pad = text.ends_with("==") ? 2 : text.ends_with('=') ? 1 : 0;
  out.resize(static_cast<std::size_t>(n) - pad);
  return true;
}

std::string hash_password(std::string_view password, std::uint32_t iterations) {
  std::string salt(salt_bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(salt.data()), static_cast<int>(salt.size())) != 1) {
    throw std::runtime_error("RAND_bytes failed: no randomness for a password salt");
  }
  return fmt::format("{}${}${}${}", scheme, iterations, encode_base64(salt), encode_base64(derive(password, salt, iterations)));
}

result<password_hash> parse_password_hash(std::string_view text) {
  auto bad = [](std::string why) { return result<password_hash>(std::make_error_code(std::errc::invalid_argument), std::move(why)); };
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    auto end = text.find('$', start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  if (parts.size() != 4 || parts[0] != scheme) {
    return bad("expected pbkdf2-sha256$ITERATIONS$SALT$HASH (as printed by tandem-ctl hash-password)");
  }
  password_hash h;
  auto [ptr, ec] = std::from_chars(parts[1].data(), parts[1].data() + parts[1].size(), h.iterations);
  if (ec != std::errc() || ptr != parts[1].data() + parts[1].size() || h.iterations < min_iterations) {
    return bad(fmt::format("the iteration count must be a whole number of at least {}", min_iterations));
  }
  if (!decode_base64(parts[2], h.salt) || h.salt.size() < 4) return bad("the salt is not base64 of at least 4 bytes");
  if (!decode_base64(parts[3], h.hash) || h.hash.size() != hash_bytes) {
    return bad(fmt::format("the hash is not base64 of {} bytes", hash_bytes));
  }
  return h;
}

bool verify_password(std::string_view password, std::string_view stored) {
  auto h = parse_password_hash(stored);
  if (!h) return false;
  std::string got = derive(password, h->salt, h->iterations);
  return CRYPTO_memcmp(got.data(), h->hash.data(), hash_bytes) == 0;
}

}  // namespace tandem::auth
