#include "stomp/parser.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "stomp/escape.h"

namespace tandem::stomp {
namespace {

constexpr std::size_t npos = std::string_view::npos;
constexpr std::size_t min_capacity = 16 * 1024;
// An idle connection gives back a buffer that a large frame made big.
constexpr std::size_t idle_capacity_limit = 1 << 20;

// A short, printable rendering of untrusted bytes for error messages.
std::string excerpt(std::string_view s, std::size_t max = 40) {
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f) out += static_cast<char>(c);
    else out += fmt::format("\\x{:02x}", c);
  }
  if (s.size() > max) out += "...";
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Unescapes a 1.1/1.2 header name or value. On failure returns false and sets *bad to the
// offending escape sequence as the user wrote it.
bool unescape(std::string_view in, version v, std::string& out, std::string& bad) {
  out.clear();
  const char* p = in.data();
  const char* end = p + in.size();
  while (p < end) {
    const char* bs = static_cast<const char*>(std::memchr(p, '\\', end - p));
    if (!bs) {
      out.append(p, end);
      break;
    }
    out.append(p, bs);
    if (bs + 1 == end) {
      bad = "\\";
      return false;
    }
    switch (bs[1]) {
      case 'n': out += '\n'; break;
      case 'c': out += ':'; break;
      case '\\': out += '\\'; break;
      case 'r':
        if (v == version::v1_2) {
          out += '\r';
          break;
        }
        [[fallthrough]];
      default:
        bad = excerpt(std::string_view(bs, 2));
        return false;
    }
    p = bs + 2;
  }
  return true;
}

}  // namespace

parser::parser(limits l, version v) : limits_(l), version_(v) {}

void parser::reserve(std::size_t extra) {
  if (capacity_ - end_ >= extra) return;
  const std::size_t live = end_ - begin_;
  // Slide the live bytes to the front only when the dead prefix is at least as large as them:
  // each byte is then moved at most about once per time it is consumed (amortised O(1)),
  // instead of on every small feed while a large body trickles in.
  if (begin_ >= live && capacity_ - live >= extra) {
    std::memmove(data_.get(), data_.get() + begin_, live);
  } else {
    const std::size_t capacity = std::max({capacity_ * 2, live + extra, min_capacity});
    auto data = std::make_unique_for_overwrite<char[]>(capacity);
    if (live) std::memcpy(data.get(), data_.get() + begin_, live);
    data_ = std::move(data);
    capacity_ = capacity;
  }
  begin_ = 0;
  end_ = live;
}

void parser::feed(const char* data, std::size_t n) {
  if (failure_ || n == 0) return;
  reserve(n);
  std::memcpy(data_.get() + end_, data, n);
  end_ += n;
}

std::span<char> parser::prepare(std::size_t n) {
  reserve(n);
  return {data_.get() + end_, n};
}

void parser::commit(std::size_t n) {
  if (failure_) return;
  end_ += std::min(n, capacity_ - end_);
}

void parser::consume(std::size_t n) {
  begin_ += n;
  frame_bytes_ += n;
  scan_ = 0;
  if (begin_ == end_) {
    begin_ = end_ = 0;
    if (capacity_ > idle_capacity_limit && state_ == state::between_frames) {
      data_.reset();
      capacity_ = 0;
    }
  }
}

result<std::optional<frame>> parser::fail(errc code, std::string message) {
  return fail(error{code, std::move(message)});
}

result<std::optional<frame>> parser::fail(error e) {
  failure_ = std::move(e);
  // The stream is dead: release the buffer.
  data_.reset();
  capacity_ = begin_ = end_ = scan_ = 0;
  return *failure_;
}

