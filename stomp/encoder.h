#pragma once
// STOMP frame encoder: the inverse of stomp::parser.
//
// encode() appends the wire bytes of one frame to `out` (so a session can batch several frames
// into one write buffer):
//   command LF, one "name:value" LF per header in order, LF, body, NUL.
// Rules:
//  - Header names and values are escaped per version (stomp/escape.h); CONNECT, STOMP and
//    CONNECTED frames and every 1.0 frame are written unescaped (an LF or CR in them becomes a
//    space, so a bad header can never desynchronise the stream). A NUL in a header has no
//    escape in any version and becomes a space.
//  - content-length: when the frame has a content-length header, its first occurrence is written
//    with the real body size (a stale value would corrupt the stream) and later ones are dropped;
//    when it has none and the body is non-empty, "content-length:<size>" is appended, so bodies
//    containing NULs survive. An empty body without the header gets none (ActiveMQ-style peers
//    treat a frame with content-length as a bytes message).
//  - EOL is a bare LF (valid in every version).
// Thread-safe: pure functions.

#include <string>
#include <string_view>

#include "stomp/frame.h"

namespace tandem::stomp {

void encode(const frame& f, version v, std::string& out);
// The same with `body` written in place of f.body (which is ignored), so a caller can send a
// body it does not own (a stored message delivered to many subscribers) without copying it
// into the frame first.
void encode(const frame& f, std::string_view body, version v, std::string& out);
std::string encode(const frame& f, version v);

// A heart-beat is a single EOL sent between frames.
inline constexpr char heartbeat_byte = '\n';
inline void encode_heartbeat(std::string& out) { out += heartbeat_byte; }

}  // namespace tandem::stomp
