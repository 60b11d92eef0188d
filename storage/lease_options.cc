#include "storage/lease_options.h"

#include <fmt/format.h>

#include "storage/lease_file.h"

namespace tandem::storage {
namespace {

error invalid(std::string message) { return error{std::make_error_code(std::errc::invalid_argument), std::move(message)}; }

}  // namespace

error validate(const lease_options& o) {
  using std::chrono::milliseconds;
  if (o.directory.empty()) return invalid("ha.lease_dir must not be empty");
  if (o.holder_name.empty() || !valid_lease_field(o.holder_name)) {
    return invalid(fmt::format("node.name ('{}') must be 1 to {} bytes without spaces, control characters or '='",
                               o.holder_name, max_lease_field_size));
  }
  if (!valid_lease_field(o.ha_address)) {
    return invalid(fmt::format("ha.address ('{}') must be at most {} bytes without spaces, control characters or '='",
                               o.ha_address, max_lease_field_size));
  }
  if (!valid_lease_field(o.console_url)) {
    return invalid(fmt::format("http.public_url ('{}') must be at most {} bytes without spaces, control characters or '='",
                               o.console_url, max_lease_field_size));
  }
  auto ms = [](milliseconds d) { return d.count(); };
  if (o.ttl <= milliseconds::zero()) return invalid(fmt::format("ha.lease_ttl_ms ({}) must be positive", ms(o.ttl)));
  if (o.renew_interval <= milliseconds::zero()) {
    return invalid(fmt::format("ha.renew_interval_ms ({}) must be positive", ms(o.renew_interval)));
  }
  if (o.poll_interval <= milliseconds::zero()) {
    return invalid(fmt::format("ha.poll_interval_ms ({}) must be positive", ms(o.poll_interval)));
  }
  // Several renewals must fit in one ttl, so one slow or failed renewal does not lose the lease.
  if (o.renew_interval * 3 > o.ttl) {
    return invalid(fmt::format("ha.renew_interval_ms ({}) must be at most a third of ha.lease_ttl_ms ({})",
                               ms(o.renew_interval), ms(o.ttl)));
  }
  if (o.safety_margin <= milliseconds::zero()) {
    return invalid(fmt::format("ha.safety_margin_ms ({}) must be positive", ms(o.safety_margin)));
  }
  // After a good renewal at t the holder is valid until t + ttl - margin; the next renewal
  // starts at t + renew and, if it fails, the one after at about t + 2 * renew. Both must fall
  // inside the validity or a single failed write would cost the lease.
  if (o.safety_margin > o.ttl - 2 * o.renew_interval) {
    return invalid(fmt::format(
        "ha.safety_margin_ms ({}) must be at most ha.lease_ttl_ms ({}) minus twice ha.renew_interval_ms ({})",
        ms(o.safety_margin), ms(o.ttl), ms(o.renew_interval)));
  }
  // The contender must sample at least as often as the holder writes, or it reacts late.
  if (o.poll_interval > o.renew_interval) {
    return invalid(fmt::format("ha.poll_interval_ms ({}) must be at most ha.renew_interval_ms ({})",
                               ms(o.poll_interval), ms(o.renew_interval)));
  }
  if (o.keep_old_epochs < 1) {
    return invalid(fmt::format("ha.keep_old_epochs ({}) must be at least 1", o.keep_old_epochs));
  }
  return {};
}

std::chrono::milliseconds fast_takeover_wait(const lease_options& o) {
  return o.renew_interval + o.renew_interval / 2 + o.poll_interval;
}

const char* to_string(lease_role r) { return r == lease_role::holding ? "holding" : "standby"; }

}  // namespace tandem::storage
