#pragma once
// Salted password hashes for the users of `security.users`.
//
// Format (one line, pasted into the configuration):
//
//   pbkdf2-sha256$ITERATIONS$SALT$HASH
//
// ITERATIONS is a decimal count (at least 10,000), SALT the 16 random bytes and HASH the
// 32-byte PBKDF2-HMAC-SHA256 output, both in standard base64 with padding. Checking one costs
// tens of milliseconds on purpose (an attacker holding the file pays it for every guess), so
// never check a password on the broker's event loop: user_directory caches verified pairs.
//
// Pure functions, safe on any thread.

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace tandem::auth {

inline constexpr std::uint32_t default_iterations = 100'000;
inline constexpr std::uint32_t min_iterations = 10'000;

// A new hash of `password` with a fresh random salt.
std::string hash_password(std::string_view password, std::uint32_t iterations = default_iterations);

// The parts of a stored hash; an error naming what is wrong with it ("expected 4 fields
// separated by '$' ...").
struct password_hash {
  std::uint32_t iterations = 0;
  std::string salt;  // raw bytes
  std::string hash;  // raw bytes
};
result<password_hash> parse_password_hash(std::string_view text);

// Standard base64 with padding (RFC 4648 section 4), as in the hash format and in HTTP Basic
// credentials. decode_base64 is strict: false for an empty text, a length that is not a
// multiple of 4 or a character outside the alphabet.
std::string encode_base64(std::string_view raw);
bool decode_base64(std::string_view text, std::string& out);

// True when `password` matches `stored` (compared in constant time). False for a stored
// hash that does not parse.
bool verify_password(std::string_view password, std::string_view stored);

}  // namespace tandem::auth
