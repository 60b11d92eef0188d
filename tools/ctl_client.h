#pragma once
// tandem-ctl's view of one node: its admin API (broker/ADMIN_API.md) over HTTP or HTTPS with
// cpp-httplib's client, HTTP Basic credentials, and errors an operator can act on.
//
// Every call is bounded by the timeout given at construction (connect, and each read/write).
// A node_client is used from one thread at a time.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace httplib {
class Client;
}

namespace tandem::ctl {

using json = nlohmann::json;

// What went wrong with a call, so commands can choose the exit code.
enum class failure {
  unreachable,  // no HTTP answer: refused, timed out, TLS handshake or verification failed
  unauthorized, // 401: missing or wrong credentials; 429: too many failed logins lately
  forbidden,    // 403: the user's role is not enough
  standby,      // 503 from a node that is not active
  refused,      // any other error status (404, 409, 400, 500, ...)
};

struct call_error {
  failure kind;
  int status = 0;          // HTTP status, 0 when unreachable
  std::string message;     // "http://h:p: cannot connect: Connection refused" / the API's `error`
  json body;               // the API's error object, when there was one
};

template <typename T>
struct outcome {
  std::optional<T> value;
  call_error error{};
  bool ok() const { return value.has_value(); }
};

// Where and how to reach a node.
struct node_options {
  std::string url;  // http://HOST:PORT or https://HOST:PORT (a path after the port is ignored)
  std::string user;
  std::string password;
  std::string ca_file;  // HTTPS: PEM bundle to verify the node's certificate
  bool insecure = false;  // HTTPS: do not verify the certificate at all
  std::chrono::milliseconds timeout{7000};
};

// Checks and normalises a node URL ("host:port" means http://). Errors name the URL.
result<std::string> normalise_url(std::string_view url);

class node_client {
 public:
  explicit node_client(node_options options);  // REQUIRES: options.url normalised
  ~node_client();
  node_client(const node_client&) = delete;
  node_client& operator=(const node_client&) = delete;

  const std::string& url() const { return options_.url; }

  outcome<json> get(const std::string& path);
  outcome<json> post(const std::string& path, const json& body = json::object());
  outcome<json> del(const std::string& path);

 private:
  // `result` is the httplib::Result of the call (kept out of this header); `took` its duration.
  outcome<json> finish(const std::string& method, const std::string& path, const void* result,
                       std::chrono::steady_clock::duration took);

  node_options options_;
  std::unique_ptr<httplib::Client> client_;
};

// "/queue/orders.eu" or "orders.eu" -> "/api/v1/queues/orders.eu" (URL-encoded);
// "/topic/x" -> "/api/v1/topics/x".
std::string destination_path(std::string_view destination);

std::string url_encode(std::string_view text);

}  // namespace tandem::ctl