std::size_t parser::find_line(std::size_t max, bool* nul_found, bool* too_long) {
  const char* base = data_.get() + begin_;
  const std::size_t avail = end_ - begin_;
  const char* from = base + scan_;
  const char* nl = static_cast<const char*>(std::memchr(from, '\n', avail - scan_));
  const char* stop = nl ? nl : base + avail;
  if (std::memchr(from, '\0', stop - from)) {
    *nul_found = true;
    return npos;
  }
  if (!nl) {
    scan_ = avail;
    // +1: the line may still turn out to end with CR LF.
    if (avail > max + 1) *too_long = true;
    return npos;
  }
  std::size_t len = nl - base;
  if (len > 0 && base[len - 1] == '\r') --len;
  if (len > max) *too_long = true;
  return nl - base;
}

result<std::optional<frame>> parser::next() {
  if (failure_) return *failure_;
  for (;;) {
    switch (state_) {
      case state::between_frames: {
        // Heart-beats: EOLs between frames.
        while (begin_ < end_ && (data_[begin_] == '\n' || data_[begin_] == '\r')) ++begin_;
        if (begin_ == end_) {
          begin_ = end_ = 0;
          return std::optional<frame>{};
        }
        state_ = state::command;
        current_ = frame{};
        frame_bytes_ = 0;
        header_lines_ = 0;
        content_length_.reset();
        content_length_seen_ = false;
        scan_ = 0;
        break;
      }
      case state::command: {
        bool nul = false, too_long = false;
        const std::size_t eol = find_line(limits_.max_command_bytes, &nul, &too_long);
        if (nul)
          return fail(errc::invalid_command,
                      fmt::format("NUL byte inside the command line '{}'",
                                  excerpt({data_.get() + begin_, std::min<std::size_t>(
                                                                     end_ - begin_, 40)})));
        if (too_long)
          return fail(errc::command_too_long,
                      fmt::format("command line '{}' exceeds the limit of {} bytes",
                                  excerpt({data_.get() + begin_, end_ - begin_}),
                                  limits_.max_command_bytes));
        if (eol == npos) return std::optional<frame>{};
        std::string_view line(data_.get() + begin_, eol);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (auto e = parse_command(line)) return fail(std::move(*e));
        consume(eol + 1);
        state_ = state::headers;
        break;
      }
      case state::headers: {
        bool nul = false, too_long = false;
        const std::size_t eol = find_line(limits_.max_header_bytes, &nul, &too_long);
        if (nul)
          return fail(errc::malformed_header,
                      fmt::format("{} frame ended (NUL byte) inside its headers, after {} header "
                                  "line(s) and before the blank line that ends them",
                                  current_.command, header_lines_));
        if (too_long)
          return fail(errc::header_too_long,
                      fmt::format("header line {} ('{}') exceeds the limit of {} bytes",
                                  header_lines_ + 1,
                                  excerpt({data_.get() + begin_, end_ - begin_}),
                                  limits_.max_header_bytes));
        if (eol == npos) return std::optional<frame>{};
        if (frame_bytes_ + eol + 1 > limits_.max_frame_bytes)
          return fail(errc::frame_too_large,
                      fmt::format("{} frame headers exceed the frame limit of {} bytes",
                                  current_.command, limits_.max_frame_bytes));
        std::string_view line(data_.get() + begin_, eol);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) {
          consume(eol + 1);
          if (auto e = start_body()) return fail(std::move(*e));
          state_ = state::body;
          break;
        }
        if (++header_lines_ > limits_.max_headers)
          return fail(errc::too_many_headers,
                      fmt::format("{} frame has more than {} headers", current_.command,
                                  limits_.max_headers));
        if (auto e = parse_header(line)) return fail(std::move(*e));
        consume(eol + 1);
        break;
      }
      case state::body: {
        const char* base = data_.get() + begin_;
        const std::size_t avail = end_ - begin_;
        std::size_t len;
        if (content_length_) {
          len = *content_length_;
          if (avail < len + 1) return std::optional<frame>{};
          if (base[len] != '\0')
            return fail(errc::missing_nul,
                        fmt::format("missing NUL after a body of content-length {} (found '{}')",
                                    len, excerpt({base + len, 1})));
        } else {
          const void* nul = std::memchr(base + scan_, '\0', avail - scan_);
          if (!nul) {
            scan_ = avail;
            if (frame_bytes_ + avail + 1 > limits_.max_frame_bytes)
              return fail(errc::frame_too_large,
                          fmt::format("{} frame body exceeds the frame limit of {} bytes",
                                      current_.command, limits_.max_frame_bytes));
            return std::optional<frame>{};
          }
          len = static_cast<const char*>(nul) - base;
        }
        current_.body.assign(base, len);
        state_ = state::between_frames;
        consume(len + 1);
        return std::optional<frame>{std::move(current_)};
      }
    }
  }
}

