#include "failover/stomp_connection.h"

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

#include "stomp/encoder.h"

namespace tandem::failover {

namespace {

// Big enough for a dozen 1 KiB messages per read, small enough that thousands of idle
// connections (tandem-bench connections) do not each pin a large buffer.
constexpr std::size_t read_chunk = 16 * 1024;

}  // namespace

stomp_connection::stomp_connection()
    : owned_io_(std::make_unique<asio::io_context>()), io_(*owned_io_), socket_(io_) {}
stomp_connection::stomp_connection(asio::io_context& io) : io_(io), socket_(io_) {}
stomp_connection::~stomp_connection() { close(); }

bool stomp_connection::run_until(clock::time_point deadline, bool close_on_timeout) {
  io_.restart();
  io_.run_until(deadline);
  if (io_.stopped()) return true;
  // Deadline passed with our operation still pending: cancel it and let its handler run, so
  // nothing refers to this stack frame afterwards. A range connect only gives up when the
  // socket is closed (a cancel moves it on to the next address).
  std::error_code ignored;
  if (close_on_timeout) socket_.close(ignored);
  else socket_.cancel(ignored);
  io_.restart();
  io_.run();
  return false;
}

error stomp_connection::fail(error e) {
  if (!failed_) {
    failed_ = true;
    failure_ = std::move(e);
  }
  std::error_code ignored;
  socket_.close(ignored);
  io_.restart();
  io_.run();
  return failure_;
}

error stomp_connection::not_connected() const {
  if (failed_) return failure_;
  return error{errc::not_connected, "not connected to a broker"};
}

void stomp_connection::close() {
  std::error_code ignored;
  socket_.close(ignored);
  io_.restart();
  io_.run();
  out_.clear();
  messages_.clear();
  awaited_.clear();
  arrived_.clear();
}

error stomp_connection::connect(const std::string& host, std::uint16_t port,
                                const connect_options& options) {
  close();
  failed_ = false;
  failure_ = {};
  parser_ = stomp::parser{};  // CONNECTED is never unescaped; 1.0 rules until negotiated
  heartbeat_interval_ = {};
  const auto deadline = clock::now() + options.timeout;
  const std::string where = fmt::format("{}:{}", host, port);

  asio::ip::tcp::resolver resolver(io_);
  std::error_code ec;
  auto endpoints = resolver.resolve(host, std::to_string(port), ec);
  if (ec) return error{ec, fmt::format("cannot resolve {}", host)};
  ec = asio::error::would_block;
  asio::async_connect(socket_, endpoints, [&](const std::error_code& e, const auto&) { ec = e; });
  if (!run_until(deadline, true)) return fail({errc::timed_out, fmt::format("connecting to {}", where)});
  if (ec) return fail({ec, fmt::format("cannot connect to {}", where)});
  // Receipt latency is the figure that matters; never let Nagle hold back a small frame.
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);

  stomp::frame f;
  f.command = "CONNECT";
  f.add("accept-version", "1.0,1.1,1.2");
  f.add("host", options.vhost.empty() ? host : options.vhost);
  if (!options.login.empty()) f.add("login", options.login);
  if (!options.passcode.empty()) f.add("passcode", options.passcode);
  if (!options.client_id.empty()) f.add("client-id", options.client_id);
  f.add("heart-beat", fmt::format("{},{}", options.heartbeat_send_ms, options.heartbeat_receive_ms));
  stomp::encode(f, stomp::version::v1_0, out_);  // CONNECT headers are never escaped
  if (auto e = flush()) return e;

  std::optional<stomp::frame> reply;
  if (auto e = read_frame(deadline, reply)) {
    if (e.code == errc::timed_out) return fail({errc::timed_out, fmt::format("no CONNECTED from {}", where)});
    return fail(e);
  }
  if (reply->command == "ERROR") return dispatch(std::move(*reply));
  if (reply->command != "CONNECTED")
    return fail({errc::protocol_error, fmt::format("expected CONNECTED, got {}", reply->command)});

  const auto v = reply->get("version", "1.0");
  version_ = v == "1.2" ? stomp::version::v1_2 : v == "1.1" ? stomp::version::v1_1 : stomp::version::v1_0;
  parser_.set_version(version_);
  // Heart-beats we must send: max(what we offer, what the broker wants), if both are non-zero.
  unsigned server_send = 0, server_receive = 0;
  std::sscanf(std::string(reply->get("heart-beat", "0,0")).c_str(), "%u,%u", &server_send, &server_receive);
  if (options.heartbeat_send_ms && server_receive)
    heartbeat_interval_ = std::chrono::milliseconds(std::max<unsigned>(options.heartbeat_send_ms, server_receive));
  connected_frame_ = std::move(*reply);
  return {};
}

