#pragma once
// The journaled messages whose headers and bodies are held in memory, newest last, so the
// broker can page some of them out when memory is needed for something that cannot be paged
// out (a non-persistent message). Without it, a backlog of persistent messages that filled
// limits.max_memory_bytes would refuse every non-persistent send, topic fan-out to live
// subscribers included, although each of those bodies is safely on disk.
//
// Newest first: in a FIFO queue the newest message is delivered last, so its body is the one
// least needed soon. Single-threaded (the broker's event loop).

#include <cstdint>
#include <deque>
#include <memory>

#include "broker/message.h"

namespace tandem::broker {

class resident_durables {
 public:
  // `m` is journaled and loaded: it may be paged out from now on. Amortised O(1).
  void note(const message_ptr& m);
  // Pages out the newest noted messages still resident until resident_message_bytes() is at
  // most `budget` or none is left. Returns the bytes freed. Each note is looked at once.
  std::int64_t shed(std::int64_t budget);
  std::size_t size() const { return noted_.size(); }

 private:
  std::deque<std::weak_ptr<message>> noted_;
  // Consumed messages leave expired entries behind; they are swept when the deque has grown
  // to twice what was alive at the last sweep, which keeps the cost amortised O(1).
  std::size_t sweep_at_ = 1024;
};

}  // namespace tandem::broker