std::optional<error> parser::parse_command(std::string_view line) {
  if (is_client_command(line) || is_server_command(line)) {
    current_.command.assign(line);
    escaped_ = escapes_headers(line, version_);
    trim_ = version_ == version::v1_0;
    return std::nullopt;
  }
  if (line.find(':') != npos)
    return error{errc::invalid_command,
                 fmt::format("expected a command but got a header line '{}' (a header before "
                             "the command?)",
                             excerpt(line))};
  if (line.empty()) return error{errc::invalid_command, "empty command line"};
  return error{errc::invalid_command, fmt::format("unknown command '{}'", excerpt(line))};
}

std::optional<error> parser::parse_header(std::string_view line) {
  const std::size_t colon = line.find(':');
  if (colon == npos)
    return error{errc::malformed_header,
                 fmt::format("header line {} has no ':' ('{}')", header_lines_, excerpt(line))};
  std::string_view name = line.substr(0, colon);
  std::string_view value = line.substr(colon + 1);
  if (trim_) {
    name = trim(name);
    value = trim(value);
  }
  if (name.empty())
    return error{errc::malformed_header,
                 fmt::format("header line {} has an empty name ('{}')", header_lines_,
                             excerpt(line))};
  auto& [key, val] = current_.headers.emplace_back();
  if (escaped_) {
    std::string bad;
    if (!unescape(name, version_, key, bad))
      return error{errc::invalid_escape,
                   fmt::format("{} escape sequence '{}' in the name of header line {}",
                               bad == "\\" ? "incomplete" : "undefined", bad, header_lines_)};
    if (!unescape(value, version_, val, bad))
      return error{errc::invalid_escape,
                   fmt::format("{} escape sequence '{}' in header '{}'",
                               bad == "\\" ? "incomplete" : "undefined", bad, excerpt(key))};
  } else {
    key.assign(name);
    val.assign(value);
  }
  if (key == "content-length" && !content_length_seen_) {
    // Only the first occurrence counts (repeated headers: first wins).
    content_length_seen_ = true;
    if (!val.empty() && val[0] == '-')
      return error{errc::invalid_content_length,
                   fmt::format("content-length '{}' is negative", excerpt(val))};
    if (val.empty() ||
        !std::all_of(val.begin(), val.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return error{errc::invalid_content_length,
                   fmt::format("content-length '{}' is not a number", excerpt(val))};
    if (val.size() > 18)
      return error{errc::invalid_content_length,
                   fmt::format("content-length '{}' is too large", excerpt(val))};
    content_length_ = std::stoull(val);
  }
  return std::nullopt;
}

std::optional<error> parser::start_body() {
  // Checked before any body byte is buffered, so a peer cannot make us wait for (and buffer)
  // a body we will reject anyway.
  if (content_length_ && (*content_length_ > limits_.max_frame_bytes ||
                          frame_bytes_ + *content_length_ + 1 > limits_.max_frame_bytes))
    return error{errc::frame_too_large,
                 fmt::format("content-length {} exceeds the frame limit of {} bytes",
                             *content_length_, limits_.max_frame_bytes)};
  return std::nullopt;
}

}  // namespace tandem::stomp
