#pragma once
// One STOMP client connection: reads frames, turns them into broker-core calls, and writes
// MESSAGE, RECEIPT and ERROR frames back.
//
// Ownership: the session owns its stream (a TCP socket, or TLS over one: session_stream.h);
// it keeps itself alive with shared_from_this() captured in every pending operation, and the
// session_manager holds it so stop_all() can close every connection. One read loop; one write
// in flight, frames queued behind it.
//
// Receipts are sent in the order of the frames that asked for them, each only once what it
// acknowledges is done (a persistent SEND: once its record is durable). So a client that has
// a receipt for frame N knows every earlier frame was handled too.
//
// Bad input (malformed frame, unknown command, missing header, limit exceeded) gets an ERROR
// frame naming the problem, and then the connection is closed: once the ERROR is written, or
// after 2 s when the client does not read (an administrator's close of a stuck consumer).
//
// Security (stomp_security.h): with `security.enabled`, CONNECT's login/passcode are checked
// off the event loop; until the answer comes the session reads nothing more, so frames a
// client pipelined behind CONNECT wait in the parser (and TCP) and are handled in order after
// CONNECTED, or never if the login is refused. SEND needs the user's write permission for its
// destination, SUBSCRIBE (and deleting a durable subscription) read permission; a refusal is
// an ERROR and the connection closes, as for any other bad frame.

#include <asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "broker/broker.h"
#include "broker/connection_registry.h"
#include "broker/session_stream.h"
#include "broker/stomp_security.h"
#include "broker/subscription.h"
#include "stomp/frame.h"
#include "stomp/parser.h"

namespace tandem::broker {

class session_manager;

class stomp_session : public std::enable_shared_from_this<stomp_session>,
                      public delivery_sink,
                      public client_connection {
 public:
  // `security` outlives the session (the node owns it).
  stomp_session(session_stream stream, broker& core, session_manager& manager, stomp_security& security,
                std::uint64_t id);
  ~stomp_session() override;
  stomp_session(const stomp_session&) = delete;
  stomp_session& operator=(const stomp_session&) = delete;

  void start();
  // Closes at once: subscriptions detached (unacknowledged messages redelivered),
  // transactions aborted, socket closed. Idempotent.
  void close(std::string_view reason);
  // Marks the session closing and closes it from a fresh handler (safe inside any callback).
  void close_soon(std::string reason);

  bool writable() const override;
  void deliver(subscription& sub, const queued& q, std::uint64_t ack_id) override;
  void subscription_ended(subscription& sub, const std::string& reason) override;

  // client_connection (the admin API): what this connection is, and closing it with an ERROR.
  connection_info describe() const override;
  const char* protocol_name() const override { return "stomp"; }
  void close_by_admin(const std::string& reason) override;

  std::uint64_t id() const { return id_; }
  const std::string& remote() const { return remote_; }
  // The configured user this connection logged in as (security.enabled); empty when security
  // is off or before CONNECTED. Event loop only.
  const std::string& login() const { return login_; }

 private:
  using frame = stomp::frame;

  void do_read();
  // Handles the frames already buffered, then reads more (unless closing or authenticating).
  void handle_frames();
  void on_frame(frame& f);
  void on_connect(frame& f);
  // CONNECTED, heart-beats; `u` is the user when security is on.
  void accept_connect(const auth::user* u, std::uint32_t client_send_ms, std::uint32_t client_recv_ms);
  // The user's permission for `destination` (always when security is off); a refusal fails the
  // session with an ERROR naming the user, the action and the destination.
  bool permitted(const frame& f, bool write, const std::string& destination);
  // The client id that names this connection's durable subscriptions: CONNECT's client-id,
  // prefixed with "LOGIN:" when security is on, so each user has durable subscriptions of its
  // own and no other login can attach to, replace or delete them. Empty without a client-id.
  std::string durable_client_id() const;
  void on_send(frame& f);
  void on_subscribe(frame& f);
  void on_unsubscribe(frame& f);
  void on_ack(frame& f, bool positive);
  void on_begin(frame& f);
  void on_commit(frame& f);
  void on_abort(frame& f);
  void on_disconnect(frame& f);

  // Sends ERROR (with receipt-id if `cause` asked for a receipt), then closes after it is
  // written, or after 2 s if it cannot be (a client that does not read).
  void fail(std::string message, const frame* cause = nullptr, std::string detail = {});
  const std::string* require(const frame& f, std::string_view header);
  // Closes the session in 2 s unless it has closed by then (its last frames written).
  void arm_close_deadline();

  // Receipt ordering: reserve a slot when the frame arrives, complete it when done.
  std::optional<std::uint64_t> reserve_receipt(const frame& f);
  void complete_receipt(std::optional<std::uint64_t> slot);
  done_fn receipt_completion(const frame& f);

  void write_frame(const frame& f);
  void write_frame(const frame& f, std::string_view body);  // body written in place of f.body
  void do_write();
  void start_heartbeats(std::uint32_t client_send_ms, std::uint32_t client_recv_ms);
  void on_send_timer();
  void on_receive_timer();
  void detach_all();
  subscription* find_subscription(const std::string& id);
  // The subscription holding delivery `ack_id`, or holding a message with this message-id.
  subscription* find_delivery(const frame& f, std::uint64_t& ack_id);

  session_stream stream_;
  broker& core_;
  session_manager& manager_;
  stomp_security& security_;
  const std::uint64_t id_;
  std::string remote_;
  stomp::parser parser_;
  stomp::version version_ = stomp::version::v1_0;
  bool connected_ = false;
  bool authenticating_ = false;  // the login is being checked on a worker: read nothing more
  const auth::user* user_ = nullptr;  // null when security is off
  std::string login_;  // the CONNECT frame's login header; the verified user's name with security on
  bool closing_ = false;  // an ERROR or DISCONNECT is on its way out; read no more
  bool closed_ = false;
  bool failed_ = false;   // an ERROR was sent: no RECEIPT may follow it
  std::string client_id_;
  std::int64_t connected_ms_ = 0;
  std::uint64_t messages_in_ = 0;
  std::uint64_t messages_out_ = 0;
  bool registered_ = false;  // in core_.connections()

  std::string out_;      // frames queued for the next write
  std::string writing_;  // the write in flight
  bool write_in_flight_ = false;

  struct receipt_slot {
    std::string id;
    bool ready = false;
  };
  std::deque<receipt_slot> receipts_;
  std::uint64_t first_receipt_ = 0;  // slot number of receipts_.front()

  std::map<std::string, std::unique_ptr<subscription>> subscriptions_;
  std::map<std::string, transaction> transactions_;

  asio::steady_timer send_timer_;
  asio::steady_timer receive_timer_;
  asio::steady_timer close_deadline_;  // armed by fail(): the ERROR's write deadline
  std::chrono::milliseconds send_interval_{0};
  std::chrono::milliseconds receive_interval_{0};
  bool wrote_since_tick_ = false;
  bool read_since_tick_ = false;
  int silent_ticks_ = 0;
};

}  // namespace tandem::broker
