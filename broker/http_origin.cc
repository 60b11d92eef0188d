#include "broker/http_origin.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "broker/stomp_security.h"

namespace tandem::broker {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

}  // namespace

bool changes_state(std::string_view method) { return method != "GET" && method != "HEAD" && method != "OPTIONS"; }

std::string origin_of(std::string_view url) {
  std::string u = lower(url);
  std::string_view rest = u;
  std::string scheme;
  if (rest.starts_with("http://")) scheme = "http";
  else if (rest.starts_with("https://")) scheme = "https";
  else return {};
  rest.remove_prefix(scheme.size() + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (rest.empty()) return {};
  std::string_view host = rest;
  const std::string_view default_port = scheme == "http" ? ":80" : ":443";
  // "host:80" and "[::1]:80" lose the default port (an IPv6 literal itself ends with ']').
  if (host.ends_with(default_port)) host.remove_suffix(default_port.size());
  return scheme + "://" + std::string(host);
}

std::optional<std::string> cross_site_refusal(const request_facts& r, std::string_view public_url) {
  if (!changes_state(r.method)) return std::nullopt;
  if (lower(r.sec_fetch_site) == "cross-site") {
    return std::string("refused a cross-site request (Sec-Fetch-Site: cross-site): pages of other sites may not "
                       "change anything here");
  }
  if (!r.origin.empty()) {
    std::string own = origin_of(fmt::format("{}://{}", r.tls ? "https" : "http", r.host));
    std::string published = origin_of(public_url);
    std::string given = origin_of(r.origin);
    if (given.empty() || (given != own && given != published)) {
      return fmt::format("refused a request from origin '{}': only this node's own origin ({}{}) may change anything",
                         printable(r.origin), own.empty() ? "none: no Host header" : own,
                         published.empty() || published == own ? "" : " or http.public_url's " + published);
    }
  }
  if (!r.tandem_header) {
    return fmt::format("a {} request must carry the header X-Tandem-Request (any value; the guard against "
                       "cross-site requests; with curl: -H 'X-Tandem-Request: 1')",
                       printable(r.method));
  }
  return std::nullopt;
}

}  // namespace tandem::broker
