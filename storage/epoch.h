#pragma once
// The fencing epoch: the number of the lease epoch a writer holds. Taking over the shared
// directory means creating the next epoch's lease file exclusively, so each epoch has exactly
// one holder; the journal stamps its segments with it (DESIGN.md §3 "Journal fencing").
//
// This is the same alias store.h declares (redeclaring an alias to the same type is legal),
// so the lease does not pull in the whole store header; store.h may include this one instead.

#include <cstdint>

#include "common/named_type.h"

namespace tandem::storage {

using epoch_t = named_type<std::uint64_t, struct epoch_tag>;

}  // namespace tandem::storage
