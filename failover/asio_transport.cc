#include "failover/asio_transport.h"

#include <openssl/ssl.h>

#include <array>
#include <map>
#include <unordered_map>

#include <asio/connect.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/ssl.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <fmt/format.h>

#include "failover/errors.h"

namespace tandem::failover {

namespace {

using asio::ip::tcp;
using tls_stream = asio::ssl::stream<tcp::socket>;

// Big enough for a dozen 1 KiB messages per read.
constexpr std::size_t read_chunk = 16 * 1024;

error describe(std::string_view what, const std::error_code& ec) {
  if (ec.category() == asio::error::get_ssl_category() || ec == asio::ssl::error::stream_truncated) {
    std::string reason = ec.message();
    if (const char* r = ERR_reason_error_string(static_cast<unsigned long>(ec.value()))) reason = r;
    return {errc::tls_error, fmt::format("{}: {}", what, reason)};
  }
  return {ec, std::string(what)};
}

// One TCP or TLS connection. Handlers hold a shared_ptr to it, so it lives until the last one
// has run; close() makes every later completion a no-op (transport.h's contract).
class asio_transport : public transport, public std::enable_shared_from_this<asio_transport> {
 public:
  asio_transport(asio::io_context& io, endpoint where, asio::ssl::context* tls)
      : where_(std::move(where)), resolver_(io), socket_(io) {
    if (tls) tls_ = std::make_unique<tls_stream>(io, *tls);
  }

  void async_connect(milliseconds, std::function<void(error)> done) override {
    // connection.h enforces connectTimeout around the whole attempt and closes us at the end.
    auto self = shared_from_this();
    resolver_.async_resolve(where_.host, std::to_string(where_.port),
                            [self, done = std::move(done)](std::error_code ec, tcp::resolver::results_type results) mutable {
                              if (self->closed_) return;
                              if (ec) return done(describe(fmt::format("resolving '{}'", self->where_.host), ec));
                              self->connect_to(std::move(results), std::move(done));
                            });
  }

  void async_read(std::function<void(error, std::string_view)> done) override {
    auto self = shared_from_this();
    auto handler = [self, done = std::move(done)](std::error_code ec, std::size_t n) {
      if (self->closed_) return;
      if (ec) return done(describe("reading", ec), {});
      done({}, std::string_view(self->buffer_.data(), n));
    };
    if (tls_) tls_->async_read_some(asio::buffer(buffer_), std::move(handler));
    else socket_.async_read_some(asio::buffer(buffer_), std::move(handler));
  }

  void async_write(std::string data, std::function<void(error)> done) override {
    auto self = shared_from_this();
    auto owned = std::make_shared<std::string>(std::move(data));
    auto handler = [self, owned, done = std::move(done)](std::error_code ec, std::size_t) {
      if (self->closed_) return;
      done(ec ? describe("writing", ec) : error{});
    };
    if (tls_) asio::async_write(*tls_, asio::buffer(*owned), std::move(handler));
    else asio::async_write(socket_, asio::buffer(*owned), std::move(handler));
  }

  void close() override {
    closed_ = true;
    std::error_code ignored;
    resolver_.cancel();
    lowest().close(ignored);  // no TLS close_notify: a lost connection cannot answer it anyway
  }

 private:
  tcp::socket& lowest() { return tls_ ? tls_->next_layer() : socket_; }

  void connect_to(tcp::resolver::results_type results, std::function<void(error)> done) {
    auto self = shared_from_this();
    asio::async_connect(lowest(), results, [self, done = std::move(done)](std::error_code ec, const tcp::endpoint&) mutable {
      if (self->closed_) return;
      if (ec) return done(describe("connecting", ec));
      std::error_code ignored;
      self->lowest().set_option(tcp::no_delay(true), ignored);
      if (!self->tls_) return done({});
      self->handshake(std::move(done));
    });
  }

  void handshake(std::function<void(error)> done) {
    // SNI, and the certificate's names checked against the host we were asked to reach.
    SSL_set_tlsext_host_name(tls_->native_handle(), where_.host.c_str());
    if (where_.tls_settings.verify_peer) tls_->set_verify_callback(asio::ssl::host_name_verification(where_.host));
    auto self = shared_from_this();
    tls_->async_handshake(asio::ssl::stream_base::client, [self, done = std::move(done)](std::error_code ec) {
      if (self->closed_) return;
      if (!ec) return done({});
      std::string reason = ec.message();
      const long verify = SSL_get_verify_result(self->tls_->native_handle());
      if (verify != X509_V_OK) reason = fmt::format("certificate verification failed: {}", X509_verify_cert_error_string(verify));
      done(error{errc::tls_error, "TLS handshake: " + reason});
    });
  }

