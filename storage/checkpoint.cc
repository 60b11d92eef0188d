#include "storage/checkpoint.h"

#include <cstdint>
#include <cstdio>
#include <cstring>

#include "storage/coding.h"
#include "storage/crc32c.h"

namespace tandem::storage::checkpoint {

using namespace coding;
using journal::begin_record;
using journal::check_record;

namespace {

void end_ckpt_record(std::string& out, std::size_t start, record_type t) {
  journal::end_record(out, start, static_cast<journal::record_type>(t));
}

status corrupt(const std::string& path, const std::string& why) {
  return status{make_error_code(errc::corrupt), "checkpoint " + path + ": " + why};
}

result<std::string> read_all(file_system& fs, const std::string& path) {
  auto f = fs.open(path, open_mode::read_only);
  if (!f) return f.err();
  auto size = (*f)->size();
  if (!size) return size.err();
  std::string data(static_cast<std::size_t>(*size), '\0');
  auto n = (*f)->read_at(0, data.data(), data.size());
  if (!n) return n.err();
  data.resize(*n);
  return data;
}

// Walks the records of a checkpoint, calling fn(type, payload) for each; checks framing,
// header and end record. Shared by load() and verify().
template <typename Fn>
result<visit_result> walk(const std::string& path, const std::string& data, Fn&& fn) {
  if (data.size() < file_header_size || std::memcmp(data.data(), magic, sizeof magic) != 0)
    return corrupt(path, "bad magic");
  if (crc32c::unmask(load_u32(data.data() + 12)) != crc32c::value(data.data(), 12))
    return corrupt(path, "bad file header crc");
  if (load_u32(data.data() + 8) != version) return corrupt(path, "unsupported version");
  visit_result r;
  std::size_t off = file_header_size;
  while (off < data.size()) {
    // Checkpoint record types share the journal's type byte range (1..12), so
    // journal::check_record validates them.
    auto rec = check_record(data.data() + off, data.size() - off);
    if (!rec) return corrupt(path, "bad record at offset " + std::to_string(off));
    auto t = static_cast<record_type>(rec->type);
    if (t == record_type::end) {
      decoder d(rec->payload);
      std::uint64_t msgs = d.u64(), recs = d.u64();
      if (!d.done() || msgs != r.messages || recs != r.records) return corrupt(path, "end record does not match");
      r.complete = true;
      return r;
    }
    if (t == record_type::messages) r.messages += load_u32(rec->payload.data());
    if (auto s = fn(t, rec->payload); s) return s;
    ++r.records;
    off += rec->total_size();
  }
  return corrupt(path, "no end record (incomplete checkpoint)");
}

}  // namespace

const char* to_string(record_type t) {
  switch (t) {
    case record_type::header: return "header";
    case record_type::containers: return "containers";
    case record_type::messages: return "messages";
    case record_type::subscription: return "subscription";
    case record_type::producer: return "producer";
    case record_type::end: return "end";
  }
  return "unknown";
}

std::string file_name(std::uint64_t epoch, std::uint64_t number) {
  char buf[80];
  std::snprintf(buf, sizeof buf, "checkpoint-%010llu-%020llu.ckpt", static_cast<unsigned long long>(epoch),
                static_cast<unsigned long long>(number));
  return buf;
}

bool parse_file_name(std::string_view name, std::uint64_t& epoch, std::uint64_t& number) {
  // checkpoint-EEEEEEEEEE-NNNNNNNNNNNNNNNNNNNN.ckpt
  if (name.size() != 11 + 10 + 1 + 20 + 5 || name.substr(0, 11) != "checkpoint-" || name[21] != '-' ||
      name.substr(42) != ".ckpt")
    return false;
  return parse_decimal(name.substr(11, 10), epoch) && parse_decimal(name.substr(22, 20), number);
}

std::string encode(const message_index& index, const info& i) {
  std::string out(magic, sizeof magic);
  put_u32(out, version);
  put_u32(out, crc32c::mask(crc32c::value(out.data(), out.size())));
  out.reserve(out.size() + 64 + index.messages().size() * 48);
  std::uint64_t records = 0, messages = 0;

  auto start = begin_record(out);
  put_u64(out, i.number);
  put_u64(out, i.epoch);
  put_u64(out, i.covers.segment);
  put_u64(out, i.covers.offset);
  put_u64(out, index.next_seq);
  end_ckpt_record(out, start, record_type::header);
  ++records;

  const auto& names = index.container_names();
  start = begin_record(out);
  put_u32(out, 0);
  put_u32(out, static_cast<std::uint32_t>(names.size()));
  for (auto& n : names) put_str(out, n);
  end_ckpt_record(out, start, record_type::containers);
  ++records;

  auto it = index.messages().begin();
  while (it != index.messages().end()) {
    start = begin_record(out);
    std::size_t count_at = out.size();
    put_u32(out, 0);
    std::uint32_t n = 0;
    for (; it != index.messages().end() && n < messages_per_record; ++it, ++n) {
      const index_entry& e = it->second;
      put_u64(out, it->first);
      put_u64(out, e.segment);
      put_u64(out, e.offset);
      put_u32(out, e.length);
      put_u32(out, e.size);
      put_u8(out, e.priority);
      put_i64(out, e.expires_ms);
      put_u16(out, static_cast<std::uint16_t>(e.containers.size()));
      for (auto c : e.containers) put_u32(out, c);
    }
    store_u32(out.data() + count_at, n);
    messages += n;
    end_ckpt_record(out, start, record_type::messages);
    ++records;
  }

  for (auto& [name, sub] : index.subscriptions()) {
    start = begin_record(out);
    journal::encode_subscription(out, sub);
    end_ckpt_record(out, start, record_type::subscription);
    ++records;
  }
  // Least recently sending first, so that loading them in this order restores which producer
  // is forgotten next.
  index.for_each_producer([&](const std::string& producer, const std::set<std::uint64_t>& seqs) {
    start = begin_record(out);
    put_str(out, producer);
    put_u32(out, static_cast<std::uint32_t>(seqs.size()));
    for (auto s : seqs) put_u64(out, s);
    end_ckpt_record(out, start, record_type::producer);
    ++records;
  });
  start = begin_record(out);
  put_u64(out, messages);
  put_u64(out, records);
  end_ckpt_record(out, start, record_type::end);
  return out;
}

status write_file(file_system& fs, const std::string& dir, std::uint64_t epoch, std::uint64_t number,
                  const std::string& bytes) {
  std::string final_path = join_path(dir, file_name(epoch, number));
  std::string tmp = final_path + ".tmp";
  (void)fs.remove(tmp);  // left by a crash during an earlier attempt
  auto f = fs.open(tmp, open_mode::create_exclusive);
  if (!f) return f.err();
  if (auto s = (*f)->write_at(0, bytes.data(), bytes.size())) return s;
  if (auto s = (*f)->sync()) return s;
  f->reset();
  if (auto s = fs.rename(tmp, final_path)) return s;
  return fs.sync_dir(dir);
}

result<info> load(file_system& fs, const std::string& path, message_index& index) {
  auto data = read_all(fs, path);
  if (!data) return data.err();
  info i;
  bool have_header = false;
  std::vector<container_id> id_map;  // checkpoint id -> index id
  auto r = walk(path, *data, [&](record_type t, std::string_view payload) -> status {
    decoder d(payload);
    switch (t) {
      case record_type::header:
        i.number = d.u64();
        i.epoch = d.u64();
        i.covers.segment = d.u64();
        i.covers.offset = d.u64();
        index.next_seq = d.u64();
        have_header = d.done();
        break;
      case record_type::containers: {
        std::uint32_t first = d.u32(), n = d.u32();
        if (first != id_map.size() || n > d.remaining() / 4) return corrupt(path, "bad containers record");
        for (std::uint32_t k = 0; k < n && d.ok(); ++k) id_map.push_back(index.intern(d.str()));
        break;
      }
      case record_type::messages: {
        std::uint32_t n = d.u32();
        for (std::uint32_t k = 0; k < n && d.ok(); ++k) {
          std::uint64_t seq = d.u64();
          index_entry e;
          e.segment = d.u64();
          e.offset = d.u64();
          e.length = d.u32();
          e.size = d.u32();
          e.priority = d.u8();
          e.expires_ms = d.i64();
          std::uint16_t nc = d.u16();
          e.containers.reserve(nc);
          for (std::uint16_t c = 0; c < nc && d.ok(); ++c) {
            std::uint32_t id = d.u32();
            if (id >= id_map.size()) return corrupt(path, "message refers to unknown container");
            e.containers.push_back(id_map[id]);
          }
          if (d.ok() && !e.containers.empty()) index.add_message(seq, e);
        }
        break;
      }
      case record_type::subscription: {
        durable_subscription s;
        if (!journal::decode_subscription(payload, s)) return corrupt(path, "bad subscription record");
        index.add_subscription(s);
        return {};
      }
      case record_type::producer: {
        std::string producer(d.str());
        std::uint32_t n = d.u32();
        for (std::uint32_t k = 0; k < n && d.ok(); ++k) index.note_producer(producer, d.u64(), UINT32_MAX, SIZE_MAX);
        break;
      }
      default:
        return corrupt(path, "unknown record type");
    }
    if (!d.done()) return corrupt(path, std::string("bad ") + to_string(t) + " record");
    return {};
  });
  if (!r) return r.err();
  if (!have_header) return corrupt(path, "no header record");
  i.file_bytes = data->size();
  return i;
}

result<visit_result> verify(file_system& fs, const std::string& path) {
  auto data = read_all(fs, path);
  if (!data) return data.err();
  return walk(path, *data, [](record_type, std::string_view) { return status{}; });
}

}  // namespace tandem::storage::checkpoint
