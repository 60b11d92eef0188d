// Round trips (encode → parse), escaping per version, partial reads, heart-beats, bodies.

#include <catch2/catch.hpp>

#include "stomp/encoder.h"
#include "stomp/parser.h"
#include "tests/unit/stomp/parse_helpers.h"

using namespace tandem::stomp;
using namespace tandem::stomp::testing;
using namespace std::string_literals;

namespace {

const version all_versions[] = {version::v1_0, version::v1_1, version::v1_2};

// One frame of every command, as a peer would send it.
std::vector<frame> every_frame_type() {
  return {
      {"CONNECT", {{"accept-version", "1.0,1.1,1.2"}, {"host", "broker"}, {"heart-beat", "0,0"}}, ""},
      {"STOMP", {{"accept-version", "1.2"}, {"host", "broker"}, {"login", "guest"}}, ""},
      {"CONNECTED", {{"version", "1.2"}, {"session", "s-1"}, {"server", "tandem/0.1"}}, ""},
      {"SEND", {{"destination", "/queue/a"}, {"content-type", "text/plain"}, {"content-length", "5"}}, "hello"},
      {"SUBSCRIBE", {{"id", "0"}, {"destination", "/topic/t"}, {"ack", "client-individual"}}, ""},
      {"UNSUBSCRIBE", {{"id", "0"}}, ""},
      {"ACK", {{"id", "m-1"}, {"transaction", "tx1"}}, ""},
      {"NACK", {{"id", "m-2"}}, ""},
      {"BEGIN", {{"transaction", "tx1"}}, ""},
      {"COMMIT", {{"transaction", "tx1"}}, ""},
      {"ABORT", {{"transaction", "tx1"}}, ""},
      {"DISCONNECT", {{"receipt", "77"}}, ""},
      {"MESSAGE", {{"subscription", "0"}, {"message-id", "ID:1"}, {"destination", "/queue/a"}, {"content-length", "3"}}, "abc"},
      {"RECEIPT", {{"receipt-id", "77"}}, ""},
      {"ERROR", {{"message", "malformed frame"}, {"content-length", "6"}}, "detail"},
  };
}

}  // namespace

TEST_CASE("every frame type round-trips through encode and parse in each version", "[stomp][codec]") {
  for (version v : all_versions) {
    std::string wire;
    const auto frames = every_frame_type();
    for (const auto& f : frames) encode(f, v, wire);
    const parsed p = parse_in_pieces(wire, v);
    INFO("version " << to_string(v));
    REQUIRE_FALSE(p.failure);
    REQUIRE(p.frames.size() == frames.size());
    for (std::size_t i = 0; i < frames.size(); ++i) {
      INFO("frame " << frames[i].command);
      CHECK(same_frame(p.frames[i], frames[i]));
    }
  }
}

TEST_CASE("encoder writes the documented wire bytes", "[stomp][codec]") {
  frame f{"SEND", {{"destination", "/queue/a"}}, "hi"};
  CHECK(encode(f, version::v1_2) == "SEND\ndestination:/queue/a\ncontent-length:2\n\nhi\0"s);
  frame empty{"SUBSCRIBE", {{"id", "1"}}, ""};
  CHECK(encode(empty, version::v1_2) == "SUBSCRIBE\nid:1\n\n\0"s);
  std::string out = "x";
  encode_heartbeat(out);
  CHECK(out == "x\n");
}

TEST_CASE("encoder corrects a stale content-length and drops repeats", "[stomp][codec]") {
  frame f{"SEND", {{"content-length", "99"}, {"destination", "/q"}, {"content-length", "1"}}, "abc"};
  CHECK(encode(f, version::v1_1) == "SEND\ncontent-length:3\ndestination:/q\n\nabc\0"s);
}

