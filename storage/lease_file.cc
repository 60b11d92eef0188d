#include "storage/lease_file.h"

#include <fmt/format.h>

#include <charconv>
#include <vector>

#include "storage/crc32c.h"

namespace tandem::storage {
namespace {

constexpr std::string_view epoch_prefix = "epoch-";
constexpr std::size_t epoch_digits = 20;
constexpr std::string_view record_magic = "tandem-lease v1 ";
constexpr std::string_view crc_key = " crc32c=";

bool parse_u64(std::string_view s, std::uint64_t& out, int base = 10) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
  return ec == std::errc() && p == s.data() + s.size();
}

// Consumes "key=value" up to the next space (or the end) from `rest`.
bool take_field(std::string_view& rest, std::string_view key, std::string_view& value) {
  if (rest.substr(0, key.size()) != key || rest.size() <= key.size() || rest[key.size()] != '=') return false;
  rest.remove_prefix(key.size() + 1);
  auto space = rest.find(' ');
  value = rest.substr(0, space);
  rest.remove_prefix(space == std::string_view::npos ? rest.size() : space + 1);
  return true;
}

}  // namespace

bool valid_lease_field(std::string_view s) {
  if (s.size() > max_lease_field_size) return false;
  for (char c : s) {
    if (c <= ' ' || c == '=' || c == 0x7f) return false;
  }
  return true;
}

std::string encode_lease_record(const lease_record& r) {
  std::string body = fmt::format("{}epoch={} counter={} released={} holder={} ha={}", record_magic,
                                 r.epoch.value(), r.counter, r.released ? 1 : 0, r.holder, r.ha_address);
  // Only when set, so a node without a console writes what nodes before the field read.
  if (!r.console.empty()) body += fmt::format(" console={}", r.console);
  std::uint32_t crc = crc32c::value(body.data(), body.size());
  return fmt::format("{}{}{:08x}\n", body, crc_key, crc);
}

std::optional<lease_record> decode_lease_record(std::string_view bytes) {
  auto nl = bytes.find('\n');
  if (nl == std::string_view::npos) return std::nullopt;  // torn: the newline is written last
  std::string_view line = bytes.substr(0, nl);
  auto crc_at = line.rfind(crc_key);
  if (crc_at == std::string_view::npos) return std::nullopt;
  std::string_view body = line.substr(0, crc_at);
  std::string_view crc_text = line.substr(crc_at + crc_key.size());
  std::uint64_t stored = 0;
  if (crc_text.size() != 8 || !parse_u64(crc_text, stored, 16)) return std::nullopt;
  if (crc32c::value(body.data(), body.size()) != stored) return std::nullopt;

  if (body.substr(0, record_magic.size()) != record_magic) return std::nullopt;
  std::string_view rest = body.substr(record_magic.size());
  std::string_view epoch, counter, released, holder, ha, console;
  if (!take_field(rest, "epoch", epoch) || !take_field(rest, "counter", counter) ||
      !take_field(rest, "released", released) || !take_field(rest, "holder", holder) ||
      !take_field(rest, "ha", ha)) {
    return std::nullopt;
  }
  if (!rest.empty() && (!take_field(rest, "console", console) || console.empty() || !rest.empty())) {
    return std::nullopt;
  }
  lease_record r;
  std::uint64_t e = 0;
  if (!parse_u64(epoch, e) || !parse_u64(counter, r.counter)) return std::nullopt;
  if (released != "0" && released != "1") return std::nullopt;
  r.epoch = epoch_t(e);
  r.released = released == "1";
  r.holder = std::string(holder);
  r.ha_address = std::string(ha);
  r.console = std::string(console);
  return r;
}

std::string epoch_file_name(epoch_t e) { return fmt::format("{}{:020}", epoch_prefix, e.value()); }

std::optional<epoch_t> parse_epoch_file_name(std::string_view name) {
  if (name.size() != epoch_prefix.size() + epoch_digits || name.substr(0, epoch_prefix.size()) != epoch_prefix) {
    return std::nullopt;
  }
  std::uint64_t v = 0;
  if (!parse_u64(name.substr(epoch_prefix.size()), v)) return std::nullopt;
  return epoch_t(v);
}

result<std::optional<epoch_t>> newest_epoch(file_system& fs, const std::string& dir) {
  auto names = fs.list(dir);
  if (!names) return names.err();
  std::optional<epoch_t> newest;
  for (const auto& n : *names) {
    auto e = parse_epoch_file_name(n);
    if (e && (!newest || *e > *newest)) newest = e;
  }
  return newest;
}

result<std::optional<lease_record>> read_lease_record(file_system& fs, const std::string& dir, epoch_t e) {
  auto f = fs.open(join_path(dir, epoch_file_name(e)), open_mode::read_only);
  if (!f) return f.err();
  std::vector<char> buf(max_lease_record_size);
  auto n = (*f)->read_at(0, buf.data(), buf.size());
  if (!n) return n.err();
  auto r = decode_lease_record(std::string_view(buf.data(), *n));
  // A record that names another epoch than its file is as good as garbled.
  if (r && r->epoch != e) return std::optional<lease_record>{};
  return r;
}

status write_lease_record(file& f, const lease_record& r) {
  std::string bytes = encode_lease_record(r);
  if (auto s = f.write_at(0, bytes.data(), bytes.size())) return s;
  return f.sync();
}

}  // namespace tandem::storage
