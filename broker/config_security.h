#pragma once
// The configuration's `security` section (broker/config_security.cc).

#include "broker/config_fields.h"

namespace tandem::broker::config_detail {

// The field that reads `security:` into c.security (users, roles, permissions).
field security_section(reader& r, config& c);
// Rules across keys, after the whole file was read.
void check_security(const reader& r, const config& c);

}  // namespace tandem::broker::config_detail