  endpoint where_;
  tcp::resolver resolver_;
  tcp::socket socket_;                // plain TCP (unused with TLS)
  std::unique_ptr<tls_stream> tls_;   // TLS over its own socket
  std::array<char, read_chunk> buffer_;
  bool closed_ = false;
};

result<std::shared_ptr<asio::ssl::context>> make_tls_context(const tls_options& t) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  std::error_code ec;
  auto fail = [&](std::string_view what, const std::string& file) {
    return error{errc::tls_error, fmt::format("{} '{}': {}", what, file, ec.message())};
  };
  if (t.verify_peer) {
    ctx->set_verify_mode(asio::ssl::verify_peer, ec);
    if (!t.ca_file.empty()) {
      if (ctx->load_verify_file(t.ca_file, ec); ec) return fail("caFile", t.ca_file);
    } else if (ctx->set_default_verify_paths(ec); ec) {
      return error{errc::tls_error, "cannot load the system's trusted certificates: " + ec.message()};
    }
  } else {
    ctx->set_verify_mode(asio::ssl::verify_none, ec);
  }
  if (t.cert_file.empty() != t.key_file.empty())
    return error{errc::tls_error, "certFile and keyFile must be given together"};
  if (!t.cert_file.empty()) {
    if (ctx->use_certificate_chain_file(t.cert_file, ec); ec) return fail("certFile", t.cert_file);
    if (ctx->use_private_key_file(t.key_file, asio::ssl::context::pem, ec); ec) return fail("keyFile", t.key_file);
    if (SSL_CTX_check_private_key(ctx->native_handle()) != 1)
      return error{errc::tls_error, fmt::format("keyFile '{}' does not match certFile '{}'", t.key_file, t.cert_file)};
  }
  return ctx;
}

class asio_transports : public transport_factory {
 public:
  explicit asio_transports(asio::io_context& io) : io_(io) {}
  error prepare(const endpoint& ep) {
    if (!ep.tls) return {};
    for (auto& [settings, ctx] : contexts_)
      if (settings == ep.tls_settings) return {};
    auto ctx = make_tls_context(ep.tls_settings);
    if (!ctx) return ctx.err();
    contexts_.emplace_back(ep.tls_settings, std::move(*ctx));
    return {};
  }
  std::shared_ptr<transport> make(const endpoint& where) override {
    asio::ssl::context* ctx = nullptr;
    if (where.tls)
      for (auto& [settings, c] : contexts_)
        if (settings == where.tls_settings) ctx = c.get();
    return std::make_shared<asio_transport>(io_, where, ctx);
  }

 private:
  asio::io_context& io_;
  std::vector<std::pair<tls_options, std::shared_ptr<asio::ssl::context>>> contexts_;
};

class asio_scheduler : public scheduler, public std::enable_shared_from_this<asio_scheduler> {
 public:
  explicit asio_scheduler(asio::io_context& io) : io_(io) {}
  clock::time_point now() const override { return clock::now(); }
  timer_id after(milliseconds delay, std::function<void()> fn) override {
    const timer_id id = next_id_++;
    auto timer = std::make_shared<asio::steady_timer>(io_, delay);
    timers_.emplace(id, timer);
    std::weak_ptr<asio_scheduler> weak = shared_from_this();
    timer->async_wait([weak, id, fn = std::move(fn)](std::error_code ec) {
      auto self = weak.lock();
      if (!self || ec) return;
      if (self->timers_.erase(id) == 0) return;  // cancelled
      fn();
    });
    return id;
  }
  void cancel(timer_id id) override {
    auto it = timers_.find(id);
    if (it == timers_.end()) return;
    it->second->cancel();
    timers_.erase(it);
  }

 private:
  asio::io_context& io_;
  std::unordered_map<timer_id, std::shared_ptr<asio::steady_timer>> timers_;
  timer_id next_id_ = 1;
};

}  // namespace

result<std::shared_ptr<transport_factory>> make_asio_transports(asio::io_context& io, const failover_options& o) {
  auto f = std::make_shared<asio_transports>(io);
  for (const auto& ep : o.endpoints)
    if (auto e = f->prepare(ep)) return error{e.code, ep.to_string() + ": " + e.message};
  return std::shared_ptr<transport_factory>(std::move(f));
}

std::shared_ptr<scheduler> make_asio_scheduler(asio::io_context& io) { return std::make_shared<asio_scheduler>(io); }

result<std::shared_ptr<connection>> make_connection(asio::io_context& io, failover_options o) {
  auto transports = make_asio_transports(io, o);
  if (!transports) return transports.err();
  return connection::create(std::move(o), std::move(*transports), make_asio_scheduler(io));
}

}  // namespace tandem::failover
