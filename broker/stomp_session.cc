// The connection side of a STOMP session: reading, writing, receipts, heart-beats, closing.
// The command handlers are in stomp_commands.cc.

#include "broker/stomp_session.h"

#include <asio/write.hpp>

#include "broker/server.h"
#include "common/log.h"
#include "stomp/encoder.h"

namespace tandem::broker {
namespace {

// Above this many queued outbound bytes a session stops taking deliveries (the consumer
// is slower than its messages); it takes them again once the buffer has been written.
constexpr std::size_t high_water_bytes = 1 << 20;
constexpr std::size_t read_chunk = 64 * 1024;
// After an ERROR the session closes once it is written. A client that stopped reading (its
// socket's send buffer full) would keep it open for ever, with an administrator's close or a
// deleted queue having no effect: the ERROR gets this long, then the socket is closed anyway.
constexpr std::chrono::milliseconds error_write_deadline{2000};

stomp::limits limits_from(const config& cfg) {
  stomp::limits l;
  l.max_frame_bytes = cfg.limits.max_frame_bytes;
  l.max_headers = cfg.limits.max_headers;
  l.max_header_bytes = cfg.limits.max_header_bytes;
  return l;
}

}  // namespace

stomp_session::stomp_session(session_stream stream, broker& core, session_manager& manager,
                             stomp_security& security, std::uint64_t id)
    : stream_(std::move(stream)),
      core_(core),
      manager_(manager),
      security_(security),
      id_(id),
      parser_(limits_from(core.cfg())),
      send_timer_(stream_.get_executor()),
      receive_timer_(stream_.get_executor()),
      close_deadline_(stream_.get_executor()) {
  remote_ = stream_.remote();
  std::error_code ec;
  stream_.tcp().set_option(asio::ip::tcp::no_delay(true), ec);
}

stomp_session::~stomp_session() = default;

void stomp_session::start() {
  log::debug("stomp", "session {} from {} opened{}", id_, remote_, stream_.is_tls() ? " (TLS)" : "");
  connected_ms_ = now_ms();
  core_.connections().add(id_, this);
  registered_ = true;
  do_read();
}

void stomp_session::do_read() {
  if (closing_ || closed_ || authenticating_) return;
  auto buf = parser_.prepare(read_chunk);
  stream_.async_read_some(asio::buffer(buf.data(), buf.size()),
                          [self = shared_from_this()](std::error_code ec, std::size_t n) {
    if (self->closed_) return;
    if (ec) {
      self->parser_.commit(0);
      // A TLS client that closes without close_notify reads as stream_truncated: same thing here.
      const bool eof = ec == asio::error::eof || ec == asio::ssl::error::stream_truncated;
      self->close(eof ? "client closed the connection" : ec.message());
      return;
    }
    self->parser_.commit(n);
    self->read_since_tick_ = true;
    self->handle_frames();
  });
}

void stomp_session::handle_frames() {
  while (!closing_ && !closed_ && !authenticating_) {
    auto r = parser_.next();
    if (!r) {
      fail(r.err().message);
      return;
    }
    if (!*r) break;
    on_frame(**r);
  }
  do_read();
}

void stomp_session::write_frame(const frame& f) { write_frame(f, f.body); }

void stomp_session::write_frame(const frame& f, std::string_view body) {
  if (closed_) return;
  stomp::encode(f, body, version_, out_);
  do_write();
}

void stomp_session::do_write() {
  if (write_in_flight_ || out_.empty() || closed_) return;
  if (!core_.may_serve()) {
    // The lease may have passed to the peer: send nothing more, not even a receipt. Close
    // later, never from here: the caller may be in the middle of a delivery to this session.
    out_.clear();
    close_soon("lease no longer held: fenced");
    return;
  }
  writing_.swap(out_);
  out_.clear();
  write_in_flight_ = true;
  wrote_since_tick_ = true;
  stream_.async_write(asio::buffer(writing_), [self = shared_from_this()](std::error_code ec, std::size_t) {
    self->write_in_flight_ = false;
    if (self->closed_) return;
    if (ec) {
      self->close("write failed: " + ec.message());
      return;
    }
    const bool was_full = self->writing_.size() >= high_water_bytes;
    self->writing_.clear();
    if (!self->out_.empty()) {
      self->do_write();
    } else if (self->closing_ && (self->failed_ || self->receipts_.empty())) {
      // After an ERROR nothing else is sent; after a DISCONNECT, every receipt went first.
      self->close_soon("closed after ERROR or DISCONNECT");
      return;
    }
    // The consumer caught up: let its subscriptions take messages again.
    if (was_full || self->out_.size() < high_water_bytes)
      for (auto& [id, sub] : self->subscriptions_)
        if (sub->source()) sub->source()->dispatch();
  });
}

bool stomp_session::writable() const { return !closing_ && !closed_ && out_.size() < high_water_bytes; }

void stomp_session::fail(std::string message, const frame* cause, std::string detail) {
  if (closing_ || closed_) return;
  failed_ = true;
  log::info("stomp", "session {} from {}: ERROR {}", id_, remote_, message);
  frame err;
  err.command = "ERROR";
  err.add("message", message);
  if (cause) {
    if (auto* r = cause->find("receipt")) err.add("receipt-id", *r);
  }
  err.add("content-type", "text/plain");
  err.body = detail.empty() ? message : detail;
  if (!connected_) err.add("version", "1.0,1.1,1.2");
  // Nothing queued behind the ERROR: it is the last frame the client sees.
  write_frame(err);
  closing_ = true;
  arm_close_deadline();
  // fail() can run inside a broker call (a refused write reported at once); detaching and
  // closing here would free subscriptions and containers that call is still using.
  if (!write_in_flight_) close_soon("after ERROR");
}

void stomp_session::arm_close_deadline() {
  close_deadline_.expires_after(error_write_deadline);
  close_deadline_.async_wait([self = shared_from_this()](std::error_code ec) {
    if (ec || self->closed_) return;
    log::info("stomp", "session {} from {}: last frames not written within {} ms (the client is not reading); closing",
              self->id_, self->remote_, error_write_deadline.count());
    self->close("last frames not written in time");
  });
}

void stomp_session::close_soon(std::string reason) {
  closing_ = true;
  asio::post(stream_.get_executor(), [self = shared_from_this(), reason = std::move(reason)] { self->close(reason); });
}

void stomp_session::close(std::string_view reason) {
  if (closed_) return;
  closed_ = true;
  closing_ = true;
  log::debug("stomp", "session {} from {} closed: {}", id_, remote_, reason);
  if (registered_) core_.connections().remove(id_);
  registered_ = false;
  detach_all();
  send_timer_.cancel();
  receive_timer_.cancel();
  close_deadline_.cancel();
  stream_.close();
  manager_.remove(id_);
}

void stomp_session::detach_all() {
  // Abort open transactions first, so their held acknowledgements go back to subscriptions
  // that are then detached (and redelivered from there).
  for (auto& [id, tx] : transactions_)
    core_.abort(tx, [this](const std::string& sid) { return find_subscription(sid); });
  transactions_.clear();
  auto subs = std::move(subscriptions_);
  subscriptions_.clear();
  for (auto& [id, sub] : subs) core_.unsubscribe(*sub, false);
}

std::optional<std::uint64_t> stomp_session::reserve_receipt(const frame& f) {
  auto* id = f.find("receipt");
  if (!id) return std::nullopt;
  receipts_.push_back({*id, false});
  return first_receipt_ + receipts_.size() - 1;
}

void stomp_session::complete_receipt(std::optional<std::uint64_t> slot) {
  if (!slot || closed_ || *slot < first_receipt_) return;
  receipts_[*slot - first_receipt_].ready = true;
  bool wrote = false;
  while (!receipts_.empty() && receipts_.front().ready) {
    frame r;
    r.command = "RECEIPT";
    r.add("receipt-id", receipts_.front().id);
    stomp::encode(r, version_, out_);
    receipts_.pop_front();
    ++first_receipt_;
    wrote = true;
  }
  if (wrote) do_write();
  // A DISCONNECT waits for every receipt before it; the last one lets it close.
  if (closing_ && receipts_.empty() && !write_in_flight_ && out_.empty()) close_soon("DISCONNECT");
}

done_fn stomp_session::receipt_completion(const frame& f) {
  auto slot = reserve_receipt(f);
  std::string receipt(f.get("receipt"));
  return [self = shared_from_this(), slot, receipt](const tandem::error& e) {
    if (self->closed_ || self->failed_) return;  // nothing follows an ERROR
    if (e) {
      frame cause;
      if (!receipt.empty()) cause.add("receipt", receipt);
      self->fail(e.message.empty() ? e.code.message() : e.message, &cause);
      return;
    }
    self->complete_receipt(slot);
  };
}

void stomp_session::start_heartbeats(std::uint32_t client_send_ms, std::uint32_t client_recv_ms) {
  const auto& c = core_.cfg().stomp;
  // STOMP 1.1 heart-beating: each side uses the larger of what one offers and the other wants.
  if (c.heartbeat_send_ms && client_recv_ms)
    send_interval_ = std::chrono::milliseconds(std::max(c.heartbeat_send_ms, client_recv_ms));
  if (c.heartbeat_receive_ms && client_send_ms)
    receive_interval_ = std::chrono::milliseconds(std::max(c.heartbeat_receive_ms, client_send_ms));
  if (send_interval_.count()) on_send_timer();
  if (receive_interval_.count()) on_receive_timer();
}

void stomp_session::on_send_timer() {
  if (closed_) return;
  if (!wrote_since_tick_ && out_.empty() && !write_in_flight_) {
    stomp::encode_heartbeat(out_);
    do_write();
  }
  wrote_since_tick_ = false;
  // Ticking at half the interval keeps every silence under 1.5 intervals (STOMP asks for "at
  // least every n ms"; ticking at n would allow almost 2n, which is where clients give up).
  send_timer_.expires_after(send_interval_ / 2);
  send_timer_.async_wait([self = shared_from_this()](std::error_code ec) {
    if (!ec) self->on_send_timer();
  });
}

void stomp_session::on_receive_timer() {
  if (closed_) return;
  // A client is declared dead after two silent intervals, to tolerate scheduling jitter.
  silent_ticks_ = read_since_tick_ ? 0 : silent_ticks_ + 1;
  read_since_tick_ = false;
  if (silent_ticks_ >= 2) {
    log::info("stomp", "session {} from {}: no heart-beat for {} ms; closing", id_, remote_,
              2 * receive_interval_.count());
    close("heart-beat timeout");
    return;
  }
  receive_timer_.expires_after(receive_interval_);
  receive_timer_.async_wait([self = shared_from_this()](std::error_code ec) {
    if (!ec) self->on_receive_timer();
  });
}

connection_info stomp_session::describe() const {
  connection_info c;
  c.id = id_;
  c.remote = remote_;
  c.protocol = "STOMP " + std::string(stomp::to_string(version_));
  c.tls = stream_.is_tls();
  c.login = login_;
  c.client_id = client_id_;
  c.connected_ms = connected_ms_;
  c.messages_in = messages_in_;
  c.messages_out = messages_out_;
  for (const auto& [id, sub] : subscriptions_) {
    connection_subscription s;
    s.id = id;
    const container* from = sub->source();
    if (from) s.destination = from->kind() == container_kind::queue ? from->name() : from->topic;
    s.ack = sub->mode() == ack_mode::auto_ack ? "auto" : sub->mode() == ack_mode::client ? "client" : "client-individual";
    s.prefetch = sub->prefetch();
    s.inflight = sub->unacked().size();
    if (from && from->kind() == container_kind::durable) {
      s.durable = from->name().substr(std::string_view("durable:").size() + from->client_id.size() + 1);
    }
    if (sub->filter()) s.selector = sub->filter()->text();
    c.inflight += s.inflight;
    c.subscriptions.push_back(std::move(s));
  }
  return c;
}

void stomp_session::close_by_admin(const std::string& reason) {
  log::info("stomp", "session {} from {}: closed by an administrator", id_, remote_);
  if (closed_) return;
  const bool was_closing = closing_;  // e.g. a DISCONNECT whose receipts cannot be written
  fail(reason);
  if (was_closing) arm_close_deadline();
}

void stomp_session::subscription_ended(subscription& sub, const std::string& reason) {
  // STOMP has no way to end one subscription from the server side: ERROR, then close.
  fail(reason + " (subscription " + sub.id() + ")");
}

subscription* stomp_session::find_subscription(const std::string& id) {
  auto it = subscriptions_.find(id);
  return it == subscriptions_.end() ? nullptr : it->second.get();
}

}  // namespace tandem::broker
