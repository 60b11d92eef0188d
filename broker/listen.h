#pragma once
// Opening a TCP listener on a configured endpoint, shared by the STOMP server and the HA link.

#include <asio/ip/tcp.hpp>

#include <string>

#include "broker/config.h"
#include "common/result.h"

namespace tandem::broker {

// Opens, binds and listens; on failure the acceptor is closed and the error names `what`
// (e.g. "STOMP", "the HA peer link") and the address.
inline tandem::error open_listener(asio::ip::tcp::acceptor& acceptor, const endpoint& where, const std::string& what) {
  std::error_code ec;
  auto ip = asio::ip::make_address(where.host, ec);
  if (ec) return {ec, "cannot listen for " + what + ": '" + where.host + "' is not an IP address"};
  asio::ip::tcp::endpoint ep(ip, where.port);
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    std::error_code ignored;
    acceptor.close(ignored);
    return {ec, "cannot listen for " + what + " on " + where.to_string() + ": " + ec.message()};
  }
  return {};
}

}  // namespace tandem::broker
