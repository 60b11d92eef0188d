#include "failover/client.h"

#include <future>

#include <asio/post.hpp>
#include <fmt/format.h>

#include "failover/asio_transport.h"

namespace tandem::failover {

namespace {

error closed_error() { return {errc::closed, "the client is closed"}; }

// What an ACK/NACK needs from a message, so a big body is not copied to the other thread.
message ack_slice(const message& m) {
  message s;
  s.subscription = m.subscription;
  s.generation = m.generation;
  s.frame.command = "MESSAGE";
  s.frame.add("ack", std::string(m.header("ack")));
  s.frame.add("message-id", std::string(m.message_id()));
  return s;
}

}  // namespace

client::client() : work_(asio::make_work_guard(io_)) {}

result<std::unique_ptr<client>> client::open(std::string_view uri, milliseconds connect_timeout) {
  auto options = parse_uri(uri);
  if (!options) return options.err();
  return open(std::move(*options), connect_timeout);
}

result<std::unique_ptr<client>> client::open(failover_options options, milliseconds connect_timeout) {
  std::unique_ptr<client> c(new client());
  auto conn = make_connection(c->io_, std::move(options));
  if (!conn) return conn.err();
  c->conn_ = std::move(*conn);
  c->producer_id_ = c->conn_->producer_id();
  c->conn_->on_event([raw = c.get()](const event& e) { raw->on_connection_event(e); });
  c->thread_ = std::thread([raw = c.get()] { raw->io_.run(); });
  if (auto e = c->start(connect_timeout)) return e;  // the destructor closes and joins
  return c;
}

client::~client() { close(); }

void client::on_connection_event(const event& e) {
  generation_ = conn_->generation();
  if (e.kind == event_kind::closed) {
    std::lock_guard lock(mutex_);
    connection_closed_ = true;
    close_reason_ = e.reason;
    cv_.notify_all();
    inbox_cv_.notify_all();
  }
  std::lock_guard lock(events_mutex_);
  if (user_events_) user_events_(e);
}

void client::on_event(event_handler h) {
  std::lock_guard lock(events_mutex_);
  user_events_ = std::move(h);
}

error client::start(milliseconds timeout) {
  auto e = call(
      [this](completion done) {
        // The first connection's resumed event is emitted after this completion: take its
        // generation here, so generation() is right as soon as open() returns.
        conn_->start([this, done = std::move(done)](error e) {
          generation_ = conn_->generation();
          done(std::move(e));
        });
      },
      timeout);
  if (e.code == errc::timed_out && e.message.starts_with("no answer"))
    e.message = fmt::format("not connected within {} ms", timeout.count());
  return e;
}

void client::submit(std::function<void()> fn) {
  bool post_now = false;
  {
    std::lock_guard lock(mutex_);
    submitted_.push_back(std::move(fn));
    if (!drain_posted_) drain_posted_ = post_now = true;
  }
  if (post_now) asio::post(io_, [this] { run_submitted(); });
}

void client::run_submitted() {
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard lock(mutex_);
    batch.swap(submitted_);
    drain_posted_ = false;
  }
  for (auto& fn : batch) fn();
}

error client::call(std::function<void(completion)> fn, milliseconds timeout) {
  if (closed_) return closed_error();
  auto promise = std::make_shared<std::promise<error>>();
  auto result = promise->get_future();
  submit([fn = std::move(fn), promise] { fn([promise](error e) { promise->set_value(std::move(e)); }); });
  if (timeout.count() < 0) {
    result.wait();
  } else if (result.wait_for(timeout) != std::future_status::ready) {
    return {errc::timed_out, fmt::format("no answer within {} ms", timeout.count())};
  }
  return result.get();
}

template <typename T>
T client::on_thread(std::function<T()> fn) {
  auto promise = std::make_shared<std::promise<T>>();
  auto result = promise->get_future();
  submit([fn = std::move(fn), promise] { promise->set_value(fn()); });
  return result.get();
}

error client::send(std::string_view destination, std::string_view body, const headers& extra,
                   std::string_view transaction) {
  return call([this, d = std::string(destination), b = std::string(body), h = extra,
               t = std::string(transaction)](completion done) mutable {
    conn_->send(std::move(d), std::move(b), std::move(h), std::move(done), std::move(t));
  });
}

