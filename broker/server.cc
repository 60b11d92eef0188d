#include "broker/server.h"

#include <asio/write.hpp>

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

stomp_server::stomp_server(asio::io_context& io, broker& core) : io_(io), core_(core), acceptor_(io) {}

tandem::error stomp_server::listen(const endpoint& where) {
  if (auto err = open_listener(acceptor_, where, "STOMP")) return err;
  log::info("stomp", "listening on {}", where.to_string());
  do_accept();
  return {};
}

std::uint16_t stomp_server::port() const {
  std::error_code ec;
  auto ep = acceptor_.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

void stomp_server::do_accept() {
  acceptor_.async_accept([this, alive = std::weak_ptr<int>(alive_)](std::error_code ec, asio::ip::tcp::socket socket) {
    if (alive.expired() || !acceptor_.is_open()) return;
    if (ec) {
      // Out of file descriptors and the like: log, and keep accepting.
      log::warn("stomp", "accept failed: {}", ec.message());
    } else if (sessions_.size() >= core_.cfg().limits.max_connections) {
      refuse(std::move(socket));
    } else {
      auto s = std::make_shared<stomp_session>(std::move(socket), core_, sessions_, next_session_id_++);
      sessions_.add(s);
      s->start();
    }
    do_accept();
  });
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
  sessions_.stop_all();
}

}  // namespace tandem::broker
