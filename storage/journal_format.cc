#include "storage/journal_format.h"

#include <cstdio>
#include <cstring>

#include "storage/coding.h"
#include "storage/crc32c.h"

namespace tandem::storage::journal {

using namespace coding;

const char* to_string(record_type t) {
  switch (t) {
    case record_type::message_added: return "message_added";
    case record_type::ref_added: return "ref_added";
    case record_type::ref_removed: return "ref_removed";
    case record_type::txn_begin: return "txn_begin";
    case record_type::txn_commit: return "txn_commit";
    case record_type::txn_abort: return "txn_abort";
    case record_type::subscription_added: return "subscription_added";
    case record_type::subscription_removed: return "subscription_removed";
    case record_type::epoch_start: return "epoch_start";
    case record_type::checkpoint_marker: return "checkpoint_marker";
    case record_type::message_relocated: return "message_relocated";
    case record_type::padding: return "padding";
  }
  return "unknown";
}

std::string encode_segment_header(const segment_header& h) {
  std::string out(segment_magic, sizeof segment_magic);
  put_u32(out, format_version);
  put_u64(out, h.epoch);
  put_u64(out, h.segment);
  put_u32(out, crc32c::mask(crc32c::value(out.data(), out.size())));
  return out;
}

std::optional<segment_header> decode_segment_header(std::string_view bytes) {
  if (bytes.size() < segment_header_size) return std::nullopt;
  if (std::memcmp(bytes.data(), segment_magic, sizeof segment_magic) != 0) return std::nullopt;
  if (crc32c::unmask(load_u32(bytes.data() + 28)) != crc32c::value(bytes.data(), 28)) return std::nullopt;
  decoder d(bytes.substr(8, 20));
  if (d.u32() != format_version) return std::nullopt;
  segment_header h;
  h.epoch = d.u64();
  h.segment = d.u64();
  return h;
}

std::string segment_file_name(std::uint64_t epoch, std::uint64_t segment) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "journal-%010llu-%010llu.log", static_cast<unsigned long long>(epoch),
                static_cast<unsigned long long>(segment));
  return buf;
}

bool parse_segment_file_name(std::string_view name, std::uint64_t& epoch, std::uint64_t& segment) {
  // journal-EEEEEEEEEE-SSSSSSSSSS.log
  if (name.size() != 8 + 10 + 1 + 10 + 4) return false;
  if (name.substr(0, 8) != "journal-" || name[18] != '-' || name.substr(29) != ".log") return false;
  return parse_decimal(name.substr(8, 10), epoch) && parse_decimal(name.substr(19, 10), segment);
}

std::size_t begin_record(std::string& out) {
  std::size_t start = out.size();
  out.append(record_header_size, '\0');
  return start;
}

void end_record(std::string& out, std::size_t start, record_type type) {
  char* p = out.data() + start;
  std::uint32_t len = static_cast<std::uint32_t>(out.size() - start - record_header_size);
  store_u32(p + 4, len);
  p[8] = static_cast<char>(type);
  std::uint32_t crc = crc32c::value(p + 4, out.size() - start - 4);
  store_u32(p, crc32c::mask(crc));
}

std::optional<record_view> check_record(const char* p, std::size_t avail) {
  if (avail < record_header_size) return std::nullopt;
  std::uint32_t len = load_u32(p + 4);
  auto type = static_cast<std::uint8_t>(p[8]);
  if (type == 0 || type > max_record_type) return std::nullopt;
  if (len > max_record_payload || len > avail - record_header_size) return std::nullopt;
  std::uint32_t expected = crc32c::unmask(load_u32(p));
  if (crc32c::value(p + 4, 5 + static_cast<std::size_t>(len)) != expected) return std::nullopt;
  return record_view{static_cast<record_type>(type), std::string_view(p + record_header_size, len)};
}

// ---- message ----

std::uint32_t message_size(const message_record& m) {
  std::size_t n = m.body.size();
  for (auto& h : m.headers) n += h.key.size() + h.value.size();
  return static_cast<std::uint32_t>(n);
}

void encode_message(std::string& out, const message_record& m) {
  std::size_t need = 64 + m.destination.size() + m.producer_id.size() + m.body.size();
  for (auto& c : m.containers) need += 4 + c.size();
  for (auto& h : m.headers) need += 8 + h.key.size() + h.value.size();
  out.reserve(out.size() + need);
  put_u64(out, m.seq.value());
  put_u8(out, m.priority);
  put_i64(out, m.timestamp_ms);
  put_i64(out, m.expires_ms);
  put_u64(out, m.producer_seq);
  put_str(out, m.producer_id);
  put_str(out, m.destination);
  put_u32(out, static_cast<std::uint32_t>(m.containers.size()));
  for (auto& c : m.containers) put_str(out, c);
  put_u32(out, static_cast<std::uint32_t>(m.headers.size()));
  for (auto& h : m.headers) {
    put_str(out, h.key);
    put_str(out, h.value);
  }
  put_str(out, m.body);
}