error stomp_connection::write_frame(const stomp::frame& f) {
  if (!connected()) return not_connected();
  stomp::encode(f, version_, out_);
  if (out_.size() >= flush_threshold) {
    if (auto e = flush()) return e;
    return poll_available();
  }
  return {};
}

error stomp_connection::flush() {
  if (out_.empty()) return {};
  if (!connected()) return not_connected();
  std::error_code ec = asio::error::would_block;
  asio::async_write(socket_, asio::buffer(out_), [&](const std::error_code& e, std::size_t) { ec = e; });
  if (!run_until(clock::now() + default_timeout))
    return fail({errc::timed_out, "writing to the broker (it stopped reading)"});
  if (ec) {
    // The broker usually closes after an ERROR frame; prefer its reason to "broken pipe".
    poll_available();
    return fail({ec, "writing to the broker"});
  }
  out_.clear();
  last_write_ = clock::now();
  return {};
}

error stomp_connection::flush_heartbeat() {
  if (!connected()) return not_connected();
  stomp::encode_heartbeat(out_);
  return flush();
}

error stomp_connection::read_some(clock::time_point deadline) {
  for (;;) {
    clock::time_point wake = deadline;
    // Send at two thirds of the interval, so network jitter never makes us look dead.
    const auto heartbeat_at = last_write_ + heartbeat_interval_ * 2 / 3;
    const bool heartbeat_due = heartbeat_interval_.count() > 0 && heartbeat_at < deadline;
    if (heartbeat_due) wake = heartbeat_at;
    std::error_code ec = asio::error::would_block;
    std::size_t n = 0;
    auto span = parser_.prepare(read_chunk);
    socket_.async_read_some(asio::buffer(span.data(), span.size()), [&](const std::error_code& e, std::size_t k) {
      ec = e;
      n = k;
    });
    run_until(wake);
    parser_.commit(n);
    if (n > 0) return {};
    if (ec == asio::error::eof) return fail({errc::connection_closed, "the broker closed the connection"});
    if (ec && ec != asio::error::operation_aborted) return fail({ec, "reading from the broker"});
    if (!heartbeat_due) return error{errc::timed_out, "no frame from the broker before the deadline"};
    if (auto e = flush_heartbeat()) return e;
  }
}

error stomp_connection::read_frame(clock::time_point deadline, std::optional<stomp::frame>& got) {
  for (;;) {
    auto r = parser_.next();
    if (!r) return fail({errc::protocol_error, "bad frame from the broker: " + r.err().describe()});
    if (*r) {
      got = std::move(**r);
      return {};
    }
    // About to block: what we buffered (acks above all) must reach the broker first, or it may
    // be waiting for them before it sends more (prefetch window).
    if (auto e = flush()) return e;
    if (auto e = read_some(deadline)) return e;
  }
}

error stomp_connection::poll_available() {
  std::error_code ec;
  while (socket_.is_open() && socket_.available(ec) > 0 && !ec) {
    auto span = parser_.prepare(read_chunk);
    std::size_t n = socket_.read_some(asio::buffer(span.data(), span.size()), ec);
    parser_.commit(n);
    if (ec) break;
    for (;;) {
      auto r = parser_.next();
      if (!r) return fail({errc::protocol_error, "bad frame from the broker: " + r.err().describe()});
      if (!*r) break;
      if (auto e = dispatch(std::move(**r))) return e;
    }
  }
  return {};
}

error stomp_connection::dispatch(stomp::frame&& f) {
  if (f.command == "RECEIPT") {
    std::string id(f.get("receipt-id"));
    if (awaited_.count(id)) arrived_.insert(std::move(id));
    return {};
  }
  if (f.command == "MESSAGE") {
    messages_.push_back(std::move(f));
    return {};
  }
  if (f.command == "ERROR") {
    std::string text(f.get("message", "(no message header)"));
    std::string detail = f.body.substr(0, 512);
    while (!detail.empty() && (detail.back() == '\n' || detail.back() == '\0')) detail.pop_back();
    // Brokers often repeat the message header in the body; say it once.
    if (!detail.empty() && detail.find(text) == std::string::npos) text += ": " + detail;
    return fail({errc::broker_error, "broker error: " + text});
  }
  return fail({errc::protocol_error, fmt::format("unexpected {} frame from the broker", f.command)});
}

