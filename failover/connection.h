#pragma once
// connection: the failover transport's asynchronous core. One logical STOMP connection to a
// broker pair that survives the loss of any physical connection.
//
// What it does (DESIGN.md §6):
// - Connects to the endpoints of a failover_options in the order reconnect_policy gives, with its
//   backoff and attempt limits; a connect attempt (TCP, TLS, CONNECT→CONNECTED) is bounded by
//   connectTimeout.
// - Heart-beats are on by default: an EOL after heartBeat[0] ms without writing; the broker is
//   declared dead after 2 x the negotiated receive interval without a byte from it.
// - Every send gets a `message-id` PRODUCER:SEQ (PRODUCER is random per connection object; an
//   application-given message-id of that form is kept) and a receipt. A send is complete when
//   its RECEIPT arrives, i.e. when the broker has made it durable (persistent) or accepted it.
// - After a reconnect: subscriptions are restored first, in the order they were made, with the
//   same ids, ack modes and headers; then every operation without a receipt is written again in
//   its original order, sends with their original message-id, so the broker's duplicate
//   detection stores each once.
// - Transactions: a transaction whose BEGIN reached the lost connection is rolled back by the
//   broker; its pending operations complete with errc::transaction_rolled_back, and so does every
//   later send/ack/commit naming it (abort succeeds). A COMMIT in flight at the failure is
//   replayed (BEGIN, the same sends, COMMIT) when the transaction held only sends — duplicate
//   detection makes that exactly-once; with acks inside it completes with errc::commit_in_doubt.
// - While disconnected, sends wait in a buffer of at most maxBufferedSends (beyond it:
//   errc::buffer_full at once). With `timeout` >= 0, a send that has waited that long without a
//   connection completes with errc::timed_out and is not re-sent.
// - Flow control: at most max_in_flight_sends sends are on the wire without a receipt; later
//   operations wait in order. The bound keeps every re-sent message inside the broker's
//   duplicate-detection window (the newest 4096 sequence numbers of each producer): receipts
//   come in order, so an unreceipted send is never more than this many sends old.
// - ACK/NACK are never replayed: the broker redelivers what a lost connection had not
//   acknowledged. A new active node cannot know what the old one delivered, so the library
//   marks a message `redelivered:true` itself when its message-id was delivered to this client
//   on an earlier connection (it remembers the last remembered_deliveries ids). Acking a message from a lost connection returns errc::stale_message and sends
//   nothing.
// - close() ends everything at once: a reconnect loop stops, pending operations complete with
//   errc::closed. When connected it first sends DISCONNECT and lets earlier receipts arrive
//   (bounded by connectTimeout).
//
// Threading: every member function must be called on the executor that runs the transports' and
// scheduler's handlers (for make_connection(io, ...): a thread running that io_context; use
// asio::post from elsewhere). Completions, message handlers and events run there too, and may
// call back into the connection. Handlers must not block.
//
// Lifetime: create() returns a shared_ptr; pending handlers keep it alive until close().

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "failover/errors.h"
#include "failover/message.h"
#include "failover/reconnect_policy.h"
#include "failover/transport.h"
#include "failover/uri.h"
#include "stomp/parser.h"

namespace tandem::failover {

class connection : public std::enable_shared_from_this<connection> {
 public:
  static constexpr std::size_t max_in_flight_sends = 4000;
  static constexpr std::size_t remembered_deliveries = 16384;
  static constexpr milliseconds attempt_stagger{250};

  // `uniform01` defaults to a random source; tests pass a fixed one.
  static std::shared_ptr<connection> create(failover_options options, std::shared_ptr<transport_factory> transports,
                                            std::shared_ptr<scheduler> timers, std::function<double()> uniform01 = {});
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // Starts connecting. `done` runs once: ok at the first CONNECTED, or an error when
  // startupMaxReconnectAttempts is exhausted (errc::reconnect_failed, naming the last failure),
  // the broker refused the CONNECT (errc::broker_error: bad login) or close() was called.
  void start(completion done);

  // SEND. `done` runs when the broker's RECEIPT arrives, or with an error (see above).
  void send(std::string destination, std::string body, headers extra, completion done, std::string transaction = {});
  void subscribe(subscription_spec spec, message_handler on_message, completion done);
  void unsubscribe(const std::string& id, completion done);
  // Fire-and-forget (no receipt): errc::stale_message / not_connected / transaction_rolled_back.
  error ack(const message& m, const std::string& transaction = {});
  error nack(const message& m, const std::string& transaction = {});
  void begin(const std::string& transaction, completion done);
  void commit(const std::string& transaction, completion done);
  void abort(const std::string& transaction, completion done);
  void close(completion done = {});

  void on_event(event_handler h) { on_event_ = std::move(h); }
  bool connected() const { return phase_ == phase::connected; }
  bool closed() const { return phase_ == phase::closed; }
  // "stomp://host:port" of the current connection, "" when disconnected.
  std::string current_endpoint() const;
  const statistics& stats() const { return stats_; }
  // Bumped for every physical connection; message::generation says which one a message came on.
  std::uint64_t generation() const { return gen_; }
  const std::string& producer_id() const { return producer_id_; }
  // Sends waiting for a receipt (in flight or buffered).
  std::size_t pending_sends() const { return pending_sends_; }

