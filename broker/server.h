#pragma once
// The STOMP listener and the set of live sessions.
//
// session_manager holds every session so stop_all() can close them on shutdown; sessions
// remove themselves when they close. The server's accept loop checks that the acceptor is
// still open, and refuses connections past limits.max_connections with an ERROR frame.

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <cstdint>
#include <memory>
#include <unordered_map>

#include "broker/broker.h"
#include "broker/config.h"
#include "common/result.h"

namespace tandem::broker {

class stomp_session;

class session_manager {
 public:
  void add(std::shared_ptr<stomp_session> s);
  void remove(std::uint64_t id);
  void stop_all();
  std::size_t size() const { return sessions_.size(); }

 private:
  std::unordered_map<std::uint64_t, std::shared_ptr<stomp_session>> sessions_;
  bool stopping_ = false;
};

class stomp_server {
 public:
  stomp_server(asio::io_context& io, broker& core);
  stomp_server(const stomp_server&) = delete;
  stomp_server& operator=(const stomp_server&) = delete;

  // Binds and starts accepting; an error names the address (e.g. already in use).
  tandem::error listen(const endpoint& where);
  // Stops accepting and closes every session.
  void stop();
  std::size_t connections() const { return sessions_.size(); }
  std::uint16_t port() const;

 private:
  void do_accept();
  void refuse(asio::ip::tcp::socket socket);

  asio::io_context& io_;
  broker& core_;
  asio::ip::tcp::acceptor acceptor_;
  session_manager sessions_;
  std::uint64_t next_session_id_ = 1;
  // The accept handler may run after this server is destroyed (with operation_aborted).
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace tandem::broker
