#include "storage/journal_reader.h"

#include <algorithm>

#include "common/log.h"

namespace tandem::storage::journal {

result<segment_reader> segment_reader::open(file_system& fs, const std::string& path, std::uint64_t segment_number) {
  auto f = fs.open(path, open_mode::read_only);
  if (!f) return f.err();
  auto size = (*f)->size();
  if (!size) return size.err();
  segment_reader r;
  r.path_ = path;
  r.segment_ = segment_number;
  r.data_.resize(static_cast<std::size_t>(*size));
  auto n = (*f)->read_at(0, r.data_.data(), r.data_.size());
  if (!n) return n.err();
  r.data_.resize(*n);
  r.header_ = decode_segment_header(r.data_);
  if (!r.header_ && !r.all_zero(0)) {
    // A header that exists but is wrong is damage (a crash between create and the header's
    // sync leaves an empty or zero file, which is not).
    r.corruptions_.push_back({0, std::min<std::uint64_t>(segment_header_size, r.data_.size())});
    log::warn("journal", "segment {}: bad header at offset 0", path);
  }
  return r;
}

bool segment_reader::all_zero(std::uint64_t from) const {
  return std::all_of(data_.begin() + static_cast<std::ptrdiff_t>(std::min<std::uint64_t>(from, data_.size())),
                     data_.end(), [](char c) { return c == 0; });
}

bool segment_reader::next(entry& out) {
  const std::uint64_t size = data_.size();
  if (offset_ >= size) return false;
  auto rec = check_record(data_.data() + offset_, size - offset_);
  if (!rec) {
    if (all_zero(offset_)) return false;  // preallocated space or a zeroed torn tail
    std::uint64_t q = offset_ + 1;
    for (; q + record_header_size <= size; ++q) {
      if ((rec = check_record(data_.data() + q, size - q))) break;
    }
    if (!rec) return false;  // torn tail: no valid record follows
    corruptions_.push_back({offset_, q - offset_});
    log::warn("journal", "segment {} (number {}): corrupt region at offset {} ({} bytes) skipped", path_, segment_,
              offset_, q - offset_);
    offset_ = q;
  }
  out.pos = position{segment_, offset_};
  out.type = rec->type;
  out.payload = rec->payload;
  out.size = rec->total_size();
  offset_ += out.size;
  valid_end_ = offset_;
  return true;
}

}  // namespace tandem::storage::journal
