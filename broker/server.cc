#include "broker/server.h"

#include <asio/ssl/error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <openssl/ssl.h>

#include "broker/listen.h"
#include "broker/stomp_session.h"
#include "common/log.h"

namespace tandem::broker {

void session_manager::add(std::shared_ptr<stomp_session> s) { sessions_[s->id()] = std::move(s); }

void session_manager::remove(std::uint64_t id) {
  if (!stopping_) sessions_.erase(id);
}

void session_manager::stop_all() {
  stopping_ = true;
  auto all = std::move(sessions_);
  sessions_.clear();
  for (auto& [id, s] : all) s->close("broker stopping");
  stopping_ = false;
}

// One TLS handshake in progress. Held by stomp_server::handshakes_ (so stop() can drop it)
// and by its pending handlers (so it outlives a server destroyed under them).
struct stomp_server::handshake {
  handshake(std::unique_ptr<session_stream::tls_stream> s, std::string from, std::uint64_t n)
      : stream(std::move(s)), peer(std::move(from)), id(n), timer(stream->get_executor()) {}

  std::unique_ptr<session_stream::tls_stream> stream;  // moved into the session on success
  std::string peer;
  std::uint64_t id;
  asio::steady_timer timer;
  bool timed_out = false;
  bool done = false;  // the handshake's handler ran; a timer expiry queued before it is stale

  // The pending handshake completes with an error; its handler then finds nothing to do.
  void drop() {
    std::error_code ignored;
    timer.cancel();
    if (stream) stream->next_layer().close(ignored);
  }
};

stomp_server::stomp_server(asio::io_context& io, broker& core, stomp_security& security)
    : io_(io), core_(core), security_(security), acceptor_(io), tls_acceptor_(io) {}

tandem::error stomp_server::listen(const endpoint& where) {
  if (auto err = open_listener(acceptor_, where, "STOMP")) return err;
  log::info("stomp", "listening on {}", where.to_string());
  do_accept();
  return {};
}

tandem::error stomp_server::listen_tls(const endpoint& where, asio::ssl::context& tls,
                                       std::chrono::milliseconds handshake_timeout) {
  if (auto err = open_listener(tls_acceptor_, where, "STOMP over TLS")) return err;
  tls_ = &tls;
  handshake_timeout_ = handshake_timeout;
  log::info("stomp", "listening for STOMP over TLS on {}", where.to_string());
  do_accept_tls();
  return {};
}

std::uint16_t stomp_server::port() const {
  std::error_code ec;
  auto ep = acceptor_.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

std::uint16_t stomp_server::tls_port() const {
  std::error_code ec;
  auto ep = tls_acceptor_.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

// Handshakes in progress count: each holds a socket and OpenSSL state, and a flood of
// silent TLS connections must not get past the limit the plain ones have.
bool stomp_server::at_limit() const {
  return sessions_.size() + handshakes_.size() >= core_.cfg().limits.max_connections;
}

void stomp_server::do_accept() {
  acceptor_.async_accept([this, alive = std::weak_ptr<int>(alive_)](std::error_code ec, asio::ip::tcp::socket socket) {
    if (alive.expired() || !acceptor_.is_open()) return;
    if (ec) {
      // Out of file descriptors and the like: log, and keep accepting.
      log::warn("stomp", "accept failed: {}", ec.message());
    } else if (at_limit()) {
      refuse(std::move(socket));
    } else {
      start_session(session_stream(std::move(socket)));
    }
    do_accept();
  });
}

void stomp_server::do_accept_tls() {
  tls_acceptor_.async_accept([this, alive = std::weak_ptr<int>(alive_)](std::error_code ec, asio::ip::tcp::socket socket) {
    if (alive.expired() || !tls_acceptor_.is_open()) return;
    if (ec) {
      log::warn("stomp", "TLS accept failed: {}", ec.message());
    } else if (at_limit()) {
      // No plaintext ERROR frame to a TLS client: it could not read it.
      log::warn("stomp", "refusing a TLS connection from {}: limits.max_connections ({}) reached",
                session_stream::remote_of(socket), core_.cfg().limits.max_connections);
      socket.close(ec);
    } else {
      start_handshake(std::move(socket));
    }
    do_accept_tls();
  });
}

void stomp_server::start_handshake(asio::ip::tcp::socket socket) {
  std::string peer = session_stream::remote_of(socket);
  auto h = std::make_shared<handshake>(std::make_unique<session_stream::tls_stream>(std::move(socket), *tls_),
                                       std::move(peer), next_handshake_id_++);
  handshakes_[h->id] = h;
  // A client that connects and says nothing would otherwise hold its slot until TCP gives up.
  h->timer.expires_after(handshake_timeout_);
  h->timer.async_wait([h](std::error_code ec) {
    if (ec || h->done) return;
    h->timed_out = true;
    std::error_code ignored;
    h->stream->next_layer().close(ignored);
  });
  h->stream->async_handshake(asio::ssl::stream_base::server,
                             [this, h, alive = std::weak_ptr<int>(alive_)](std::error_code ec) {
    h->done = true;
    h->timer.cancel();
    if (alive.expired()) return;
    if (handshakes_.erase(h->id) == 0) return;  // dropped by stop()
    if (ec || h->timed_out) {
      std::string why = h->timed_out ? fmt::format("no handshake within {} ms (tls.handshake_timeout_ms)",
                                                   handshake_timeout_.count())
                                     : ec.message();
      log::info("stomp", "TLS handshake from {} failed: {}", h->peer, why);
      h->drop();
      return;
    }
    log::debug("stomp", "TLS handshake from {} done ({})", h->peer, SSL_get_version(h->stream->native_handle()));
    start_session(session_stream(std::move(h->stream)));
  });
}

void stomp_server::start_session(session_stream stream) {
  auto s = std::make_shared<stomp_session>(std::move(stream), core_, sessions_, security_, next_session_id_++);
  sessions_.add(s);
  s->start();
}

void stomp_server::refuse(asio::ip::tcp::socket socket) {
  log::warn("stomp", "refusing a connection: limits.max_connections ({}) reached",
            core_.cfg().limits.max_connections);
  auto sock = std::make_shared<asio::ip::tcp::socket>(std::move(socket));
  auto text = std::make_shared<std::string>(
      "ERROR\nmessage:too many connections (limits.max_connections is " +
      std::to_string(core_.cfg().limits.max_connections) + ")\n\n");
  text->push_back('\0');
  asio::async_write(*sock, asio::buffer(*text), [sock, text](std::error_code, std::size_t) {
    std::error_code ignored;
    sock->close(ignored);
  });
}

void stomp_server::stop() {
  std::error_code ignored;
  acceptor_.close(ignored);
  tls_acceptor_.close(ignored);
  auto pending = std::move(handshakes_);
  handshakes_.clear();
  for (auto& [id, h] : pending) h->drop();
  sessions_.stop_all();
}

}  // namespace tandem::broker
