# Turns the console's static files into a C++ source file, so tandem-broker carries its console
# and needs no files beside it at run time.
#
# Run as a script at build time (broker/CMakeLists.txt):
#   cmake -DSOURCE_DIR=<broker/console> -DOUTPUT=<file.cc> -DFILES=<rel;rel;...> -P embed.cmake
# Each file becomes a byte array plus its content type and an ETag (a SHA-256 prefix of its
# bytes, so a rebuilt broker with a changed file never serves a stale copy from a cache). The
# ETag is weak because the HTTP server may send the same bytes gzip-compressed.

cmake_minimum_required(VERSION 3.25)

function(content_type_of name out)
  get_filename_component(ext "${name}" LAST_EXT)
  string(TOLOWER "${ext}" ext)
  if(ext STREQUAL ".html")
    set(type "text/html; charset=utf-8")
  elseif(ext STREQUAL ".css")
    set(type "text/css; charset=utf-8")
  elseif(ext STREQUAL ".js")
    set(type "text/javascript; charset=utf-8")
  elseif(ext STREQUAL ".svg")
    set(type "image/svg+xml")
  elseif(ext STREQUAL ".png")
    set(type "image/png")
  else()
    message(FATAL_ERROR "console file ${name}: no content type for '${ext}' (add one to embed.cmake)")
  endif()
  set(${out} "${type}" PARENT_SCOPE)
endfunction()

set(arrays "")
set(table "")
set(index 0)
list(SORT FILES)
foreach(rel IN LISTS FILES)
  set(path "${SOURCE_DIR}/${rel}")
  file(READ "${path}" hex HEX)
  file(SIZE "${path}" size)
  file(SHA256 "${path}" digest)
  string(SUBSTRING "${digest}" 0 20 etag)
  content_type_of("${rel}" type)
  # Two hex digits per byte -> "0x..,"; 32 bytes per line keeps the generated file readable
  # (CMake's regular expressions have no {n}, hence the spelled-out group).
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
  string(REPEAT "0x..," 32 row)
  string(REGEX REPLACE "(${row})" "\\1\n    " hex "${hex}")
  string(APPEND arrays "// ${rel}\nconstexpr unsigned char file_${index}[] = {\n    ${hex}0};\n")
  string(APPEND table "    {\"${rel}\", \"${type}\", {reinterpret_cast<const char*>(file_${index}), ${size}}, \"W/\\\"${etag}\\\"\"},\n")
  math(EXPR index "${index} + 1")
endforeach()

set(text "// Generated from broker/console/ by broker/console/embed.cmake at build time. Do not edit.
#include \"broker/console_assets.h\"

#include <algorithm>
#include <iterator>

namespace tandem::broker {
namespace {

${arrays}
// Sorted by path (the list was sorted above), for a binary search.
const console_asset assets[] = {
${table}};

}  // namespace

const console_asset* find_console_asset(std::string_view path) {
  auto it = std::lower_bound(std::begin(assets), std::end(assets), path,
                             [](const console_asset& a, std::string_view p) { return a.path < p; });
  return it != std::end(assets) && it->path == path ? &*it : nullptr;
}

std::span<const console_asset> console_assets() { return assets; }

}  // namespace tandem::broker
")

# Rewrite only when the text changed, so an unrelated reconfigure recompiles nothing.
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" old)
  if(old STREQUAL text)
    return()
  endif()
endif()
file(WRITE "${OUTPUT}" "${text}")
