// The `security` section: users with password hashes, their HTTP role and their STOMP
// destination permissions (broker/ADMIN_API.md). Its keys are listed in README.md's
// configuration reference.

#include "broker/config_security.h"

#include "auth/password.h"
#include "auth/permissions.h"

namespace tandem::broker::config_detail {
namespace {

// Login names appear in logs and in the admin API; '@' allows e-mail-like names.
bool login_name(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-' || c == '@';
  });
}

// A list of destination patterns; one pattern alone is accepted as a list of one.
field patterns_field(std::string_view name, std::vector<std::string>& out) {
  return {name, [&out](const entry& e) {
            auto add = [&](const YAML::Node& n) {
              if (!n.IsScalar()) e.fail(fmt::format("expected destination patterns such as /queue/orders.>, got {}", describe(n)));
              if (auto err = auth::check_pattern(n.Scalar())) e.fail(err.message);
              out.push_back(n.Scalar());
            };
            if (e.value.IsSequence()) {
              for (const auto& n : e.value) add(n);
            } else if (!e.value.IsNull()) {
              add(e.value);
            }
          }};
}

void parse_user(reader& r, const entry& item, std::vector<auth::user>& users) {
  auth::user u;
  std::string role = "none";
  walk_map(r, item.value, item.key, item.line,
           {text_field("name", u.name, "a login name of 1-128 characters from A-Z a-z 0-9 . _ - @", login_name),
            {"password_hash",
             [&u](const entry& e) {
               u.password_hash = e.scalar("a hash printed by tandem-ctl hash-password");
               if (auto h = auth::parse_password_hash(u.password_hash); !h) e.fail(h.err().message);
             }},
            choice_field("role", role, {"admin", "viewer", "none"}),
            section(r, "permissions", {patterns_field("read", u.read), patterns_field("write", u.write)})});
  check_required(r, {item.key + ".name", item.key + ".password_hash"});
  for (const auth::user& other : users) {
    if (other.name == u.name) r.fail(r.line(item.key + ".name"), item.key + ".name", fmt::format("user '{}' is listed twice", u.name));
  }
  u.role = role == "admin" ? auth::http_role::admin : role == "viewer" ? auth::http_role::viewer : auth::http_role::none;
  users.push_back(std::move(u));
}

}  // namespace

field security_section(reader& r, config& c) {
  fields fs{bool_field("enabled", c.security.enabled), bool_field("metrics_public", c.security.metrics_public),
            {"users", [&r, &c](const entry& e) {
               if (e.value.IsNull()) return;
               if (!e.value.IsSequence()) e.fail(fmt::format("expected a list of users (- name: ...), got {}", describe(e.value)));
               std::size_t i = 0;
               for (const auto& item : e.value) {
                 entry one{e.r, fmt::format("{}[{}]", e.key, i++), item.Mark().is_null() ? e.line : line_of(item), item};
                 if (!item.IsMap()) one.fail(fmt::format("expected a user (name, password_hash, role, permissions), got {}", describe(item)));
                 parse_user(r, one, c.security.users);
               }
             }}};
  return section(r, "security", std::move(fs));
}

void check_security(const reader& r, const config& c) {
  if (c.security.enabled && c.security.users.empty()) {
    r.fail(r.line("security.enabled"), "security.enabled",
           "is true but security.users lists nobody: no client could connect");
  }
}

}  // namespace tandem::broker::config_detail
