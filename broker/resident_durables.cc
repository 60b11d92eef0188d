#include "broker/resident_durables.h"

#include <algorithm>

namespace tandem::broker {

void resident_durables::note(const message_ptr& m) {
  noted_.push_back(m);
  if (noted_.size() < sweep_at_) return;
  std::erase_if(noted_, [](const std::weak_ptr<message>& w) { return w.expired(); });
  sweep_at_ = std::max<std::size_t>(1024, 2 * noted_.size());
}

std::int64_t resident_durables::shed(std::int64_t budget) {
  std::int64_t freed = 0;
  while (resident_message_bytes() > budget && !noted_.empty()) {
    message_ptr m = noted_.back().lock();
    noted_.pop_back();
    if (!m || !m->loaded || !m->stored) continue;
    std::int64_t before = resident_message_bytes();
    m->unload();
    freed += before - resident_message_bytes();
  }
  return freed;
}

}  // namespace tandem::broker