TEST_CASE("header values with special characters are escaped per version", "[stomp][codec]") {
  frame f{"MESSAGE", {{"key:colon", "a:b\nc\\d"}, {"cr", "x\ry"}}, ""};
  SECTION("1.2 escapes colon, LF, backslash and CR") {
    const std::string wire = encode(f, version::v1_2);
    CHECK(wire == "MESSAGE\nkey\\ccolon:a\\cb\\nc\\\\d\ncr:x\\ry\n\n\0"s);
    const parsed p = parse_in_pieces(wire, version::v1_2);
    REQUIRE(p.frames.size() == 1);
    CHECK(same_frame(p.frames[0], f));
  }
  SECTION("1.1 escapes colon, LF and backslash; CR stays raw inside a value") {
    const std::string wire = encode(f, version::v1_1);
    CHECK(wire == "MESSAGE\nkey\\ccolon:a\\cb\\nc\\\\d\ncr:x\ry\n\n\0"s);
    const parsed p = parse_in_pieces(wire, version::v1_1);
    REQUIRE(p.frames.size() == 1);
    CHECK(same_frame(p.frames[0], f));
  }
  SECTION("1.0 does not escape; backslashes are literal; LF becomes a space") {
    const std::string wire = encode(f, version::v1_0);
    CHECK(wire == "MESSAGE\nkey_colon:a:b c\\d\ncr:x y\n\n\0"s);
    const parsed p = parse_in_pieces(wire, version::v1_0);
    REQUIRE(p.frames.size() == 1);
    CHECK(p.frames[0].get("key_colon") == "a:b c\\d");
  }
}

TEST_CASE("a raw colon in a header value is accepted in every version", "[stomp][codec]") {
  for (version v : all_versions) {
    const parsed p = parse_in_pieces("SEND\ndestination:/queue/a:b:c\n\n\0"s, v);
    REQUIRE(p.frames.size() == 1);
    CHECK(p.frames[0].get("destination") == "/queue/a:b:c");
  }
}

TEST_CASE("a NUL in a header is written as a space in every version", "[stomp][codec]") {
  frame f{"SEND", {{"a\0b"s, "c\0d"s}}, ""};
  CHECK(encode(f, version::v1_2) == "SEND\na b:c d\n\n\0"s);
  CHECK(encode(f, version::v1_0) == "SEND\na b:c d\n\n\0"s);
}

TEST_CASE("CONNECT, STOMP and CONNECTED headers are never escaped or unescaped", "[stomp][codec]") {
  frame connect{"CONNECT", {{"login", "dom\\user"}, {"passcode", "p:w"}}, ""};
  const std::string wire = encode(connect, version::v1_2);
  CHECK(wire == "CONNECT\nlogin:dom\\user\npasscode:p:w\n\n\0"s);
  for (const char* command : {"CONNECT", "STOMP", "CONNECTED"}) {
    const parsed p = parse_in_pieces(std::string(command) + "\nlogin:dom\\user\\t\n\n\0"s,
                                     version::v1_2);
    INFO(command);
    REQUIRE_FALSE(p.failure);
    REQUIRE(p.frames.size() == 1);
    CHECK(p.frames[0].get("login") == "dom\\user\\t");
  }
}

TEST_CASE("STOMP 1.0 trims whitespace around names and values, 1.1+ keeps it", "[stomp][codec]") {
  const std::string wire = "SEND\n destination : /queue/a \n\n\0"s;
  const parsed p10 = parse_in_pieces(wire, version::v1_0);
  REQUIRE(p10.frames.size() == 1);
  CHECK(p10.frames[0].get("destination") == "/queue/a");
  const parsed p12 = parse_in_pieces(wire, version::v1_2);
  REQUIRE(p12.frames.size() == 1);
  CHECK(p12.frames[0].get(" destination ") == " /queue/a ");
}

