#pragma once
// Header escaping rules shared by the parser and the encoder.
//
//   version  escape sequences   for octets
//   1.0      none               (backslashes are literal)
//   1.1      \n \c \\           LF, ':', backslash
//   1.2      \r \n \c \\        CR, LF, ':', backslash
//
// CONNECT, STOMP and CONNECTED frames are never escaped: they are exchanged before the peers
// have agreed on a version.

#include <string>
#include <string_view>

#include "stomp/frame.h"

namespace tandem::stomp {

// Whether the headers of a frame with this command are escaped in version v.
bool escapes_headers(std::string_view command, version v);

// Appends s to out with the escapes of version v (1.1 or 1.2). 1.1 has no escape for CR: a CR
// is written raw, except as the last byte (it would read as part of a CR LF), where it becomes
// a space. A NUL (which no version can escape, and which the parser rejects inside headers
// because it would end the frame) is written as a space.
void append_escaped(std::string_view s, version v, std::string& out);

// Appends s to out for a frame whose headers are not escaped. CR, LF and NUL (which would end
// the line or the frame) become spaces, and in a header name ':' becomes '_': such a header cannot be
// represented, and a mangled header is better than a desynchronised stream.
void append_unescaped(std::string_view s, bool is_name, std::string& out);

}  // namespace tandem::stomp
