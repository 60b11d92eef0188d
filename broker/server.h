#pragma once
// The STOMP listeners (plain and TLS) and the set of live sessions.
//
// session_manager holds every session so stop_all() can close them on shutdown; sessions
// remove themselves when they close. The server's accept loops check that their acceptor is
// still open, and refuse connections past limits.max_connections (sessions of both listeners
// plus TLS handshakes in progress): a plain one with an ERROR frame, a TLS one by closing it.
//
// TLS: the accept loop runs the handshake before the session exists, so the session code is
// the same for both (session_stream.h) and a plain session carries no TLS state. A handshake
// that fails, or does not finish within its timeout (a client that connects and says
// nothing), is logged at info with the peer's address and closed; nothing else is affected.
//
// Threading: everything runs on the io_context's one thread.

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/context.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <unordered_map>

#include "broker/broker.h"
#include "broker/config.h"
#include "broker/session_stream.h"
#include "broker/stomp_security.h"
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
  // `security` (the node's) outlives this server and its sessions.
  stomp_server(asio::io_context& io, broker& core, stomp_security& security);
  stomp_server(const stomp_server&) = delete;
  stomp_server& operator=(const stomp_server&) = delete;

  // Binds and starts accepting; an error names the address (e.g. already in use).
  tandem::error listen(const endpoint& where);
  // Binds a second listener that serves STOMP over TLS with `tls` (tls_context.h), each
  // handshake bounded by `handshake_timeout`. `tls` must outlive this server.
  tandem::error listen_tls(const endpoint& where, asio::ssl::context& tls,
                           std::chrono::milliseconds handshake_timeout);
  // Stops accepting on both listeners, drops handshakes in progress and closes every session.
  void stop();
  std::size_t connections() const { return sessions_.size(); }
  std::size_t handshakes_in_progress() const { return handshakes_.size(); }
  std::uint16_t port() const;
  std::uint16_t tls_port() const;

 private:
  struct handshake;

  void do_accept();
  void do_accept_tls();
  void start_handshake(asio::ip::tcp::socket socket);
  void start_session(session_stream stream);
  bool at_limit() const;
  void refuse(asio::ip::tcp::socket socket);

  asio::io_context& io_;
  broker& core_;
  stomp_security& security_;
  asio::ip::tcp::acceptor acceptor_;
  asio::ip::tcp::acceptor tls_acceptor_;
  asio::ssl::context* tls_ = nullptr;
  std::chrono::milliseconds handshake_timeout_{0};
  session_manager sessions_;
  std::unordered_map<std::uint64_t, std::shared_ptr<handshake>> handshakes_;
  std::uint64_t next_session_id_ = 1;
  std::uint64_t next_handshake_id_ = 1;
  // The accept handler may run after this server is destroyed (with operation_aborted).
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace tandem::broker
