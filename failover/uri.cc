#include "failover/uri.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>
#include <map>

#include <fmt/format.h>

#include "failover/errors.h"

namespace tandem::failover {

namespace {

using option_map = std::vector<std::pair<std::string, std::string>>;

error bad_uri(std::string message) { return {errc::invalid_uri, std::move(message)}; }
error bad_value(std::string_view name, std::string_view value, std::string_view expected) {
  return {errc::invalid_option, fmt::format("option '{}={}': expected {}", name, value, expected)};
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

result<std::string> percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    unsigned v = 0;
    if (i + 2 >= s.size() ||
        std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16).ptr != s.data() + i + 3)
      return bad_uri(fmt::format("bad percent escape in '{}'", s));
    out += static_cast<char>(v);
    i += 2;
  }
  return out;
}

// "a=1&b=2" into ordered pairs; a repeated option is an error (which one would count?).
result<option_map> split_query(std::string_view query, std::string_view where) {
  option_map out;
  while (!query.empty()) {
    auto amp = query.find('&');
    auto item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (item.empty()) continue;
    auto eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0)
      return bad_uri(fmt::format("option '{}' in {} is not NAME=VALUE", item, where));
    auto value = percent_decode(item.substr(eq + 1));
    if (!value) return value.err();
    std::string name(item.substr(0, eq));
    for (auto& [n, v] : out)
      if (n == name) return error{errc::invalid_option, fmt::format("option '{}' is given twice in {}", name, where)};
    out.emplace_back(std::move(name), std::move(*value));
  }
  return out;
}

error parse_bool(std::string_view name, const std::string& v, bool& out) {
  if (v == "true") out = true;
  else if (v == "false") out = false;
  else return bad_value(name, v, "true or false");
  return {};
}

error parse_int(std::string_view name, const std::string& v, long long min, long long max, long long& out) {
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size() || v.empty() || out < min || out > max)
    return bad_value(name, v, fmt::format("an integer from {} to {}", min, max));
  return {};
}

error parse_ms(std::string_view name, const std::string& v, long long min, milliseconds& out) {
  long long n = 0;
  if (auto e = parse_int(name, v, min, 365LL * 24 * 3600 * 1000, n)) return e;
  out = milliseconds(n);
  return {};
}

error parse_double(std::string_view name, const std::string& v, double min, double max, double& out) {
  // std::from_chars for double is in GCC 12's libstdc++.
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size() || v.empty() || !std::isfinite(out) || out < min || out > max)
    return bad_value(name, v, fmt::format("a number from {} to {}", min, max));
  return {};
}

// TLS options, valid on a stomp+ssl:// URI or (as defaults for every TLS endpoint) on failover:.
bool apply_tls_option(const std::string& name, const std::string& v, tls_options& t, error& e) {
  if (name == "verifyPeer") e = parse_bool(name, v, t.verify_peer);
  else if (name == "caFile") t.ca_file = v;
  else if (name == "certFile") t.cert_file = v;
  else if (name == "keyFile") t.key_file = v;
  else return false;
  return true;
}

// Connection options, valid on a plain URI and on failover:.
bool apply_connection_option(const std::string& name, const std::string& v, failover_options& o, error& e) {
  if (name == "login") o.login = v;
  else if (name == "passcode") o.passcode = v;
  else if (name == "clientId") o.client_id = v;
  else if (name == "host") o.vhost = v;
  else if (name == "connectTimeout") e = parse_ms(name, v, 1, o.connect_timeout);
  else if (name == "heartBeat") {
    auto comma = v.find(',');
    if (comma == std::string::npos) {
      e = bad_value(name, v, "SEND,RECEIVE in milliseconds (e.g. 1000,500; 0,0 disables)");
      return true;
    }
    // Either half wrong: name the whole value and its form, not just the half.
    e = parse_ms(name, v.substr(0, comma), 0, o.heartbeat_send);
    if (!e) e = parse_ms(name, v.substr(comma + 1), 0, o.heartbeat_receive);
    if (e) e = bad_value(name, v, "SEND,RECEIVE in milliseconds (e.g. 1000,500; 0,0 disables)");
  } else {
    return false;
  }
  return true;
}

