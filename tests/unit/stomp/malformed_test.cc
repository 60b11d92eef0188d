// Limits and a corpus of malformed frames: the parser reports the right error, never crashes.

#include <catch2/catch.hpp>

#include "stomp/encoder.h"
#include "stomp/parser.h"
#include "tests/unit/stomp/parse_helpers.h"

using namespace tandem::stomp;
using namespace tandem::stomp::testing;
using namespace std::string_literals;
using Catch::Matchers::Contains;

namespace {

struct bad_input {
  const char* name;
  std::string wire;
  version v;
  errc code;
  const char* message;  // a fragment of the expected error message
};

const std::vector<bad_input>& malformed_corpus() {
  static const std::vector<bad_input> corpus = {
      {"header line without colon", "SEND\ndestination:/q\nnocolon\n\n\0"s, version::v1_2,
       errc::malformed_header, "header line 2 has no ':' ('nocolon')"},
      {"undefined escape \\t", "SEND\nfoo:a\\tb\n\n\0"s, version::v1_2, errc::invalid_escape,
       "undefined escape sequence '\\t' in header 'foo'"},
      {"\\r escape in 1.1", "SEND\nfoo:a\\rb\n\n\0"s, version::v1_1, errc::invalid_escape,
       "undefined escape sequence '\\r' in header 'foo'"},
      {"trailing backslash", "SEND\nfoo:ab\\\n\n\0"s, version::v1_2, errc::invalid_escape,
       "incomplete escape sequence"},
      {"bad escape in a header name", "SEND\nf\\xo:1\n\n\0"s, version::v1_1, errc::invalid_escape,
       "in the name of header line 1"},
      {"non-numeric content-length", "SEND\ncontent-length:abc\n\n\0"s, version::v1_2,
       errc::invalid_content_length, "content-length 'abc' is not a number"},
      {"negative content-length", "SEND\ncontent-length:-5\n\n\0"s, version::v1_2,
       errc::invalid_content_length, "content-length '-5' is negative"},
      {"empty content-length", "SEND\ncontent-length:\n\n\0"s, version::v1_2,
       errc::invalid_content_length, "content-length '' is not a number"},
      {"content-length with spaces in 1.2", "SEND\ncontent-length: 3\n\nabc\0"s, version::v1_2,
       errc::invalid_content_length, "content-length ' 3' is not a number"},
      {"huge content-length", "SEND\ncontent-length:99999999999999999999999\n\n\0"s,
       version::v1_2, errc::invalid_content_length, "is too large"},
      {"missing NUL after body", "SEND\ncontent-length:12\n\nhello world!X"s, version::v1_2,
       errc::missing_nul, "missing NUL after a body of content-length 12 (found 'X')"},
      {"body longer than content-length", "SEND\ncontent-length:2\n\nabc\0"s, version::v1_0,
       errc::missing_nul, "missing NUL after a body of content-length 2"},
      {"garbage command", "HELLO\n\n\0"s, version::v1_2, errc::invalid_command,
       "unknown command 'HELLO'"},
      {"lower-case command", "send\ndestination:/q\n\n\0"s, version::v1_2, errc::invalid_command,
       "unknown command 'send'"},
      {"binary garbage command", "\x16\x03\x01\x02\x00"s, version::v1_2, errc::invalid_command,
       "NUL byte inside the command line '\\x16\\x03\\x01\\x02\\x00'"},
      {"NUL inside a command", "SE\0ND\n\n\0"s, version::v1_2, errc::invalid_command,
       "NUL byte inside the command line"},
      {"header before command", "destination:/queue/a\nSEND\n\n\0"s, version::v1_2,
       errc::invalid_command, "expected a command but got a header line 'destination:/queue/a'"},
      {"command with trailing space", "SEND \n\n\0"s, version::v1_2, errc::invalid_command,
       "unknown command 'SEND '"},
      {"HTTP request", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"s, version::v1_0, errc::invalid_command,
       "unknown command 'GET / HTTP/1.1'"},
      {"NUL before the blank line", "SEND\ndestination:/q\0"s, version::v1_2,
       errc::malformed_header, "SEND frame ended (NUL byte) inside its headers"},
      {"empty header name", "SEND\n:value\n\n\0"s, version::v1_2, errc::malformed_header,
       "header line 1 has an empty name"},
      {"over-long command", std::string(100, 'A') + "\n\n\0"s, version::v1_2,
       errc::command_too_long, "exceeds the limit of 64 bytes"},
  };
  return corpus;
}

}  // namespace

TEST_CASE("malformed frames are rejected with a message naming the problem", "[stomp][malformed]") {
  for (const auto& bad : malformed_corpus()) {
    INFO(bad.name);
    const parsed whole = parse_in_pieces(bad.wire, bad.v);
    REQUIRE(whole.failure);
    CHECK(whole.failure->code == make_error_code(bad.code));
    CHECK_THAT(whole.failure->message, Contains(bad.message));
    CHECK(whole.frames.empty());
    // Byte by byte, the same error.
    const parsed trickled = parse_in_pieces(bad.wire, bad.v, 1);
    REQUIRE(trickled.failure);
    CHECK(trickled.failure->code == make_error_code(bad.code));
    CHECK_THAT(trickled.failure->message, Contains(bad.message));
  }
}

TEST_CASE("the corpus is large enough to mean something", "[stomp][malformed]") {
  CHECK(malformed_corpus().size() >= 15);
}

TEST_CASE("a frame before the bad one is still delivered", "[stomp][malformed]") {
  const parsed p = parse_in_pieces("SEND\ndestination:/q\n\nok\0SEND\nbroken\n\n\0"s);
  REQUIRE(p.frames.size() == 1);
  CHECK(p.frames[0].body == "ok");
  REQUIRE(p.failure);
  CHECK(p.failure->code == make_error_code(errc::malformed_header));
}