void client::send_async(std::string_view destination, std::string_view body, const headers& extra, completion done) {
  if (closed_) {
    if (done) done(closed_error());
    return;
  }
  {
    std::unique_lock lock(mutex_);
    // Back-pressure: a producer far ahead of its receipts waits here instead of queueing
    // without bound.
    if (async_outstanding_ >= max_async_outstanding) {
      ++backpressure_waiters_;
      cv_.wait(lock, [&] { return async_outstanding_ < max_async_outstanding || connection_closed_ || closed_; });
      --backpressure_waiters_;
    }
    ++async_outstanding_;
  }
  submit([this, d = std::string(destination), b = std::string(body), h = extra, done = std::move(done)]() mutable {
    conn_->send(std::move(d), std::move(b), std::move(h), [this, done = std::move(done)](error e) {
      if (done) done(e);
      std::lock_guard lock(mutex_);
      --async_outstanding_;
      if (e && !async_first_error_) async_first_error_ = e;
      // Wake only those whose condition now holds: waking a waiter per receipt costs a context
      // switch per message.
      if ((async_waiters_ > 0 && async_outstanding_ == 0) ||
          (backpressure_waiters_ > 0 && async_outstanding_ == max_async_outstanding / 2))
        cv_.notify_all();
    });
  });
}

error client::wait_for_receipts(milliseconds timeout) {
  std::unique_lock lock(mutex_);
  ++async_waiters_;
  auto ready = [&] { return async_outstanding_ == 0; };
  bool ok = true;
  if (timeout.count() < 0) cv_.wait(lock, ready);
  else ok = cv_.wait_for(lock, timeout, ready);
  --async_waiters_;
  if (!ok) return {errc::timed_out, fmt::format("{} sends still without a receipt after {} ms", async_outstanding_, timeout.count())};
  error e = std::move(async_first_error_);
  async_first_error_ = {};
  return e;
}

error client::subscribe(subscription_spec spec) {
  return call([this, spec = std::move(spec)](completion done) mutable {
    conn_->subscribe(
        std::move(spec),
        [this](message&& m) {
          std::lock_guard lock(mutex_);
          inbox_.push_back(std::move(m));
          inbox_cv_.notify_one();
        },
        std::move(done));
  });
}

error client::unsubscribe(std::string_view id) {
  return call([this, id = std::string(id)](completion done) { conn_->unsubscribe(id, std::move(done)); });
}

result<message> client::receive(milliseconds timeout) {
  std::unique_lock lock(mutex_);
  auto ready = [&] { return !inbox_.empty() || connection_closed_ || closed_; };
  if (timeout.count() < 0) inbox_cv_.wait(lock, ready);
  else if (!inbox_cv_.wait_for(lock, timeout, ready))
    return error{errc::timed_out, fmt::format("no message within {} ms", timeout.count())};
  if (inbox_.empty()) return connection_closed_ && close_reason_ ? close_reason_ : closed_error();
  message m = std::move(inbox_.front());
  inbox_.pop_front();
  return m;
}

error client::ack(const message& m, std::string_view transaction) {
  if (closed_) return closed_error();
  // Checked here so the caller learns at once; the background thread checks again (the
  // connection may be lost in between — then the ack is dropped and counted as stale).
  if (m.generation != generation_.load()) {
    ++stale_acks_;
    return {errc::stale_message, fmt::format("message {} came on a connection that was lost; the broker redelivers it",
                                             m.message_id())};
  }
  submit([this, s = ack_slice(m), t = std::string(transaction)] { conn_->ack(s, t); });
  return {};
}

error client::nack(const message& m, std::string_view transaction) {
  if (closed_) return closed_error();
  if (m.generation != generation_.load()) {
    ++stale_acks_;
    return {errc::stale_message, fmt::format("message {} came on a connection that was lost; the broker redelivers it",
                                             m.message_id())};
  }
  submit([this, s = ack_slice(m), t = std::string(transaction)] { conn_->nack(s, t); });
  return {};
}

error client::begin(std::string_view transaction) {
  return call([this, t = std::string(transaction)](completion done) { conn_->begin(t, std::move(done)); });
}
error client::commit(std::string_view transaction) {
  return call([this, t = std::string(transaction)](completion done) { conn_->commit(t, std::move(done)); });
}
error client::abort(std::string_view transaction) {
  return call([this, t = std::string(transaction)](completion done) { conn_->abort(t, std::move(done)); });
}

void client::close() {
  if (closed_.exchange(true)) return;
  if (thread_.joinable()) {
    auto promise = std::make_shared<std::promise<void>>();
    auto finished = promise->get_future();
    submit([this, promise] { conn_->close([promise](error) { promise->set_value(); }); });
    finished.wait();
    {
      std::lock_guard lock(mutex_);
      cv_.notify_all();
      inbox_cv_.notify_all();
    }
    work_.reset();
    io_.stop();  // nothing of ours is left: the connection closed its transports and timers
    thread_.join();
  }
}

statistics client::stats() {
  statistics s = closed_ || !thread_.joinable() ? (conn_ ? conn_->stats() : statistics{})
                                                : on_thread<statistics>([this] { return conn_->stats(); });
  s.stale_acks += stale_acks_.load();  // refused here, before reaching the connection
  return s;
}

bool client::connected() {
  if (closed_) return false;
  return on_thread<bool>([this] { return conn_->connected(); });
}

std::string client::current_endpoint() {
  if (closed_) return {};
  return on_thread<std::string>([this] { return conn_->current_endpoint(); });
}

}  // namespace tandem::failover
