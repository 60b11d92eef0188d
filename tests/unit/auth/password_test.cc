#include <catch2/catch.hpp>

#include "auth/password.h"

using namespace tandem::auth;

TEST_CASE("a hashed password verifies and another does not", "[auth]") {
  auto h = hash_password("s3cret pass", min_iterations);
  REQUIRE(h.starts_with("pbkdf2-sha256$10000$"));
  CHECK(verify_password("s3cret pass", h));
  CHECK_FALSE(verify_password("s3cret pasS", h));
  CHECK_FALSE(verify_password("", h));
}

TEST_CASE("two hashes of one password differ by their salt", "[auth]") {
  auto a = hash_password("same", min_iterations), b = hash_password("same", min_iterations);
  CHECK(a != b);
  CHECK(verify_password("same", a));
  CHECK(verify_password("same", b));
}

TEST_CASE("a published PBKDF2-HMAC-SHA256 vector verifies", "[auth]") {
  // RFC 7914 section 11: P="Password", S="NaCl", c=80000; the first 32 bytes of its output.
  // "TmFDbA==" is base64 of "NaCl".
  const std::string known =
      "pbkdf2-sha256$80000$TmFDbA==$TdzY9guYviGDDO5e8icB+WQaRBjQTAQUrv8Ih2s0q1Y=";
  CHECK(verify_password("Password", known));
  CHECK_FALSE(verify_password("password", known));
  auto h = parse_password_hash(hash_password("x", 12345));
  REQUIRE(h.ok());
  CHECK(h->iterations == 12345);
  CHECK(h->salt.size() == 16);
  CHECK(h->hash.size() == 32);
}

TEST_CASE("malformed hashes are refused with the reason", "[auth]") {
  auto reason = [](std::string_view text) {
    auto h = parse_password_hash(text);
    REQUIRE_FALSE(h.ok());
    return h.err().message;
  };
  CHECK_THAT(reason("secret"), Catch::Contains("pbkdf2-sha256$ITERATIONS$SALT$HASH"));
  CHECK_THAT(reason("md5$1$a$b"), Catch::Contains("pbkdf2-sha256$ITERATIONS$SALT$HASH"));
  CHECK_THAT(reason("pbkdf2-sha256$100$c2FsdHNhbHQ=$aGFzaA=="), Catch::Contains("at least 10000"));
  CHECK_THAT(reason("pbkdf2-sha256$1e5$c2FsdHNhbHQ=$aGFzaA=="), Catch::Contains("whole number"));
  CHECK_THAT(reason("pbkdf2-sha256$100000$!!!$aGFzaA=="), Catch::Contains("salt"));
  CHECK_THAT(reason("pbkdf2-sha256$100000$c2FsdHNhbHQ=$aGFzaA=="), Catch::Contains("32 bytes"));
  CHECK_FALSE(verify_password("x", "pbkdf2-sha256$100000$c2FsdHNhbHQ=$aGFzaA=="));
}
