#pragma once
// The web console's static files (broker/console/), embedded into the binary at build time by
// broker/console/embed.cmake. The bytes live in static storage for the life of the process.

#include <span>
#include <string_view>

namespace tandem::broker {

struct console_asset {
  std::string_view path;          // relative to broker/console/, e.g. "js/main.js"
  std::string_view content_type;  // e.g. "text/javascript; charset=utf-8"
  std::string_view bytes;
  std::string_view etag;          // W/"<hash of the bytes>", a weak validator (see embed.cmake)
};

// The file at `path` (relative, no leading slash), or nullptr.
const console_asset* find_console_asset(std::string_view path);

// Every embedded file, sorted by path.
std::span<const console_asset> console_assets();

}  // namespace tandem::broker