TEST_CASE("repeated headers are all kept and the first one wins", "[stomp][codec]") {
  const parsed p = parse_in_pieces("MESSAGE\nfoo:World\nfoo:Hello\n\n\0"s);
  REQUIRE(p.frames.size() == 1);
  CHECK(p.frames[0].headers.size() == 2);
  CHECK(p.frames[0].get("foo") == "World");
  // Only the first content-length counts.
  const parsed q = parse_in_pieces("SEND\ncontent-length:2\ncontent-length:5\n\nab\0"s);
  REQUIRE(q.frames.size() == 1);
  CHECK(q.frames[0].body == "ab");
}

TEST_CASE("every frame survives being fed one byte at a time", "[stomp][codec][partial]") {
  for (version v : all_versions) {
    std::string wire;
    const auto frames = every_frame_type();
    for (const auto& f : frames) {
      encode(f, v, wire);
      encode_heartbeat(wire);
    }
    const parsed p = parse_in_pieces(wire, v, 1);
    REQUIRE_FALSE(p.failure);
    REQUIRE(p.frames.size() == frames.size());
    for (std::size_t i = 0; i < frames.size(); ++i) CHECK(same_frame(p.frames[i], frames[i]));
  }
}

TEST_CASE("a stream split at every position parses the same", "[stomp][codec][partial]") {
  std::string wire;
  frame with_length{"SEND", {{"destination", "/queue/a"}, {"x", "a\\b"}}, "bo\0dy"s};
  frame without_length{"SEND", {{"destination", "/queue/b"}}, ""};
  encode(with_length, version::v1_2, wire);
  with_length.add("content-length", "5");  // added by the encoder
  wire += "\r\n\n";
  encode(without_length, version::v1_2, wire);
  wire += "MESSAGE\r\nk:v\r\n\r\nplain text\0"s;
  for (std::size_t split = 0; split <= wire.size(); ++split) {
    const parsed p = parse_split(wire, split);
    INFO("split at " << split);
    REQUIRE_FALSE(p.failure);
    REQUIRE(p.frames.size() == 3);
    CHECK(same_frame(p.frames[0], with_length));
    CHECK(same_frame(p.frames[1], without_length));
    CHECK(p.frames[2].body == "plain text");
    CHECK(p.frames[2].get("k") == "v");
  }
}

TEST_CASE("several frames in one buffer with heart-beats between them", "[stomp][codec]") {
  const std::string wire = "\n\r\nSEND\ndestination:/q\n\n1\0\n\n\nSEND\ndestination:/q\n\n2\0\r\n"s
                           "\nSEND\ndestination:/q\n\n3\0\n"s;
  parser p;
  p.feed(wire);
  std::vector<std::string> bodies;
  for (;;) {
    auto r = p.next();
    REQUIRE(r);
    if (!*r) break;
    bodies.push_back((*r)->body);
  }
  CHECK(bodies == std::vector<std::string>{"1", "2", "3"});
  CHECK(p.buffered() == 0);
  CHECK(p.idle());
}

TEST_CASE("heart-beats alone produce no frame", "[stomp][codec]") {
  parser p;
  p.feed("\n\n\r\n\n");
  auto r = p.next();
  REQUIRE(r);
  CHECK_FALSE(*r);
  CHECK(p.idle());
}

TEST_CASE("a body with NULs survives via content-length", "[stomp][codec]") {
  const std::string body = "\0\0binary\0data\0"s;
  for (version v : all_versions) {
    frame f{"SEND", {{"destination", "/queue/bin"}}, body};
    const parsed p = parse_in_pieces(encode(f, v) + encode(f, v), v, 3);
    REQUIRE(p.frames.size() == 2);
    CHECK(p.frames[0].body == body);
    CHECK(p.frames[1].body == body);
    CHECK(p.frames[0].get("content-length") == std::to_string(body.size()));
  }
}

TEST_CASE("without content-length the body ends at the first NUL", "[stomp][codec]") {
  const parsed p = parse_in_pieces("SEND\ndestination:/q\n\nhello\0ACK\nid:1\n\n\0"s);
  REQUIRE_FALSE(p.failure);
  REQUIRE(p.frames.size() == 2);
  CHECK(p.frames[0].body == "hello");
  CHECK(p.frames[1].command == "ACK");
}

