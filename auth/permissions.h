#pragma once
// Destination patterns for per-user read/write permissions, with ActiveMQ's wildcards.
//
//   >                 every destination
//   /queue/>          every queue (likewise /topic/>)
//   /queue/orders.>   /queue/orders.eu, /queue/orders.eu.north (one or more further segments)
//   /topic/*.prices   /topic/fx.prices, not /topic/fx.spot.prices (`*` = exactly one segment)
//   /queue/orders     that queue only
//
// Segments are separated by '.'; `>` may only be a whole last segment and `*` a whole segment.
// Pure functions, safe on any thread.

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace tandem::auth {

// An error naming what is wrong with `pattern`, or none.
tandem::error check_pattern(std::string_view pattern);

// True when the (valid) `pattern` covers `destination` ("/queue/x" or "/topic/x").
bool pattern_matches(std::string_view pattern, std::string_view destination);

bool any_matches(const std::vector<std::string>& patterns, std::string_view destination);

}  // namespace tandem::auth
