#include "broker/http_console.h"

#include <httplib.h>

#include <string>

#include "broker/console_assets.h"

namespace tandem::broker {
namespace {

// The app loads only its own files and talks only to its own node's API. Inline scripts and
// styles are not allowed, so a message body shown in the console can never run as code even
// if some view rendered it wrongly.
constexpr const char* content_security_policy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

bool etag_matches(const httplib::Request& req, std::string_view etag) {
  if (!req.has_header("If-None-Match")) return false;
  auto wanted = req.get_header_value("If-None-Match");
  return wanted == "*" || wanted.find(etag) != std::string::npos;
}

void serve(const console_asset& a, const httplib::Request& req, httplib::Response& res) {
  res.set_header("ETag", std::string(a.etag));
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("X-Frame-Options", "DENY");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("Content-Security-Policy", content_security_policy);
  if (etag_matches(req, a.etag)) {
    res.status = 304;
    return;
  }
  res.set_content(a.bytes.data(), a.bytes.size(), std::string(a.content_type).c_str());
}

}  // namespace

void add_console_routes(httplib::Server& server) {
  server.Get("/", [](const httplib::Request& req, httplib::Response& res) {
    serve(*find_console_asset("index.html"), req, res);
  });
  // Only names made of safe characters; a miss falls through to the server's JSON 404.
  server.Get(R"(/console/([A-Za-z0-9_\-./]+))", [](const httplib::Request& req, httplib::Response& res) {
    const std::string rel = req.matches[1];
    const console_asset* a = rel.find("..") == std::string::npos ? find_console_asset(rel) : nullptr;
    if (a == nullptr) {
      res.status = 404;
      return;
    }
    serve(*a, req, res);
  });
}

}  // namespace tandem::broker
