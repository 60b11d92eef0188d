#include "stomp/errors.h"

#include <string>

namespace tandem::stomp {
namespace {

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "stomp"; }
  std::string message(int code) const override {
    switch (static_cast<errc>(code)) {
      case errc::frame_too_large: return "frame too large";
      case errc::too_many_headers: return "too many headers";
      case errc::header_too_long: return "header line too long";
      case errc::command_too_long: return "command line too long";
      case errc::invalid_command: return "invalid command";
      case errc::malformed_header: return "malformed header";
      case errc::invalid_escape: return "invalid escape sequence";
      case errc::invalid_content_length: return "invalid content-length";
      case errc::missing_nul: return "missing NUL at end of frame";
    }
    return "unknown stomp error " + std::to_string(code);
  }
};

}  // namespace

const std::error_category& stomp_category() {
  static const category instance;
  return instance;
}

std::error_code make_error_code(errc e) { return {static_cast<int>(e), stomp_category()}; }

}  // namespace tandem::stomp