TEST_CASE("CR LF line endings are accepted in every version", "[stomp][codec]") {
  for (version v : all_versions) {
    const parsed p = parse_in_pieces("SEND\r\ndestination:/queue/a\r\nreceipt:r1\r\n\r\nbody\0\r\n"s, v);
    REQUIRE(p.frames.size() == 1);
    CHECK(p.frames[0].command == "SEND");
    CHECK(p.frames[0].get("destination") == "/queue/a");
    CHECK(p.frames[0].get("receipt") == "r1");
    CHECK(p.frames[0].body == "body");
  }
}

TEST_CASE("set_version switches escaping after the CONNECT frame", "[stomp][codec]") {
  parser p({}, version::v1_0);
  p.feed("CONNECT\naccept-version:1.2\n\n\0SEND\ndestination:/a\\cb\n\n\0"s);
  auto connect = p.next();
  REQUIRE(connect);
  REQUIRE(*connect);
  CHECK((*connect)->command == "CONNECT");
  p.set_version(version::v1_2);
  auto send = p.next();
  REQUIRE(send);
  REQUIRE(*send);
  CHECK((*send)->get("destination") == "/a:b");
}

TEST_CASE("zero-copy prepare and commit feed the parser", "[stomp][codec]") {
  parser p;
  const std::string wire = "SEND\ndestination:/q\n\nzero-copy\0"s;
  auto span = p.prepare(wire.size() + 100);
  std::copy(wire.begin(), wire.end(), span.begin());
  p.commit(wire.size());
  auto r = p.next();
  REQUIRE(r);
  REQUIRE(*r);
  CHECK((*r)->body == "zero-copy");
}

TEST_CASE("a large body trickling in is not rescanned or recopied quadratically", "[stomp][codec]") {
  // 4 MiB in 4 KiB pieces without content-length: each piece is scanned once.
  const std::string body(4 << 20, 'x');
  const std::string wire = "SEND\ndestination:/q\n\n" + body + "\0"s;
  const parsed p = parse_in_pieces(wire, version::v1_2, 4096);
  REQUIRE(p.frames.size() == 1);
  CHECK(p.frames[0].body.size() == body.size());
}

TEST_CASE("random frames round-trip through random splits in 1.2", "[stomp][codec][partial]") {
  std::uint32_t seed = 7;
  auto rnd = [&seed] { return seed = seed * 1103515245 + 12345, (seed >> 16) & 0x7fff; };
  const std::string alphabet = "ab:\\\n\r\t %\0xyz"s;
  auto random_text = [&](std::size_t max, bool nul = true) {
    std::string s;
    for (std::size_t n = rnd() % max; n > 0; --n) {
      const char c = alphabet[rnd() % alphabet.size()];
      if (c || nul) s += c;
    }
    return s;
  };
  const char* commands[] = {"SEND", "MESSAGE", "ERROR", "ACK", "SUBSCRIBE"};
  for (int round = 0; round < 300; ++round) {
    std::vector<frame> frames;
    std::string wire;
    for (int i = 0, n = 1 + rnd() % 4; i < n; ++i) {
      frame f{commands[rnd() % 5], {}, random_text(200)};
      for (int h = 0, hn = rnd() % 6; h < hn; ++h) f.add("k" + random_text(8, false), random_text(20, false));
      encode(f, version::v1_2, wire);
      if (!f.body.empty()) f.set("content-length", std::to_string(f.body.size()));
      if (rnd() % 2) encode_heartbeat(wire);
      frames.push_back(std::move(f));
    }
    const parsed p = parse_in_pieces(wire, version::v1_2, 1 + rnd() % 50);
    REQUIRE_FALSE(p.failure);
    REQUIRE(p.frames.size() == frames.size());
    for (std::size_t i = 0; i < frames.size(); ++i) CHECK(same_frame(p.frames[i], frames[i]));
  }
}
