#pragma once
// stomp_connection: a small blocking STOMP 1.2 client over one TCP connection.
//
// It is the bottom layer of the client library: the failover transport (next) will own one of
// these at a time and reconnect it; tandem-bench and tests use it directly.
//
// Contracts:
// - Threading: not thread-safe. One thread uses one connection. Several connections may share
//   one io_context only if they are all used from the same thread (each call runs the context
//   until its own operation completes).
// - Blocking: every call returns when its work is done or its deadline passes. A timeout while
//   waiting for a frame (receive(), wait_receipt()) leaves the connection usable; a timeout while
//   connecting or writing closes it, since a half-written frame cannot be taken back.
// - Buffering: frames are encoded into an output buffer and written when it grows past
//   `flush_threshold` or before the client blocks waiting for the broker, so pipelined sends
//   and acks go out in large writes. flush() forces the write.
// - Receipts: send_async() returns the receipt id it asked for; receipts are matched by id as
//   they arrive, in any order, and remembered until wait_receipt() collects them.
// - Heart-beats: with heartbeat_send_ms set, an EOL is sent whenever a call has been blocked
//   reading for the negotiated interval since the last write. A caller that stays away from the
//   connection longer than that must call flush_heartbeat() itself (the broker would drop it).
//   Heart-beats from the broker are consumed silently; a dead broker shows as a read timeout.
// - Errors: an ERROR frame from the broker ends the connection (the broker closes it); every
//   later call returns errc::broker_error with the broker's `message` header.

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_set>
#include <utility>
#include <vector>

#include <asio.hpp>

#include "common/result.h"
#include "failover/errors.h"
#include "stomp/frame.h"
#include "stomp/parser.h"

namespace tandem::failover {


using headers = std::vector<std::pair<std::string, std::string>>;
using clock = std::chrono::steady_clock;

struct connect_options {
  std::string login;
  std::string passcode;
  std::string client_id;  // `client-id` header (durable subscriptions)
  std::string vhost;      // `host` header; defaults to the host name connected to
  // heart-beat: what we offer to send / want to receive, ms; 0,0 disables heart-beats.
  std::uint32_t heartbeat_send_ms = 0;
  std::uint32_t heartbeat_receive_ms = 0;
  std::chrono::milliseconds timeout{30000};  // bound for TCP connect and CONNECTED
};

class stomp_connection {
 public:
  static constexpr std::size_t flush_threshold = 64 * 1024;

  stomp_connection();                             // owns its io_context
  explicit stomp_connection(asio::io_context& io);  // shares one (same thread only)
  ~stomp_connection();
  stomp_connection(const stomp_connection&) = delete;
  stomp_connection& operator=(const stomp_connection&) = delete;

  // TCP connect (TCP_NODELAY), CONNECT with accept-version:1.0,1.1,1.2, wait for CONNECTED.
  error connect(const std::string& host, std::uint16_t port, const connect_options& options = {});
  bool connected() const { return socket_.is_open() && !failed_; }
  stomp::version version() const { return version_; }
  const stomp::frame& connected_frame() const { return connected_frame_; }

  // SEND; with want_receipt, waits (up to `timeout`) for the broker's RECEIPT.
  error send(std::string_view destination, std::string_view body, const headers& extra = {},
             bool want_receipt = false, std::chrono::milliseconds timeout = default_timeout);
  // SEND without waiting. Returns the receipt id asked for ("" when want_receipt is false).
  result<std::string> send_async(std::string_view destination, std::string_view body,
                                 const headers& extra = {}, bool want_receipt = false);
  // Waits until the RECEIPT with this id has arrived (it may already have).
  error wait_receipt(const std::string& receipt_id,
                     std::chrono::milliseconds timeout = default_timeout);
  // Receipts asked for and not yet collected by wait_receipt().
  std::size_t pending_receipts() const { return awaited_.size(); }

  // SUBSCRIBE; ack_mode is "auto", "client" or "client-individual". With want_receipt, waits
  // until the broker confirms, so messages sent afterwards are sure to reach this subscription.
  error subscribe(std::string_view id, std::string_view destination,
                  std::string_view ack_mode = "auto", const headers& extra = {},
                  bool want_receipt = false);
  error unsubscribe(std::string_view id);
  // The next MESSAGE frame, or errc::timed_out (connection still usable).
  result<stomp::frame> receive(std::chrono::milliseconds timeout = default_timeout);
  // ACK / NACK a MESSAGE: 1.2 uses its `ack` header, 1.1 `message-id` + `subscription`.
  error ack(const stomp::frame& message);
  error nack(const stomp::frame& message);

  error flush();
  // Sends one heart-beat EOL now (see "Heart-beats" above).
  error flush_heartbeat();
  // DISCONNECT with a receipt, wait for it, close. Safe to call when not connected.
  error disconnect(std::chrono::milliseconds timeout = default_timeout);
  // Drops the TCP connection without DISCONNECT (tests: simulate a crashed client).
  void close();

  static constexpr std::chrono::milliseconds default_timeout{30000};

 private:
  error write_frame(const stomp::frame& f);  // encode into out_, flush past the threshold
  error read_frame(clock::time_point deadline, std::optional<stomp::frame>& got);
  error read_some(clock::time_point deadline);
  error poll_available();  // processes frames already readable, without blocking
  error dispatch(stomp::frame&& f);
  error fail(error e);  // remembers the first fatal error, closes the socket
  // Runs io_ until our pending operation completes; false (operation aborted) on deadline.
  bool run_until(clock::time_point deadline, bool close_on_timeout = false);
  error not_connected() const;
  std::string next_receipt_id() { return std::to_string(++receipt_seq_); }

  std::unique_ptr<asio::io_context> owned_io_;
  asio::io_context& io_;
  asio::ip::tcp::socket socket_;
  stomp::parser parser_;
  stomp::version version_ = stomp::version::v1_2;
  stomp::frame connected_frame_;
  std::string out_;
  std::deque<stomp::frame> messages_;             // MESSAGEs read while waiting for receipts
  std::unordered_set<std::string> awaited_;      // receipt ids asked for, not yet collected
  std::unordered_set<std::string> arrived_;      // of those, the ones that came
  std::uint64_t receipt_seq_ = 0;
  std::chrono::milliseconds heartbeat_interval_{0};  // we send an EOL after this much silence
  clock::time_point last_write_ = clock::now();
  bool failed_ = false;
  error failure_;
};

}  // namespace tandem::failover