bool apply_failover_option(const std::string& name, const std::string& v, failover_options& o, error& e) {
  long long n = 0;
  if (name == "randomize") e = parse_bool(name, v, o.randomize);
  else if (name == "initialReconnectDelay") e = parse_ms(name, v, 0, o.initial_reconnect_delay);
  else if (name == "maxReconnectDelay") e = parse_ms(name, v, 0, o.max_reconnect_delay);
  else if (name == "useExponentialBackOff") e = parse_bool(name, v, o.use_exponential_backoff);
  else if (name == "backOffMultiplier") e = parse_double(name, v, 1.0, 1000.0, o.back_off_multiplier);
  else if (name == "maxReconnectAttempts") {
    if (!(e = parse_int(name, v, -1, 1'000'000'000, n))) o.max_reconnect_attempts = static_cast<int>(n);
  } else if (name == "startupMaxReconnectAttempts") {
    if (!(e = parse_int(name, v, -1, 1'000'000'000, n))) o.startup_max_reconnect_attempts = static_cast<int>(n);
  } else if (name == "timeout") e = parse_ms(name, v, -1, o.timeout);
  else if (name == "priorityBackup") e = parse_bool(name, v, o.priority_backup);
  else if (name == "reconnectJitter") e = parse_double(name, v, 0.0, 1.0, o.reconnect_jitter);
  else if (name == "maxBufferedSends") {
    if (!(e = parse_int(name, v, 0, 100'000'000, n))) o.max_buffered_sends = static_cast<std::size_t>(n);
  } else if (name == "priorityCheckInterval") e = parse_ms(name, v, 10, o.priority_check_interval);
  else return false;
  return true;
}

// stomp://HOST:PORT or stomp+ssl://HOST:PORT; IPv6 hosts in brackets. The query is returned
// separately so the caller decides which options are allowed where.
result<endpoint> parse_endpoint(std::string_view uri, std::string_view& query) {
  endpoint ep;
  std::string_view rest;
  if (uri.starts_with("stomp://")) rest = uri.substr(8);
  else if (uri.starts_with("stomp+ssl://")) rest = uri.substr(12), ep.tls = true;
  else {
    auto colon = uri.find(':');
    if (colon == std::string_view::npos) return bad_uri(fmt::format("'{}' has no scheme (expected stomp:// or stomp+ssl://)", uri));
    return bad_uri(fmt::format("unsupported scheme '{}' in '{}' (expected stomp, stomp+ssl or failover)", uri.substr(0, colon), uri));
  }
  auto q = rest.find('?');
  query = q == std::string_view::npos ? std::string_view{} : rest.substr(q + 1);
  rest = rest.substr(0, q);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos) return bad_uri(fmt::format("'{}': a path is not allowed after HOST:PORT", uri));
  std::string_view host, port;
  if (rest.starts_with('[')) {
    auto close = rest.find(']');
    if (close == std::string_view::npos) return bad_uri(fmt::format("'{}': unclosed '[' in the IPv6 host", uri));
    host = rest.substr(1, close - 1);
    rest = rest.substr(close + 1);
    if (!rest.starts_with(':')) return bad_uri(fmt::format("'{}' has no port (expected HOST:PORT)", uri));
    port = rest.substr(1);
  } else {
    auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) return bad_uri(fmt::format("'{}' has no port (expected HOST:PORT)", uri));
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (host.empty()) return bad_uri(fmt::format("'{}' has no host", uri));
  unsigned p = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (ec != std::errc() || end != port.data() + port.size() || port.empty() || p == 0 || p > 65535)
    return bad_uri(fmt::format("'{}': port '{}' is not a number from 1 to 65535", uri, port));
  ep.host = std::string(host);
  ep.port = static_cast<std::uint16_t>(p);
  return ep;
}

error apply_endpoint_options(std::string_view uri, std::string_view query, endpoint& ep,
                             failover_options* connection_opts, bool& tls_given) {
  auto opts = split_query(query, fmt::format("'{}'", uri));
  if (!opts) return opts.err();
  for (auto& [name, v] : *opts) {
    error e;
    if (apply_tls_option(name, v, ep.tls_settings, e)) {
      if (!ep.tls) return {errc::invalid_option, fmt::format("option '{}' in '{}' needs a stomp+ssl:// URI", name, uri)};
      tls_given = true;
    } else if (connection_opts && apply_connection_option(name, v, *connection_opts, e)) {
      // a plain URI carries its own connection options
    } else {
      failover_options probe;
      if (connection_opts && apply_failover_option(name, v, probe, e))
        return {errc::invalid_option, fmt::format("option '{}' in '{}' needs a failover:(...) URI", name, uri)};
      if (!connection_opts && (apply_failover_option(name, v, probe, e) || apply_connection_option(name, v, probe, e)))
        return {errc::invalid_option, fmt::format("option '{}' in '{}' belongs on the outer failover:(...) URI", name, uri)};
      return {errc::unknown_option, fmt::format("option '{}' in '{}' is unknown", name, uri)};
    }
    if (e) return e;
  }
  return {};
}

std::vector<std::string_view> split_list(std::string_view list) {
  std::vector<std::string_view> out;
  while (true) {
    auto comma = list.find(',');
    out.push_back(trim(list.substr(0, comma)));
    if (comma == std::string_view::npos) return out;
    list = list.substr(comma + 1);
  }
}

result<failover_options> parse_failover(std::string_view uri) {
  failover_options o;
  o.failover = true;
  std::string_view body = uri.substr(9), list, query;
  if (body.starts_with('(')) {
    // The ')' that matches the first '(' (not the first ')'), so a nested "failover:(...)" is
    // reported as nesting rather than as junk after ')'.
    std::size_t close = std::string_view::npos;
    for (std::size_t i = 0, depth = 0; i < body.size(); ++i) {
      if (body[i] == '(') ++depth;
      else if (body[i] == ')' && --depth == 0) {
        close = i;
        break;
      }
    }
    if (close == std::string_view::npos) return bad_uri(fmt::format("'{}': '(' has no matching ')'", uri));
    list = body.substr(1, close - 1);
    auto after = body.substr(close + 1);
    if (!after.empty() && !after.starts_with('?'))
      return bad_uri(fmt::format("'{}': unexpected '{}' after ')' (options start with '?')", uri, after));
    if (!after.empty()) query = after.substr(1);
  } else {
    list = body;  // without parentheses there are no failover options (ActiveMQ's rule)
  }
  if (trim(list).empty()) return bad_uri(fmt::format("'{}' lists no broker URIs", uri));
  std::vector<bool> tls_given;
  for (auto item : split_list(list)) {
    if (item.empty()) return bad_uri(fmt::format("'{}' has an empty URI in its list", uri));
    if (item.starts_with("failover:")) return bad_uri(fmt::format("'{}': failover URIs do not nest", uri));
    std::string_view nested_query;
    auto ep = parse_endpoint(item, nested_query);
    if (!ep) return ep.err();
    bool given = false;
    if (auto e = apply_endpoint_options(item, nested_query, *ep, nullptr, given)) return e;
    o.endpoints.push_back(std::move(*ep));
    tls_given.push_back(given);
  }
  auto opts = split_query(query, "the failover URI");
  if (!opts) return opts.err();
  tls_options tls_defaults;
  bool any_tls_default = false;
  std::string priority_list;
  for (auto& [name, v] : *opts) {
    error e;
    if (name == "priorityURIs") {
      priority_list = v;
      continue;
    }
    if (apply_tls_option(name, v, tls_defaults, e)) any_tls_default = true;
    else if (!apply_failover_option(name, v, o, e) && !apply_connection_option(name, v, o, e))
      return error{errc::unknown_option, fmt::format("failover URI option '{}' is unknown", name)};
    if (e) return e;
  }
  // TLS options on the failover URI are defaults for TLS endpoints that set none of their own.
  for (std::size_t i = 0; i < o.endpoints.size(); ++i)
    if (o.endpoints[i].tls && !tls_given[i] && any_tls_default) o.endpoints[i].tls_settings = tls_defaults;
  if (any_tls_default && std::none_of(o.endpoints.begin(), o.endpoints.end(), [](auto& e) { return e.tls; }))
    return error{errc::invalid_option, "TLS options on the failover URI, but none of its URIs is stomp+ssl://"};
  if (!priority_list.empty()) {
    for (auto item : split_list(priority_list)) {
      std::string_view ignored;
      auto ep = parse_endpoint(item, ignored);
      if (!ep) return error{errc::invalid_option, "priorityURIs: " + ep.err().message};
      auto match = std::find_if(o.endpoints.begin(), o.endpoints.end(), [&](auto& e) { return e.same_address(*ep); });
      if (match == o.endpoints.end())
        return error{errc::invalid_option, fmt::format("priorityURIs entry '{}' is not one of the failover URIs", item)};
      o.priority_uris.push_back(*match);
    }
  } else if (o.priority_backup) {
    o.priority_uris.push_back(o.endpoints.front());
  }
  if (o.initial_reconnect_delay > o.max_reconnect_delay)
    return error{errc::invalid_option, fmt::format("initialReconnectDelay ({} ms) is larger than maxReconnectDelay ({} ms)",
                                                   o.initial_reconnect_delay.count(), o.max_reconnect_delay.count())};
  return o;
}

}  // namespace

std::string endpoint::to_string() const {
  bool v6 = host.find(':') != std::string::npos;
  return fmt::format("{}://{}{}{}:{}", tls ? "stomp+ssl" : "stomp", v6 ? "[" : "", host, v6 ? "]" : "", port);
}

result<failover_options> parse_uri(std::string_view text) {
  auto uri = trim(text);
  if (uri.empty()) return bad_uri("the URI is empty");
  if (uri.starts_with("failover:")) return parse_failover(uri);
  failover_options o;
  std::string_view query;
  auto ep = parse_endpoint(uri, query);
  if (!ep) return ep.err();
  bool tls_given = false;
  if (auto e = apply_endpoint_options(uri, query, *ep, &o, tls_given)) return e;
  o.endpoints.push_back(std::move(*ep));
  // One broker, no failover: one attempt at start, none after a failure (ActiveMQ's tcp://).
  o.max_reconnect_attempts = 0;
  o.startup_max_reconnect_attempts = 0;
  o.randomize = false;
  return o;
}

}  // namespace tandem::failover
