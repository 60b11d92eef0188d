#pragma once
// Error codes of the STOMP codec. Every parse failure is a tandem::error whose code is one of
// these (category "stomp") and whose message names the offending line, header or value, so the
// broker can put it straight into an ERROR frame's `message` header.

#include <system_error>

namespace tandem::stomp {

enum class errc {
  frame_too_large = 1,     // the frame (or its declared content-length) exceeds limits::max_frame_bytes
  too_many_headers,        // more than limits::max_headers header lines
  header_too_long,         // one header line exceeds limits::max_header_bytes
  command_too_long,        // the command line exceeds limits::max_command_bytes
  invalid_command,         // empty, unknown or garbage command line (or a NUL inside it)
  malformed_header,        // no ':', empty name, or a NUL inside the header block
  invalid_escape,          // undefined or truncated escape sequence (STOMP 1.1/1.2)
  invalid_content_length,  // content-length is not a non-negative decimal number
  missing_nul,             // the byte after a content-length body is not NUL
};

const std::error_category& stomp_category();
std::error_code make_error_code(errc e);

}  // namespace tandem::stomp

template <>
struct std::is_error_code_enum<tandem::stomp::errc> : std::true_type {};
