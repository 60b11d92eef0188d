#pragma once
// The cross-site request guard of the node's HTTP listeners (broker/ADMIN_API.md,
// "Authentication and roles"). A page of another site can make a browser send requests to a
// node, with the node's cookie and even with Basic credentials the browser remembers. So every
// request that changes anything (any method but GET, HEAD and OPTIONS), whatever its
// credentials and also without users (open mode) and for POST /api/v1/login:
//
//   - must carry the header `X-Tandem-Request` (any value; the console's scripts, tandem-ctl
//     and `curl -H 'X-Tandem-Request: 1'` send it; a form or a plain link of another site
//     cannot, and a script of another site cannot without this node's CORS consent, which it
//     never gives);
//   - when it carries `Sec-Fetch-Site: cross-site` (a browser's word for another site), is
//     refused;
//   - when it carries `Origin`, that origin must be this node's: the scheme and `Host` of the
//     request itself, or the origin of `http.public_url` (behind a proxy that rewrites Host).
//
// Reading (GET) needs none of it: a response to another site's page is not readable by it.
// The check runs before routing, authentication and reading the body.

#include <optional>
#include <string>
#include <string_view>

namespace tandem::broker {

// Any method but GET, HEAD and OPTIONS.
bool changes_state(std::string_view method);

// What the guard looks at in a request (kept apart from cpp-httplib so it can be tested).
struct request_facts {
  std::string_view method;
  bool tandem_header = false;
  std::string_view origin;          // the Origin header, "" when absent
  std::string_view sec_fetch_site;  // the Sec-Fetch-Site header, "" when absent
  std::string_view host;            // the Host header
  bool tls = false;                 // it came over HTTPS
};

// Nothing when the request may go on; else the sentence of the 403, naming what was missing
// or wrong. `public_url`: the node's http.public_url (or its default).
std::optional<std::string> cross_site_refusal(const request_facts& r, std::string_view public_url);

// The origin of a URL, for comparing: lower case, without a default port or a path
// ("HTTP://Node-1:80/x" -> "http://node-1"); "" when it is not an http(s) URL.
std::string origin_of(std::string_view url);

}  // namespace tandem::broker
