#pragma once
// What the journal writer measures for the operator's metrics: how long each fsync of a group
// commit took, how many appends it made durable together, and how many bytes it wrote.
//
// One object may serve several stores in turn: a node passes the same one to every store it
// opens, so the figures cover the life of the process and not only the current epoch.
// Threading: the writer thread records; any thread may read.

#include <atomic>
#include <cstdint>

#include "common/histogram.h"

namespace tandem::storage {

struct journal_metrics {
  histogram fsync_seconds{histogram::latency_bounds()};  // one observation per data fsync
  histogram group_size{histogram::count_bounds()};       // appends made durable by that fsync
  std::atomic<std::uint64_t> bytes_written{0};           // journal bytes written (data, not padding)
};

}  // namespace tandem::storage