TEST_CASE("parse errors are sticky", "[stomp][malformed]") {
  parser p;
  p.feed("BOGUS\n\n\0"s);
  auto first = p.next();
  REQUIRE_FALSE(first);
  p.feed("SEND\n\n\0"s);  // ignored: the stream is unusable
  auto second = p.next();
  REQUIRE_FALSE(second);
  CHECK(second.err().message == first.err().message);
  CHECK(p.failed());
  CHECK(first.err().describe() == "unknown command 'BOGUS' (invalid command)");
  CHECK(first.code().category().name() == std::string("stomp"));
}

TEST_CASE("a body over the frame limit is rejected as it arrives", "[stomp][limits]") {
  limits l;
  l.max_frame_bytes = 1000;
  parser p(l);
  p.feed("SEND\ndestination:/q\n\n");
  const std::string chunk(100, 'x');
  std::optional<tandem::error> failure;
  std::size_t fed = 0;
  while (!failure && fed < 5000) {
    p.feed(chunk);
    fed += chunk.size();
    auto r = p.next();
    REQUIRE((!r || !*r));  // never a frame
    if (!r) failure = r.err();
  }
  REQUIRE(failure);
  CHECK(fed <= 1100);  // detected within one chunk of crossing the limit
  CHECK(failure->code == make_error_code(errc::frame_too_large));
  CHECK_THAT(failure->message, Contains("SEND frame body exceeds the frame limit of 1000 bytes"));
}

TEST_CASE("a declared content-length over the limit is rejected before the body arrives",
          "[stomp][limits]") {
  parser p;  // default limit: 10 MiB
  p.feed("SEND\ndestination:/q\ncontent-length:20000000\n\n");
  auto r = p.next();
  REQUIRE_FALSE(r);
  CHECK(r.err().code == make_error_code(errc::frame_too_large));
  CHECK(r.err().message == "content-length 20000000 exceeds the frame limit of 10485760 bytes");
}

TEST_CASE("a frame exactly at the limit is accepted", "[stomp][limits]") {
  limits l;
  l.max_frame_bytes = 64;
  const std::string head = "SEND\ncontent-length:";  // + digits + "\n\n" + body + NUL
  const std::string wire = head + "39\n\n" + std::string(39, 'b') + "\0"s;
  REQUIRE(wire.size() == 64);
  const parsed ok = parse_in_pieces(wire, version::v1_2, 0, l);
  REQUIRE_FALSE(ok.failure);
  REQUIRE(ok.frames.size() == 1);
  const std::string over = head + "40\n\n" + std::string(40, 'b') + "\0"s;
  const parsed bad = parse_in_pieces(over, version::v1_2, 0, l);
  REQUIRE(bad.failure);
  CHECK(bad.failure->code == make_error_code(errc::frame_too_large));
}

TEST_CASE("more headers than max_headers is an error", "[stomp][limits]") {
  limits l;
  l.max_headers = 10;
  std::string wire = "SEND\n";
  for (int i = 0; i < 10; ++i) wire += "h" + std::to_string(i) + ":v\n";
  const parsed ok = parse_in_pieces(wire + "\n\0"s, version::v1_2, 0, l);
  REQUIRE(ok.frames.size() == 1);
  CHECK(ok.frames[0].headers.size() == 10);
  const parsed bad = parse_in_pieces(wire + "h10:v\n\n\0"s, version::v1_2, 0, l);
  REQUIRE(bad.failure);
  CHECK(bad.failure->code == make_error_code(errc::too_many_headers));
  CHECK(bad.failure->message == "SEND frame has more than 10 headers");
}

TEST_CASE("an over-long header line is an error even before its EOL arrives", "[stomp][limits]") {
  limits l;
  l.max_header_bytes = 100;
  parser p(l);
  p.feed("SEND\nbig:" + std::string(200, 'v'));  // no LF yet
  auto r = p.next();
  REQUIRE_FALSE(r);
  CHECK(r.err().code == make_error_code(errc::header_too_long));
  CHECK_THAT(r.err().message, Contains("header line 1 ('big:vvv"));
  CHECK_THAT(r.err().message, Contains("exceeds the limit of 100 bytes"));
  // A line of exactly the limit (plus CR LF) is fine.
  const parsed ok = parse_in_pieces("SEND\nk:" + std::string(98, 'v') + "\r\n\r\n\0"s,
                                    version::v1_2, 1, l);
  REQUIRE_FALSE(ok.failure);
  REQUIRE(ok.frames.size() == 1);
}

TEST_CASE("random bytes never crash the parser", "[stomp][malformed]") {
  // Deterministic pseudo-random inputs mixing STOMP-ish tokens and noise.
  std::uint32_t seed = 12345;
  auto rnd = [&seed] { return seed = seed * 1103515245 + 12345, (seed >> 16) & 0x7fff; };
  const std::vector<std::string> tokens = {"SEND", "\n", "\r\n", ":", "\\", "\\c", "\0"s,
                                           "content-length:", "3", "-1", "abc", "MESSAGE"};
  for (int round = 0; round < 2000; ++round) {
    std::string wire;
    const int n = rnd() % 30;
    for (int i = 0; i < n; ++i) {
      if (rnd() % 4 == 0) wire += static_cast<char>(rnd() & 0xff);
      else wire += tokens[rnd() % tokens.size()];
    }
    for (version v : {version::v1_0, version::v1_2}) {
      const parsed p = parse_in_pieces(wire, v, 1 + rnd() % 7);
      if (p.failure) CHECK_FALSE(p.failure->message.empty());
    }
  }
}
