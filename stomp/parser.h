#pragma once
// Incremental STOMP 1.0/1.1/1.2 frame parser for a byte stream.
//
// A TCP connection delivers frames in arbitrary pieces: several frames in one read, or one byte
// per read. The parser buffers what it is given and hands out complete frames:
//
//   stomp::parser p;                       // limits from the broker configuration
//   p.feed(data, n);                       // or: read into p.prepare(64 * 1024), then p.commit(got)
//   while (true) {
//     auto r = p.next();
//     if (!r) { send_error_frame(r.err().message); close(); break; }   // sticky: stream is dead
//     if (!*r) break;                      // need more bytes
//     handle(std::move(**r));
//   }
//
// Wire rules implemented (STOMP 1.2 grammar, older versions noted):
//  - frame = command EOL *(header EOL) EOL body NUL *(EOL); EOL is LF or CR LF in every version.
//  - EOLs between frames are heart-beats and are consumed silently.
//  - header = name ":" value, split at the first ':' (values may contain ':'). Repeated headers
//    are all kept in wire order; frame::find() returns the first, which is the one that counts.
//  - 1.0: names and values are trimmed of spaces/tabs, and backslashes are literal.
//    1.1: "\n" "\c" "\\" are unescaped; 1.2 also "\r". Any other escape (e.g. "\t") or a
//    trailing lone backslash is an error. Headers of CONNECT, STOMP and CONNECTED frames are
//    never unescaped (they are exchanged before the version is negotiated).
//  - body: exactly content-length bytes (may contain NULs; the next byte must be NUL), or, with
//    no content-length, everything up to the first NUL.
//  - command must be one of the STOMP client or server commands (is_client_command /
//    is_server_command); anything else is an error.
//
// Limits (struct limits) are enforced as bytes arrive: a frame is rejected as soon as its
// buffered part or its declared content-length exceeds max_frame_bytes, so a peer cannot make
// the parser buffer more than about max_frame_bytes + one read.
//
// Errors are tandem::error with a stomp::errc code (stomp/errors.h) and a message that names the
// problem ("header line 3 has no ':'"). They are sticky: once next() has failed, every later
// call returns the same error and feed() ignores its input.
//
// Cost: every byte is scanned once (a scan offset survives across feeds) and consumed bytes are
// dropped by moving a read offset, with an occasional compaction, so parsing is linear in the
// input however it is split.
//
// Threading: none; one parser per connection, used from that connection's strand.

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "common/result.h"
#include "stomp/errors.h"
#include "stomp/frame.h"

namespace tandem::stomp {

struct limits {
  std::size_t max_frame_bytes = 10 << 20;  // whole frame: command, headers, body, NUL
  std::size_t max_headers = 1000;          // header lines per frame
  std::size_t max_header_bytes = 8192;     // one header line, before unescaping, without EOL
  std::size_t max_command_bytes = 64;      // the command line, without EOL
};

class parser {
 public:
  explicit parser(limits l = {}, version v = version::v1_0);
  parser(const parser&) = delete;
  parser& operator=(const parser&) = delete;
  parser(parser&&) = default;
  parser& operator=(parser&&) = default;

  // Escaping and whitespace rules for the frames that follow. Call after CONNECT (broker) or
  // CONNECTED (client) once the version is known; applies to frames whose command line has
  // not been parsed yet (i.e. from the next call to next() that starts a frame).
  void set_version(version v) { version_ = v; }
  version get_version() const { return version_; }
  const limits& get_limits() const { return limits_; }

  // Appends received bytes (copied).
  void feed(const char* data, std::size_t n);
  void feed(std::string_view data) { feed(data.data(), data.size()); }

  // Zero-copy alternative to feed(): returns at least n writable bytes at the end of the
  // buffer; write into them, then commit(k) with k <= n the number actually written. The span
  // is valid until the next call to any other member.
  std::span<char> prepare(std::size_t n);
  void commit(std::size_t n);

  // The next complete frame; std::nullopt when more bytes are needed; or the (sticky) error.
  result<std::optional<frame>> next();

  // Bytes received and not yet returned as part of a frame (includes a partly parsed frame's
  // body bytes, but not its already parsed command and headers).
  std::size_t buffered() const { return end_ - begin_; }
  // True when no frame is partly received (only heart-beats or nothing since the last frame).
  bool idle() const { return state_ == state::between_frames && buffered() == 0; }
  bool failed() const { return failure_.has_value(); }

 private:
  enum class state { between_frames, command, headers, body };

  result<std::optional<frame>> fail(errc code, std::string message);
  result<std::optional<frame>> fail(error e);
  // Offset of the LF ending the line that starts at begin_, or npos when incomplete. Sets
  // *nul_found for a NUL inside the line and *too_long when it exceeds `max` bytes.
  std::size_t find_line(std::size_t max, bool* nul_found, bool* too_long);
  std::optional<error> parse_command(std::string_view line);
  std::optional<error> parse_header(std::string_view line);
  std::optional<error> start_body();
  void consume(std::size_t n);
  void reserve(std::size_t extra);

  limits limits_;
  version version_;

  std::unique_ptr<char[]> data_;
  std::size_t capacity_ = 0;
  std::size_t begin_ = 0;  // first unconsumed byte
  std::size_t end_ = 0;    // one past the last received byte
  std::size_t scan_ = 0;   // bytes after begin_ already scanned for the current line/NUL

  state state_ = state::between_frames;
  frame current_;
  std::size_t frame_bytes_ = 0;  // bytes of the current frame consumed so far
  std::size_t header_lines_ = 0;
  bool escaped_ = false;         // headers of the current frame are unescaped (1.1+)
  bool trim_ = false;            // headers of the current frame are trimmed (1.0)
  bool content_length_seen_ = false;
  std::optional<std::size_t> content_length_;
  std::optional<error> failure_;
};

}  // namespace tandem::stomp