 private:
  enum class phase { idle, connecting, connected, closing, closed };
  enum class op_kind { send, begin, commit, abort, unsubscribe };
  struct op {
    op_kind kind;
    stomp::frame frame;  // complete frame incl. receipt (body in frame.body)
    completion done;     // empty once completed (kept for a transaction's replay)
    std::string transaction;
    std::uint64_t written_gen = 0;  // connection generation it was last written on (0: never)
    scheduler::timer_id timeout_timer = 0;
  };
  struct tx_state {
    bool rolled_back = false;
    bool has_acks = false;
    bool begun_on_wire = false;  // BEGIN written on the current generation
    std::string rollback_reason;
  };
  struct subscription {
    subscription_spec spec;
    message_handler on_message;
    completion done;          // pending until the SUBSCRIBE receipt
    std::string receipt;
  };

  connection(failover_options options, std::shared_ptr<transport_factory> transports,
             std::shared_ptr<scheduler> timers, std::function<double()> uniform01);

  // Connecting (connection.cc). Attempts overlap: one that has not answered within
  // attempt_stagger does not hold up the next endpoint (a frozen process accepts TCP but never
  // answers), and the first CONNECTED wins.
  struct attempt_state {
    std::uint64_t gen;
    std::size_t endpoint;
    std::shared_ptr<transport> link;
    stomp::parser parser;
    scheduler::timer_id deadline = 0;
    bool connect_write_pending = false;  // CONNECT not fully written yet
  };
  void schedule_attempt();
  void launch(std::size_t endpoint_index);
  attempt_state* find_attempt(std::uint64_t gen);
  void on_transport_connected(std::uint64_t gen, error e);
  void on_attempt_bytes(attempt_state& a, std::string_view data);
  void adopt(attempt_state& a, stomp::frame& connected);
  void attempt_failed(std::uint64_t gen, error e);
  void drop_attempts();
  void connection_lost(error e);
  void restore_state();
  void finish_close(error reason);
  void check_priority_backup();

  // I/O.
  void do_read(std::uint64_t gen);  // for an attempt and, once adopted, the connection
  void on_read(std::uint64_t gen, error e, std::string_view data);
  void do_write();
  void on_bytes(std::uint64_t gen, std::string_view data);
  void dispatch(stomp::frame& f);
  void write_frame(const stomp::frame& f);
  void heartbeat_tick(std::uint64_t gen);

  // Operations.
  std::uint64_t enqueue(op_kind kind, stomp::frame f, completion done, std::string transaction);
  void write_op(std::uint64_t seq, op& o);
  void pump();  // writes ops from write_cursor_ on, as flow control allows
  void complete(op& o, error e);
  void on_receipt(const std::string& id);
  void end_transaction(op_kind kind, const std::string& transaction, completion done);  // COMMIT / ABORT
  void on_error_frame(const stomp::frame& f);
  void arm_timeout(std::uint64_t seq, op& o);
  void on_send_timeout(std::uint64_t seq);
  using deferred = std::vector<std::pair<completion, error>>;
  void roll_back_transactions(std::size_t& rolled_back, deferred& later);
  void take(op& o, error e, deferred& later);  // moves o's completion into `later`
  void post(completion done, error e);        // runs done(e) soon, never inline
  error acknowledge(const message& m, const std::string& transaction, bool positive);
  void emit(event e);
  void note_delivery(stomp::frame& f);  // marks a message seen on an earlier connection

  failover_options options_;
  std::shared_ptr<transport_factory> transports_;
  std::shared_ptr<scheduler> timers_;
  reconnect_policy policy_;
  std::string producer_id_;

  phase phase_ = phase::idle;
  std::uint64_t next_gen_ = 0;  // every transport gets the next number
  std::uint64_t gen_ = 0;       // the connected transport's number; 0 when not connected
  std::shared_ptr<transport> transport_;
  std::optional<std::size_t> endpoint_;  // index connected to
  std::optional<std::size_t> lost_endpoint_;
  std::vector<std::unique_ptr<attempt_state>> attempts_;  // in flight
  bool attempt_timer_is_stagger_ = false;
  stomp::parser parser_;
  stomp::version version_ = stomp::version::v1_2;
  std::string out_;
  bool writing_ = false;
  scheduler::timer_id attempt_timer_ = 0;   // backoff wait, stagger, or the DISCONNECT deadline
  scheduler::timer_id heartbeat_timer_ = 0;
  scheduler::timer_id priority_timer_ = 0;
  milliseconds send_interval_{0}, receive_interval_{0};
  clock::time_point last_read_{}, last_write_{}, interrupted_at_{};
  error last_failure_;
  bool ever_connected_ = false;
  completion start_done_;
  completion close_done_;

  std::map<std::uint64_t, op> ops_;  // by sequence = original order; receipt id = the sequence
  std::uint64_t next_seq_ = 1;
  std::uint64_t write_cursor_ = 1;    // ops below it were written on this connection
  std::size_t in_flight_sends_ = 0;  // written on this connection, no receipt yet
  std::size_t pending_sends_ = 0;
  std::unordered_map<std::string, tx_state> transactions_;
  std::vector<subscription> subscriptions_;  // in the order made
  std::uint64_t next_sub_receipt_ = 1;
  std::uint64_t disconnect_receipt_seq_ = 0;
  statistics stats_;
  // hash of message-id -> generation it was last delivered on, for the last remembered_deliveries
  // ids. Hashes, not strings: one lookup per delivery stays cheap (a 64-bit collision among
  // 16,384 ids, ~1e-11, would only mark a message redelivered that was not).
  std::unordered_map<std::uint64_t, std::uint64_t> delivered_on_;
  std::deque<std::uint64_t> delivered_order_;
  std::size_t rolled_back_since_interrupt_ = 0;
  event_handler on_event_;
  std::shared_ptr<transport> priority_probe_;
};

}  // namespace tandem::failover