result<std::string> stomp_connection::send_async(std::string_view destination, std::string_view body,
                                                 const headers& extra, bool want_receipt) {
  stomp::frame f;
  f.command = "SEND";
  f.headers.reserve(extra.size() + 2);
  f.add("destination", std::string(destination));
  for (const auto& h : extra) f.headers.push_back(h);
  std::string id;
  if (want_receipt) {
    id = next_receipt_id();
    f.add("receipt", id);
  }
  f.body.assign(body);
  // Awaited before the write: a flush may already read the RECEIPT back.
  if (want_receipt) awaited_.insert(id);
  if (auto e = write_frame(f)) return e;
  return id;
}

error stomp_connection::send(std::string_view destination, std::string_view body, const headers& extra,
                             bool want_receipt, std::chrono::milliseconds timeout) {
  auto id = send_async(destination, body, extra, want_receipt);
  if (!id) return id.err();
  if (!want_receipt) return {};
  return wait_receipt(*id, timeout);
}

error stomp_connection::wait_receipt(const std::string& receipt_id, std::chrono::milliseconds timeout) {
  if (auto e = flush()) return e;
  const auto deadline = clock::now() + timeout;
  while (!arrived_.count(receipt_id)) {
    if (!connected()) return not_connected();
    std::optional<stomp::frame> f;
    if (auto e = read_frame(deadline, f)) {
      if (e.code == errc::timed_out) return error{errc::timed_out, fmt::format("no RECEIPT {} within {} ms", receipt_id, timeout.count())};
      return e;
    }
    if (auto e = dispatch(std::move(*f))) return e;
  }
  arrived_.erase(receipt_id);
  awaited_.erase(receipt_id);
  return {};
}

error stomp_connection::subscribe(std::string_view id, std::string_view destination, std::string_view ack_mode,
                                  const headers& extra, bool want_receipt) {
  stomp::frame f;
  f.command = "SUBSCRIBE";
  f.add("id", std::string(id));
  f.add("destination", std::string(destination));
  f.add("ack", std::string(ack_mode));
  for (const auto& h : extra) f.headers.push_back(h);
  std::string receipt;
  if (want_receipt) {
    receipt = next_receipt_id();
    f.add("receipt", receipt);
    awaited_.insert(receipt);  // before the write: a flush may already read the RECEIPT back
  }
  if (auto e = write_frame(f)) return e;
  return want_receipt ? wait_receipt(receipt) : flush();
}

error stomp_connection::unsubscribe(std::string_view id) {
  stomp::frame f;
  f.command = "UNSUBSCRIBE";
  f.add("id", std::string(id));
  return write_frame(f);
}

result<stomp::frame> stomp_connection::receive(std::chrono::milliseconds timeout) {
  if (messages_.empty()) {
    if (!connected()) return not_connected();
    const auto deadline = clock::now() + timeout;
    while (messages_.empty()) {
      std::optional<stomp::frame> f;
      if (auto e = read_frame(deadline, f)) {
        if (e.code == errc::timed_out) return error{errc::timed_out, fmt::format("no MESSAGE within {} ms", timeout.count())};
        return e;
      }
      if (auto e = dispatch(std::move(*f))) return e;
    }
  }
  stomp::frame m = std::move(messages_.front());
  messages_.pop_front();
  return m;
}

namespace {
// The headers that identify a MESSAGE in ACK/NACK, per version.
result<stomp::frame> ack_frame(const char* command, const stomp::frame& m, stomp::version v) {
  stomp::frame f;
  f.command = command;
  if (v == stomp::version::v1_2) {
    if (!m.has("ack"))
      return error{std::make_error_code(std::errc::invalid_argument),
                   "MESSAGE has no ack header (its subscription is in auto ack mode)"};
    f.add("id", std::string(m.get("ack")));
  } else {
    f.add("message-id", std::string(m.get("message-id")));
    if (v == stomp::version::v1_1) f.add("subscription", std::string(m.get("subscription")));
  }
  return f;
}
}  // namespace

error stomp_connection::ack(const stomp::frame& message) {
  auto f = ack_frame("ACK", message, version_);
  if (!f) return f.err();
  return write_frame(*f);
}

error stomp_connection::nack(const stomp::frame& message) {
  auto f = ack_frame("NACK", message, version_);
  if (!f) return f.err();
  return write_frame(*f);
}

error stomp_connection::disconnect(std::chrono::milliseconds timeout) {
  if (!connected()) {
    close();
    return {};
  }
  stomp::frame f;
  f.command = "DISCONNECT";
  std::string id = next_receipt_id();
  f.add("receipt", id);
  awaited_.insert(id);
  error e = write_frame(f);
  if (!e) e = wait_receipt(id, timeout);
  close();
  return e;
}

}  // namespace tandem::failover
