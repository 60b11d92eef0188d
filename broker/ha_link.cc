#include "broker/ha_link.h"

#include <asio/connect.hpp>

#include "broker/listen.h"
#include "common/log.h"

namespace tandem::broker {

// One connection attempt/connection to the active. Shared so pending handlers keep it alive;
// `stale` is set when the link moves on to another target.
struct ha_link::watcher : std::enable_shared_from_this<watcher> {
  watcher(asio::io_context& io, target t, dead_fn d) : socket(io), tgt(std::move(t)), on_dead(std::move(d)) {}

  asio::ip::tcp::socket socket;
  target tgt;
  dead_fn on_dead;
  bool connecting = false;
  bool connected = false;
  bool stale = false;
  bool was_connected = false;  // only a link that existed and closed, then refused, is evidence
  char byte = 0;

  void connect() {
    if (connecting || connected || stale) return;
    auto ep = parse_tcp_address(tgt.address);
    if (!ep) return;
    connecting = true;
    std::error_code ignored;
    socket.close(ignored);
    socket.async_connect(*ep, [self = shared_from_this()](std::error_code ec) {
      self->connecting = false;
      if (self->stale) return;
      if (ec == asio::error::connection_refused && self->was_connected) {
        log::info("ha", "active of epoch {} at {} refuses connections: its process is gone", self->tgt.epoch,
                  self->tgt.address);
        self->on_dead(self->tgt.epoch);
        return;
      }
      if (ec) return;  // proves nothing; the next observation tries again
      self->connected = true;
      self->was_connected = true;
      log::debug("ha", "watching the active of epoch {} at {}", self->tgt.epoch, self->tgt.address);
      self->read();
    });
  }

  void read() {
    socket.async_read_some(asio::buffer(&byte, 1), [self = shared_from_this()](std::error_code ec, std::size_t) {
      if (self->stale) return;
      if (!ec) return self->read();
      // Closed under us: reconnect at once; a refusal is the evidence we need.
      self->connected = false;
      log::info("ha", "link to the active of epoch {} at {} closed ({}); checking whether its process is alive",
                self->tgt.epoch, self->tgt.address, ec.message());
      self->connect();
    });
  }

  void close() {
    stale = true;
    std::error_code ignored;
    socket.close(ignored);
  }
};

std::optional<asio::ip::tcp::endpoint> parse_tcp_address(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned long port = 0;
  try {
    port = std::stoul(address.substr(colon + 1));
  } catch (...) {
    return std::nullopt;
  }
  std::error_code ec;
  auto ip = asio::ip::make_address(host, ec);
  if (ec || port == 0 || port > 65535) return std::nullopt;
  return asio::ip::tcp::endpoint(ip, static_cast<unsigned short>(port));
}

ha_link::ha_link(asio::io_context& io) : io_(io), acceptor_(io) {}

ha_link::~ha_link() { stop(); }

tandem::error ha_link::listen(const endpoint& where) {
  if (auto err = open_listener(acceptor_, where, "the HA peer link")) return err;
  log::info("ha", "peer link listening on {}", where.to_string());
  accept_loop();
  return {};
}

void ha_link::accept_loop() {
  acceptor_.async_accept([this](std::error_code ec, asio::ip::tcp::socket s) {
    if (!acceptor_.is_open()) return;
    if (!ec) hold(std::make_shared<asio::ip::tcp::socket>(std::move(s)));
    accept_loop();
  });
}

void ha_link::hold(std::shared_ptr<asio::ip::tcp::socket> s) {
  // Nothing is exchanged: the connection exists so that its closing says something.
  std::erase_if(held_, [](auto& w) { return w.expired(); });
  held_.push_back(s);
  auto buf = std::make_shared<char>();
  s->async_read_some(asio::buffer(buf.get(), 1), [s, buf](std::error_code, std::size_t) {
    std::error_code ignored;
    s->close(ignored);  // the peer went away (or sent something): drop it
  });
}

void ha_link::watch(std::optional<target> active, dead_fn on_dead) {
  if (watcher_ && (!active || watcher_->tgt != *active)) {
    watcher_->close();
    watcher_.reset();
  }
  if (!active || active->address.empty()) return;
  if (!watcher_) watcher_ = std::make_shared<watcher>(io_, *active, std::move(on_dead));
  watcher_->connect();
}

void ha_link::stop() {
  std::error_code ignored;
  acceptor_.close(ignored);
  for (auto& w : held_)
    if (auto s = w.lock()) s->close(ignored);
  held_.clear();
  if (watcher_) {
    watcher_->close();
    watcher_.reset();
  }
}

}  // namespace tandem::broker
