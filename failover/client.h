#pragma once
// client: the synchronous face of the failover library. It owns a background thread running an
// io_context and the asynchronous `connection` (connection.h documents the failover behaviour);
// each call hands its work to that thread and waits for the result.
//
//   auto c = failover::client::open("failover:(stomp://node-1:61613,stomp://node-2:61613)");
//   if (!c) { fmt::print(stderr, "{}\n", c.err().describe()); return 1; }
//   (*c)->send("/queue/orders", "hello", {{"persistent", "true"}});   // returns once durable
//   (*c)->subscribe({.id = "s1", .destination = "/queue/orders", .ack = "client-individual"});
//   auto m = (*c)->receive(std::chrono::seconds(5));
//   if (m) (*c)->ack(*m);
//
// Threading: all member functions may be called from any thread, concurrently. receive() from
// several threads hands each message to one of them. The event handler runs on the background
// thread and must not call back into the client's blocking functions (it would wait for itself).
//
// Errors: every function returns tandem::error / tandem::result whose code is in
// failover_category() (errors.h) — no exceptions.

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>

#include "failover/connection.h"
#include "failover/errors.h"

namespace tandem::failover {

class client {
 public:
  static constexpr milliseconds forever{-1};

  // Parses the URI, then connects (waiting up to `connect_timeout`; forever by default, bounded
  // by startupMaxReconnectAttempts).
  static result<std::unique_ptr<client>> open(std::string_view uri, milliseconds connect_timeout = forever);
  static result<std::unique_ptr<client>> open(failover_options options, milliseconds connect_timeout = forever);
  ~client();  // close()
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  // Blocks until the broker's RECEIPT (durable, for persistent messages), or an error. While
  // disconnected it waits at most the URI's `timeout` (then errc::timed_out).
  error send(std::string_view destination, std::string_view body, const headers& extra = {},
             std::string_view transaction = {});
  // Pipelined send: returns at once; `done` runs on the background thread when the receipt
  // arrives. wait_for_receipts() waits for all of them.
  void send_async(std::string_view destination, std::string_view body, const headers& extra = {},
                  completion done = {});
  // Waits until every send so far has its receipt (or failed). The first error among the
  // send_async() calls since the previous wait is returned.
  error wait_for_receipts(milliseconds timeout = forever);

  // Messages are queued for receive() (at most the broker's prefetch per subscription).
  error subscribe(subscription_spec spec);
  error unsubscribe(std::string_view id);
  // The next message of any subscription; errc::timed_out when none came in time;
  // errc::closed after close().
  result<message> receive(milliseconds timeout);
  error ack(const message& m, std::string_view transaction = {});
  error nack(const message& m, std::string_view transaction = {});

  error begin(std::string_view transaction);
  error commit(std::string_view transaction);
  error abort(std::string_view transaction);

  // DISCONNECT (after earlier receipts), stop reconnecting, stop the background thread.
  // Pending calls on other threads return errc::closed.
  void close();

  // Set before anything else happens, ideally right after open(); runs on the background thread.
  void on_event(event_handler h);
  statistics stats();
  bool connected();
  std::string current_endpoint();
  // The current connection's number (message::generation of what arrives on it, event::generation
  // of its resumed event); 0 while disconnected.
  std::uint64_t generation() const { return generation_.load(); }
  const std::string& producer_id() const { return producer_id_; }

 private:
  client();
  error start(milliseconds timeout);
  // Queues `fn` to run on the background thread, in call order. Calls made while the thread
  // is busy are handed over together (one wake-up for many pipelined sends or acks).
  void submit(std::function<void()> fn);
  void run_submitted();
  // Runs `fn(done)` on the background thread and waits for `done(error)`.
  error call(std::function<void(completion)> fn, milliseconds timeout = forever);
  template <typename T>
  T on_thread(std::function<T()> fn);
  void on_connection_event(const event& e);
  static constexpr std::uint64_t max_async_outstanding = 8192;

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::shared_ptr<connection> conn_;
  std::string producer_id_;
  std::thread thread_;
  std::atomic<bool> closed_{false};
  event_handler user_events_;
  std::mutex events_mutex_;

  std::atomic<std::uint64_t> generation_{0};
  std::atomic<std::uint64_t> stale_acks_{0};  // of the live connection (stale acks fail at once)

  std::mutex mutex_;  // guards the members below
  std::condition_variable cv_;
  std::vector<std::function<void()>> submitted_;
  bool drain_posted_ = false;
  std::deque<message> inbox_;
  bool connection_closed_ = false;
  error close_reason_;
  std::uint64_t async_outstanding_ = 0;
  std::size_t async_waiters_ = 0;         // in wait_for_receipts(): woken when outstanding reaches 0
  std::size_t backpressure_waiters_ = 0;  // in send_async(): woken at half of max_async_outstanding
  error async_first_error_;
  // receive() waits on its own condition variable: a notify_one() meant for a receiver must not
  // be taken by a thread in wait_for_receipts() (a lost wake-up on a shared one).
  std::condition_variable inbox_cv_;
};

}  // namespace tandem::failover
