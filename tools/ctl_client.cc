#include "tools/ctl_client.h"

#include <httplib.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <thread>

#include <fmt/format.h>

namespace tandem::ctl {
namespace {

struct url_parts {
  std::string scheme, host, port;
};

std::optional<url_parts> split_url(std::string_view url) {
  url_parts p;
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    p.scheme = "http";
  } else {
    p.scheme = std::string(url.substr(0, scheme_end));
    url.remove_prefix(scheme_end + 3);
  }
  url = url.substr(0, url.find('/'));
  std::string_view host = url, port;
  if (!url.empty() && url.front() == '[') {  // [::1]:8161
    auto close = url.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = url.substr(0, close + 1);
    if (close + 1 < url.size() && url[close + 1] == ':') port = url.substr(close + 2);
  } else if (auto colon = url.rfind(':'); colon != std::string_view::npos) {
    host = url.substr(0, colon);
    port = url.substr(colon + 1);
  }
  p.host = std::string(host);
  p.port = std::string(port);
  return p;
}

// Why a TCP connection to the node fails, in the system's words ("Connection refused"); the
// HTTP library only says that connecting failed. Bounded by `timeout`.
std::string connect_failure(const std::string& host, const std::string& port, std::chrono::milliseconds timeout) {
  std::string bare = host.size() > 1 && host.front() == '[' ? host.substr(1, host.size() - 2) : host;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(bare.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return fmt::format("cannot resolve {}: {}", bare, ::gai_strerror(rc));
  }
  std::string why = "connection failed";
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd pfd{fd, POLLOUT, 0};
      rc = ::poll(&pfd, 1, static_cast<int>(timeout.count()));
      if (rc == 0) {
        why = fmt::format("no answer within {} ms", timeout.count());
      } else {
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        why = err == 0 ? "connected, but the HTTP request failed" : std::strerror(err);
      }
    } else if (rc != 0) {
      why = std::strerror(errno);
    } else {
      why = "connected, but the HTTP request failed";
    }
    ::close(fd);
    if (why.starts_with("connected")) break;
  }
  ::freeaddrinfo(found);
  return why;
}

std::string describe_transport(httplib::Error e, const node_options& o, std::chrono::steady_clock::duration took) {
  const bool timed_out = took >= o.timeout * 9 / 10;
  switch (e) {
    case httplib::Error::Read:
      if (timed_out) return fmt::format("no answer within {} ms", o.timeout.count());
      return o.url.starts_with("https:") ? "the connection closed without an HTTP answer"
                                         : "the connection closed without an HTTP answer (is it an https:// listener?)";
    case httplib::Error::Write:
      return "the connection broke while sending the request";
    case httplib::Error::SSLConnection:
      return "TLS handshake failed (is it an https:// listener?)";
    case httplib::Error::SSLServerVerification:
      return "TLS certificate verification failed (give --ca-file FILE with the CA that signed it, or --insecure)";
    case httplib::Error::SSLLoadingCerts:
      return fmt::format("cannot load CA certificates from '{}'", o.ca_file);
    case httplib::Error::ConnectionTimeout:
      return fmt::format("no answer within {} ms", o.timeout.count());
    default:
      return httplib::to_string(e);
  }
}

}  // namespace

result<std::string> normalise_url(std::string_view url) {
  auto p = split_url(url);
  auto bad = [&](std::string_view why) {
    return result<std::string>(std::make_error_code(std::errc::invalid_argument),
                               fmt::format("node URL '{}': {}", url, why));
  };
  if (!p) return bad("unclosed '[' in the host");
  if (p->scheme != "http" && p->scheme != "https") return bad("the scheme must be http:// or https://");
  if (p->host.empty()) return bad("no host");
  if (p->port.empty()) return bad("no port (e.g. http://127.0.0.1:8161)");
  char* end = nullptr;
  long port = std::strtol(p->port.c_str(), &end, 10);
  if (*end != '\0' || port < 1 || port > 65535) return bad("the port must be a number from 1 to 65535");
  return fmt::format("{}://{}:{}", p->scheme, p->host, port);
}

node_client::node_client(node_options options)
    : options_(std::move(options)), client_(std::make_unique<httplib::Client>(options_.url)) {
  auto secs = options_.timeout.count() / 1000;
  auto usecs = (options_.timeout.count() % 1000) * 1000;
  client_->set_connection_timeout(secs, usecs);
  client_->set_read_timeout(secs, usecs);
  client_->set_write_timeout(secs, usecs);
  client_->set_keep_alive(true);
  if (!options_.user.empty()) client_->set_basic_auth(options_.user.c_str(), options_.password.c_str());
  if (!options_.ca_file.empty()) client_->set_ca_cert_path(options_.ca_file.c_str());
  client_->enable_server_certificate_verification(!options_.insecure);
  // X-Tandem-Request: the API refuses a POST or DELETE without it (its cross-site request guard).
  client_->set_default_headers({{"Accept", "application/json"}, {"User-Agent", "tandem-ctl"}, {"X-Tandem-Request", "1"}});
}