result<message_record> decode_message(std::string_view payload) {
  decoder d(payload);
  message_record m;
  m.seq = message_seq(d.u64());
  m.priority = d.u8();
  m.timestamp_ms = d.i64();
  m.expires_ms = d.i64();
  m.producer_seq = d.u64();
  m.producer_id = std::string(d.str());
  m.destination = std::string(d.str());
  std::uint32_t nc = d.u32();
  if (nc > d.remaining() / 4) d.fail();
  for (std::uint32_t i = 0; d.ok() && i < nc; ++i) m.containers.emplace_back(d.str());
  std::uint32_t nh = d.u32();
  if (nh > d.remaining() / 8) d.fail();
  for (std::uint32_t i = 0; d.ok() && i < nh; ++i) {
    message_header h;
    h.key = std::string(d.str());
    h.value = std::string(d.str());
    m.headers.push_back(std::move(h));
  }
  m.body = std::string(d.str());
  if (!d.done()) return result<message_record>(make_error_code(errc::corrupt), "undecodable message_added payload");
  return m;
}

bool decode_message_meta(std::string_view payload, message_meta& m) {
  decoder d(payload);
  m.seq = d.u64();
  m.priority = d.u8();
  (void)d.i64();
  m.expires_ms = d.i64();
  m.producer_seq = d.u64();
  m.producer_id = d.str();
  m.destination = d.str();
  std::uint32_t nc = d.u32();
  if (nc > d.remaining() / 4) return false;
  m.containers.clear();
  for (std::uint32_t i = 0; d.ok() && i < nc; ++i) m.containers.push_back(d.str());
  std::uint32_t nh = d.u32();
  if (nh > d.remaining() / 8) return false;
  std::size_t size = 0;
  for (std::uint32_t i = 0; d.ok() && i < nh; ++i) {
    size += d.str().size();
    size += d.str().size();
  }
  m.body_size = static_cast<std::uint32_t>(d.str().size());
  m.size = static_cast<std::uint32_t>(size + m.body_size);
  return d.done();
}

// ---- small records ----

void encode_ref(std::string& out, std::uint64_t seq, std::string_view container) {
  put_u64(out, seq);
  put_str(out, container);
}
bool decode_ref(std::string_view payload, ref_payload& out) {
  decoder d(payload);
  out.seq = d.u64();
  out.container = std::string(d.str());
  return d.done();
}

void encode_txn_begin(std::string& out, std::uint64_t txn_id, std::uint32_t op_count) {
  put_u64(out, txn_id);
  put_u32(out, op_count);
}
void encode_txn_end(std::string& out, std::uint64_t txn_id) { put_u64(out, txn_id); }
bool decode_txn(std::string_view payload, record_type type, txn_payload& out) {
  decoder d(payload);
  out.txn_id = d.u64();
  out.op_count = type == record_type::txn_begin ? d.u32() : 0;
  return d.done();
}

void encode_subscription(std::string& out, const durable_subscription& s) {
  put_str(out, s.container);
  put_str(out, s.client_id);
  put_str(out, s.name);
  put_str(out, s.topic);
  put_str(out, s.selector);
}
bool decode_subscription(std::string_view payload, durable_subscription& s) {
  decoder d(payload);
  s.container = std::string(d.str());
  s.client_id = std::string(d.str());
  s.name = std::string(d.str());
  s.topic = std::string(d.str());
  s.selector = std::string(d.str());
  return d.done();
}
void encode_subscription_removed(std::string& out, std::string_view container) { put_str(out, container); }
bool decode_subscription_removed(std::string_view payload, std::string& container) {
  decoder d(payload);
  container = std::string(d.str());
  return d.done();
}

void encode_epoch_start(std::string& out, const epoch_start_payload& e) {
  put_u64(out, e.epoch);
  put_u64(out, e.sealed.segment);
  put_u64(out, e.sealed.offset);
}
bool decode_epoch_start(std::string_view payload, epoch_start_payload& e) {
  decoder d(payload);
  e.epoch = d.u64();
  e.sealed.segment = d.u64();
  e.sealed.offset = d.u64();
  return d.done();
}

void encode_checkpoint_marker(std::string& out, const checkpoint_marker_payload& c) {
  put_u64(out, c.checkpoint);
  put_u64(out, c.covers.segment);
  put_u64(out, c.covers.offset);
}
bool decode_checkpoint_marker(std::string_view payload, checkpoint_marker_payload& c) {
  decoder d(payload);
  c.checkpoint = d.u64();
  c.covers.segment = d.u64();
  c.covers.offset = d.u64();
  return d.done();
}

void encode_relocated_prefix(std::string& out, const std::vector<std::string>& containers) {
  put_u32(out, static_cast<std::uint32_t>(containers.size()));
  for (auto& c : containers) put_str(out, c);
}
bool decode_relocated(std::string_view payload, std::vector<std::string_view>& containers,
                      std::string_view& message_payload) {
  decoder d(payload);
  std::uint32_t n = d.u32();
  if (n > d.remaining() / 4) return false;
  containers.clear();
  for (std::uint32_t i = 0; d.ok() && i < n; ++i) containers.push_back(d.str());
  message_payload = d.str();
  return d.ok();
}

}  // namespace tandem::storage::journal
