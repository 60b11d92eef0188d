// tandem-journal: inspect a journal directory offline.
//   tandem-journal verify DIR                      exit 0 clean, 1 corruption found, 2 usage
//   tandem-journal dump DIR [--segment N] [--bodies]
// Reads through the same format code the store uses; never writes to DIR.

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "storage/checkpoint.h"
#include "storage/file_system.h"
#include "storage/journal_format.h"
#include "storage/journal_reader.h"

using namespace tandem::storage;

namespace {

struct listing {
  std::vector<std::tuple<std::uint64_t, std::uint64_t, std::string>> segments;  // segment, epoch, path
  std::vector<std::pair<std::uint64_t, std::string>> checkpoints;
};

bool list_dir(file_system& fs, const std::string& dir, listing& out) {
  auto names = fs.list(dir);
  if (!names) {
    std::fprintf(stderr, "tandem-journal: %s\n", names.err().describe().c_str());
    return false;
  }
  for (auto& n : *names) {
    std::uint64_t a, b;
    if (journal::parse_segment_file_name(n, a, b)) out.segments.emplace_back(b, a, join_path(dir, n));
    if (checkpoint::parse_file_name(n, a, b)) out.checkpoints.emplace_back(b, join_path(dir, n));
  }
  std::sort(out.segments.begin(), out.segments.end());
  std::sort(out.checkpoints.begin(), out.checkpoints.end());
  return true;
}

std::string printable(std::string_view s, std::size_t max) {
  std::string out;
  for (char c : s.substr(0, max)) out += (c >= 32 && c < 127) ? c : '.';
  if (s.size() > max) out += "...";
  return out;
}

std::string describe(const journal::segment_reader::entry& e, bool bodies) {
  using journal::record_type;
  switch (e.type) {
    case record_type::message_added:
    case record_type::message_relocated: {
      std::string_view payload = e.payload;
      std::vector<std::string_view> now;
      if (e.type == record_type::message_relocated && !journal::decode_relocated(e.payload, now, payload))
        return "undecodable";
      journal::message_meta m;
      if (!journal::decode_message_meta(payload, m)) return "undecodable";
      std::string cs;
      for (auto c : (e.type == record_type::message_relocated ? now : m.containers)) cs += (cs.empty() ? "" : ",") + std::string(c);
      std::string line = fmt::format("seq={} dest={} containers={} producer={}:{} prio={} size={} body={}", m.seq,
                                     m.destination, cs, m.producer_id, m.producer_seq, m.priority, m.size, m.body_size);
      if (bodies) {
        auto rec = journal::decode_message(payload);
        if (rec) line += " body=\"" + printable(rec->body, 200) + "\"";
      }
      return line;
    }
    case record_type::ref_added:
    case record_type::ref_removed: {
      journal::ref_payload r;
      if (!journal::decode_ref(e.payload, r)) return "undecodable";
      return fmt::format("seq={} container={}", r.seq, r.container);
    }
    case record_type::txn_begin:
    case record_type::txn_commit:
    case record_type::txn_abort: {
      journal::txn_payload t;
      if (!journal::decode_txn(e.payload, e.type, t)) return "undecodable";
      return e.type == record_type::txn_begin ? fmt::format("txn={} ops={}", t.txn_id, t.op_count)
                                              : fmt::format("txn={}", t.txn_id);
    }
    case record_type::subscription_added: {
      tandem::storage::durable_subscription s;
      if (!journal::decode_subscription(e.payload, s)) return "undecodable";
      return fmt::format("container={} client={} name={} topic={} selector={}", s.container, s.client_id, s.name,
                         s.topic, s.selector);
    }
    case record_type::subscription_removed: {
      std::string c;
      if (!journal::decode_subscription_removed(e.payload, c)) return "undecodable";
      return "container=" + c;
    }
    case record_type::epoch_start: {
      journal::epoch_start_payload p;
      if (!journal::decode_epoch_start(e.payload, p)) return "undecodable";
      return fmt::format("epoch={} sealed={}:{}", p.epoch, p.sealed.segment, p.sealed.offset);
    }
    case record_type::checkpoint_marker: {
      journal::checkpoint_marker_payload p;
      if (!journal::decode_checkpoint_marker(e.payload, p)) return "undecodable";
      return fmt::format("checkpoint={} covers={}:{}", p.checkpoint, p.covers.segment, p.covers.offset);
    }
    case record_type::padding: return "";
  }
  return "";
}

int verify(const std::string& dir) {
  posix_file_system fs;
  listing l;
  if (!list_dir(fs, dir, l)) return 2;
  std::map<std::string, std::uint64_t> by_type;
  std::uint64_t records = 0, corrupt = 0, bad_headers = 0;
  std::set<std::uint64_t> live;  // rough view: messages added minus fully removed refs
  std::map<std::uint64_t, std::set<std::string>> refs;
  for (auto& [seg, epoch, path] : l.segments) {
    auto r = journal::segment_reader::open(fs, path, seg);
    if (!r) {
      std::printf("segment %s: unreadable: %s\n", path.c_str(), r.err().describe().c_str());
      ++corrupt;
      continue;
    }
    if (!r->header() && r->file_size() > 0) ++bad_headers;
    journal::segment_reader::entry e;
    while (r->next(e)) {
      ++records;
      ++by_type[journal::to_string(e.type)];
      if (e.type == journal::record_type::message_added) {
        journal::message_meta m;
        if (journal::decode_message_meta(e.payload, m))
          for (auto c : m.containers) refs[m.seq].insert(std::string(c));
      } else if (e.type == journal::record_type::ref_added || e.type == journal::record_type::ref_removed) {
        journal::ref_payload p;
        if (journal::decode_ref(e.payload, p)) {
          if (e.type == journal::record_type::ref_added) refs[p.seq].insert(p.container);
          else refs[p.seq].erase(p.container);
        }
      }
    }
    for (auto& c : r->corruptions())
      std::printf("segment %s: corrupt region at offset %llu, %llu bytes\n", path.c_str(),
                  static_cast<unsigned long long>(c.offset), static_cast<unsigned long long>(c.length));
    corrupt += r->corruptions().size();
  }
  std::uint64_t ckpt_bad = 0, ckpt_messages = 0;
  for (auto& [n, path] : l.checkpoints) {
    auto v = checkpoint::verify(fs, path);
    if (!v) {
      std::printf("checkpoint %s: %s\n", path.c_str(), v.err().describe().c_str());
      ++ckpt_bad;
    } else {
      ckpt_messages = v->messages;
    }
  }
  std::uint64_t live_in_log = 0;
  for (auto& [seq, cs] : refs) live_in_log += !cs.empty();
  std::printf("segments: %zu\ncheckpoints: %zu (%llu invalid)\nrecords: %llu\n", l.segments.size(),
              l.checkpoints.size(), static_cast<unsigned long long>(ckpt_bad), static_cast<unsigned long long>(records));
  for (auto& [t, n] : by_type) std::printf("  %s: %llu\n", t.c_str(), static_cast<unsigned long long>(n));
  std::printf("live messages (newest checkpoint): %llu\n", static_cast<unsigned long long>(ckpt_messages));
  std::printf("messages added in the log and still referenced by it: %llu\n", static_cast<unsigned long long>(live_in_log));
  std::printf("corrupt regions: %llu\nbad segment headers: %llu\n", static_cast<unsigned long long>(corrupt),
              static_cast<unsigned long long>(bad_headers));
  bool clean = corrupt == 0 && ckpt_bad == 0 && bad_headers == 0;
  std::printf("%s\n", clean ? "clean" : "CORRUPTION FOUND");
  return clean ? 0 : 1;
}

int dump(const std::string& dir, std::int64_t only_segment, bool bodies) {
  posix_file_system fs;
  listing l;
  if (!list_dir(fs, dir, l)) return 2;
  for (auto& [seg, epoch, path] : l.segments) {
    if (only_segment >= 0 && seg != static_cast<std::uint64_t>(only_segment)) continue;
    auto r = journal::segment_reader::open(fs, path, seg);
    if (!r) {
      std::printf("%llu - unreadable %s\n", static_cast<unsigned long long>(seg), r.err().describe().c_str());
      continue;
    }
    std::printf("# segment %llu epoch %llu %s (%llu bytes)%s\n", static_cast<unsigned long long>(seg),
                static_cast<unsigned long long>(epoch), path.c_str(), static_cast<unsigned long long>(r->file_size()),
                r->header() ? "" : " BAD HEADER");
    journal::segment_reader::entry e;
    std::size_t reported = 0;
    while (r->next(e)) {
      while (reported < r->corruptions().size()) {
        auto& c = r->corruptions()[reported++];
        std::printf("%llu %llu CORRUPT length=%llu\n", static_cast<unsigned long long>(seg),
                    static_cast<unsigned long long>(c.offset), static_cast<unsigned long long>(c.length));
      }
      std::printf("%llu %llu %s len=%zu %s\n", static_cast<unsigned long long>(seg),
                  static_cast<unsigned long long>(e.pos.offset), journal::to_string(e.type), e.size,
                  describe(e, bodies).c_str());
    }
    std::printf("# end of log at offset %llu\n", static_cast<unsigned long long>(r->valid_end()));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Inspect a Tandem journal directory (read-only)."};
  app.require_subcommand(1);
  std::string dir;
  auto* v = app.add_subcommand("verify", "check every segment and checkpoint; exit 1 if corruption is found");
  v->add_option("DIR", dir, "journal directory")->required();
  std::int64_t segment = -1;
  bool bodies = false;
  auto* d = app.add_subcommand("dump", "print one line per record");
  d->add_option("DIR", dir, "journal directory")->required();
  d->add_option("--segment", segment, "only this segment number");
  d->add_flag("--bodies", bodies, "print message bodies (first 200 bytes)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  if (v->parsed()) return verify(dir);
  return dump(dir, segment, bodies);
}