node_client::~node_client() = default;

namespace {

// Every 503 about a node's role names the role (broker/ADMIN_API.md); the one that does not
// means the node is busy checking other passwords (at most two at once) and did nothing yet.
bool names_a_role(const json& body) { return body.is_object() && body.contains("role"); }

bool busy_checking_passwords(const httplib::Result& r) {
  return r && r->status == 503 && !names_a_role(json::parse(r->body, nullptr, /*allow_exceptions=*/false));
}

struct answer {
  httplib::Result result;
  std::chrono::steady_clock::duration took;  // of the last attempt, so a transport error is timed on its own
};

// A busy node is worth a short wait and a retry (up to three), not an "is standby" report.
template <typename Call>
answer with_busy_retries(Call&& call) {
  constexpr int kAttempts = 4;
  for (int attempt = 1;; ++attempt) {
    const auto t0 = std::chrono::steady_clock::now();
    auto r = call();
    const auto took = std::chrono::steady_clock::now() - t0;
    if (attempt == kAttempts || !busy_checking_passwords(r)) return {std::move(r), took};
    long wait_s = 1;
    if (r->has_header("Retry-After")) wait_s = std::clamp(std::atol(r->get_header_value("Retry-After").c_str()), 1L, 2L);
    std::this_thread::sleep_for(std::chrono::seconds(wait_s));
  }
}

}  // namespace

outcome<json> node_client::get(const std::string& path) {
  auto a = with_busy_retries([&] { return client_->Get(path.c_str()); });
  return finish("GET", path, &a.result, a.took);
}

outcome<json> node_client::post(const std::string& path, const json& body) {
  const auto text = body.dump();
  auto a = with_busy_retries([&] { return client_->Post(path.c_str(), text, "application/json"); });
  return finish("POST", path, &a.result, a.took);
}

outcome<json> node_client::del(const std::string& path) {
  auto a = with_busy_retries([&] { return client_->Delete(path.c_str()); });
  return finish("DELETE", path, &a.result, a.took);
}

outcome<json> node_client::finish(const std::string& method, const std::string& path, const void* raw,
                                  std::chrono::steady_clock::duration took) {
  const auto& r = *static_cast<const httplib::Result*>(raw);
  outcome<json> out;
  if (!r) {
    std::string why;
    if (r.error() == httplib::Error::Connection) {
      auto p = split_url(options_.url);
      why = "cannot connect: " + connect_failure(p->host, p->port, options_.timeout);
    } else {
      why = describe_transport(r.error(), options_, took);
    }
    out.error = {failure::unreachable, 0, fmt::format("{}: {}", options_.url, why), {}};
    return out;
  }
  json body = json::parse(r->body, nullptr, /*allow_exceptions=*/false);
  if (r->status >= 200 && r->status < 300) {
    if (body.is_discarded()) {
      out.error = {failure::refused, r->status,
                   fmt::format("{}: {} {} answered {} with a body that is not JSON", options_.url, method, path, r->status), {}};
      return out;
    }
    out.value = std::move(body);
    return out;
  }
  std::string message = body.is_object() && body.contains("error") && body["error"].is_string()
                            ? body["error"].get<std::string>()
                            : fmt::format("{} {} answered HTTP {}", method, path, r->status);
  if (r->status == 413) message = fmt::format("{}: {} {} was refused as too large (HTTP 413): {}", options_.url, method, path, message);
  // 429: failed logins, backing off. A 503 that is not a standby's (still busy checking
  // passwords after the retries) is an ordinary refusal.
  failure kind = r->status == 401 || r->status == 429 ? failure::unauthorized
                 : r->status == 403 ? failure::forbidden
                 : r->status == 503 && names_a_role(body) ? failure::standby
                                    : failure::refused;
  out.error = {kind, r->status, message, body.is_discarded() ? json() : body};
  return out;
}

std::string url_encode(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::string destination_path(std::string_view destination) {
  if (destination.starts_with("/topic/")) return "/api/v1/topics/" + url_encode(destination.substr(7));
  if (destination.starts_with("/queue/")) destination.remove_prefix(7);
  return "/api/v1/queues/" + url_encode(destination);
}

}  // namespace tandem::ctl
