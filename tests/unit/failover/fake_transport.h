#pragma once
// Test support for the failover library: a fake network (transport_factory) whose connections the
// test scripts, and a fake scheduler whose clock only moves when the test says so.
//
//   auto loop = std::make_shared<fake_scheduler>();
//   auto net = std::make_shared<fake_network>(loop);
//   net->refuse("stomp://a:1");                       // connect attempts to a are refused
//   auto c = connection::create(options, net, loop, [] { return 0.0; });
//   c->start(...);
//   loop->run_pending();                              // delivers whatever is due now
//   auto& t = net->last();                            // the transport just made (to b)
//   t.reply_connected();                              // the broker answers CONNECT
//   loop->run_pending();
//   CHECK(t.commands() == std::vector<std::string>{"CONNECT"});
//   loop->advance(milliseconds(500));                 // fires due timers in order
//
// Contract (as failover/transport.h asks of real implementations): no handler ever runs inside
// the call that registered it. Completions are queued on the fake_scheduler and run by
// run_pending() / advance(), on the test's thread; after close() no handler of that transport
// runs. Everything is single-threaded.
//
// What the fake broker side records: every byte the client wrote (bytes()), split into STOMP
// frames with the shared stomp::parser (frames()), and the EOLs written between frames
// (heartbeats()). A write is recorded when async_write is called; its completion is queued.
//
// A transport in "hang" mode never completes its connect: the real transports have their own
// timeout, the fake does not, so what a test sees is the connection's own connectTimeout.

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "failover/errors.h"
#include "failover/message.h"
#include "failover/transport.h"
#include "stomp/encoder.h"
#include "stomp/parser.h"

namespace tandem::failover::testing {

// A clock that starts at an arbitrary point and moves only in advance(); timers ordered by due
// time, then by the order they were set; a queue of ready handlers.
class fake_scheduler : public scheduler {
 public:
  // A test that keeps a handler loop going (a timer that re-arms itself at 0 ms, a read that
  // re-posts forever) fails with this rather than hanging.
  static constexpr std::size_t max_handlers_per_call = 200000;

  clock::time_point now() const override { return now_; }

  timer_id after(milliseconds delay, std::function<void()> fn) override {
    const auto id = next_id_++;
    timers_.emplace(id, timer{now_ + std::max(delay, milliseconds(0)), std::move(fn)});
    return id;
  }

  void cancel(timer_id id) override { timers_.erase(id); }

  // Queues a ready handler (the fake transports' completions).
  void post(std::function<void()> fn) { ready_.push_back(std::move(fn)); }

  // Runs queued handlers and timers already due (including those they add) until none is
  // left. Returns how many ran.
  std::size_t run_pending() {
    std::size_t ran = 0;
    while (true) {
      if (++ran > max_handlers_per_call)
        throw std::runtime_error("fake_scheduler: handlers keep scheduling handlers (a loop?)");
      if (!ready_.empty()) {
        auto fn = std::move(ready_.front());
        ready_.erase(ready_.begin());
        fn();
        continue;
      }
      auto due = earliest();
      if (due == timers_.end() || due->second.due > now_) break;
      auto fn = std::move(due->second.fn);
      timers_.erase(due);
      fn();
    }
    return ran - 1;
  }

  // Moves the clock forward by `d`: every timer due by then fires at its own due time, in
  // order, with the ready queue drained after each.
  void advance(milliseconds d) {
    const auto target = now_ + d;
    run_pending();
    while (true) {
      auto due = earliest();
      if (due == timers_.end() || due->second.due > target) break;
      now_ = due->second.due;
      run_pending();
    }
    now_ = target;
    run_pending();
  }

  // Advances to the next timer (if any) and runs what is due; returns the time moved.
  milliseconds advance_to_next_timer() {
    auto due = earliest();
    if (due == timers_.end()) return milliseconds(0);
    const auto step = std::chrono::duration_cast<milliseconds>(due->second.due - now_);
    advance(step);
    return step;
  }

  // Time from now to the earliest timer; nullopt when none is set.
  std::optional<milliseconds> next_timer_in() const {
    auto due = earliest();
    if (due == timers_.end()) return std::nullopt;
    return std::chrono::duration_cast<milliseconds>(due->second.due - now_);
  }

  std::size_t timers_set() const { return timers_.size(); }
  std::size_t ready() const { return ready_.size(); }
  milliseconds elapsed() const { return std::chrono::duration_cast<milliseconds>(now_ - start_); }

 private:
  struct timer {
    clock::time_point due;
    std::function<void()> fn;
  };
  using timer_map = std::map<timer_id, timer>;

  // Ties go to the timer set first (map order is id order).
  timer_map::iterator earliest() {
    auto best = timers_.end();
    for (auto it = timers_.begin(); it != timers_.end(); ++it)
      if (best == timers_.end() || it->second.due < best->second.due) best = it;
    return best;
  }
  timer_map::const_iterator earliest() const { return const_cast<fake_scheduler*>(this)->earliest(); }

  const clock::time_point start_ = clock::time_point{} + std::chrono::hours(1);
  clock::time_point now_ = start_;
  timer_id next_id_ = 1;
  timer_map timers_;
  std::vector<std::function<void()>> ready_;
};

class fake_network;

// One connection attempt to one endpoint. The test plays the broker through it.
class fake_transport : public transport, public std::enable_shared_from_this<fake_transport> {
 public:
  enum class connect_mode { accept, refuse, hang };

  fake_transport(std::shared_ptr<fake_scheduler> loop, endpoint where, connect_mode mode,
                 std::function<void(fake_transport&, const stomp::frame&)> on_frame)
      : loop_(std::move(loop)), where_(std::move(where)), mode_(mode), on_frame_(std::move(on_frame)) {}

  // ---- transport (the client's side) ----

  void async_connect(milliseconds timeout, std::function<void(error)> done) override {
    connect_timeout_ = timeout;
    connect_done_ = std::move(done);
    if (mode_ == connect_mode::accept) complete_connect();
    else if (mode_ == connect_mode::refuse)
      complete_connect(error{std::make_error_code(std::errc::connection_refused), "connection refused"});
  }

  void async_read(std::function<void(error, std::string_view)> done) override {
    if (read_done_) throw std::logic_error("fake_transport: a second async_read while one is pending");
    read_done_ = std::move(done);
    flush_reads();
  }

  void async_write(std::string data, std::function<void(error)> done) override {
    if (write_pending_) throw std::logic_error("fake_transport: async_write before the previous one completed");
    if (closed_) return;
    ++writes_;
    write_pending_ = true;
    error result = next_write_error_;
    next_write_error_ = {};
    if (!result) record(data);
    auto complete = [this, done = std::move(done), result] {
      write_pending_ = false;
      done(result);
    };
    if (hold_writes_) held_writes_.push_back(std::move(complete));
    else post(std::move(complete));
  }

  void close() override {
    closed_ = true;
    connect_done_ = nullptr;
    read_done_ = nullptr;
  }

  // ---- the broker's side (the test) ----

  const endpoint& where() const { return where_; }
  std::string name() const { return where_.to_string(); }
  bool closed() const { return closed_; }
  bool connect_pending() const { return static_cast<bool>(connect_done_); }
  bool read_pending() const { return static_cast<bool>(read_done_); }
  milliseconds connect_timeout() const { return connect_timeout_; }

  // Completes a connect (a "hang" transport's, or with an error).
  void complete_connect(error e = {}) {
    if (!connect_done_) throw std::logic_error("fake_transport: no connect pending");
    auto done = std::move(connect_done_);
    connect_done_ = nullptr;
    tcp_connected_ = !e;
    post([done = std::move(done), e] { done(e); });
  }

  // The broker sends bytes: delivered in one read.
  void deliver(std::string bytes) {
    inbox_.push_back(pending_read{{}, std::move(bytes)});
    flush_reads();
  }
  void reply(const stomp::frame& f) { deliver(stomp::encode(f, stomp::version::v1_2)); }
  void reply(std::string command, headers h, std::string body = {}) {
    reply(stomp::frame{std::move(command), std::move(h), std::move(body)});
  }
  void reply_connected(std::string heart_beat = "0,0") {
    reply("CONNECTED", {{"version", "1.2"}, {"heart-beat", std::move(heart_beat)}, {"server", "fake"}});
  }
  // RECEIPT for a frame the client wrote (its `receipt` header).
  void receipt(const stomp::frame& f) {
    if (!f.has("receipt")) throw std::logic_error("fake_transport: frame " + f.command + " asked for no receipt");
    receipted_.push_back(std::string(f.get("receipt")));
    reply("RECEIPT", {{"receipt-id", std::string(f.get("receipt"))}});
  }
  // RECEIPTs for every frame written so far that asked for one and has not had it; returns how many.
  std::size_t receipt_all() {
    std::size_t n = 0;
    for (const auto& f : frames_)
      if (f.has("receipt") && f.command != "DISCONNECT" &&
          std::find(receipted_.begin(), receipted_.end(), f.get("receipt")) == receipted_.end()) {
        receipt(f);
        ++n;
      }
    return n;
  }
  // A MESSAGE for subscription `sub`.
  void deliver_message(const std::string& sub, const std::string& destination, const std::string& message_id,
                       std::string body, headers extra = {}) {
    headers h{{"subscription", sub}, {"destination", destination}, {"message-id", message_id}, {"ack", message_id}};
    h.insert(h.end(), extra.begin(), extra.end());
    reply("MESSAGE", std::move(h), std::move(body));
  }
  // The connection breaks: the pending (or next) read fails.
  void fail_read(error e = error{std::make_error_code(std::errc::connection_reset), "connection reset by peer"}) {
    inbox_.push_back(pending_read{std::move(e), {}});
    flush_reads();
  }
  void eof() { fail_read(error{make_error_code(errc::connection_closed), "end of stream"}); }
  // The next async_write completes with `e` (and its bytes are not recorded).
  void fail_next_write(error e = error{std::make_error_code(std::errc::broken_pipe), "broken pipe"}) {
    next_write_error_ = std::move(e);
  }

  // Write completions wait until release_writes() (the bytes are recorded at once): a slow
  // network, or a peer that answers before the writer hears its write completed.
  void hold_writes() { hold_writes_ = true; }
  void release_writes() {
    hold_writes_ = false;
    for (auto& c : held_writes_) post(std::move(c));
    held_writes_.clear();
  }

  // What the client wrote.
  const std::string& bytes() const { return bytes_; }
  const std::vector<stomp::frame>& frames() const { return frames_; }
  std::vector<stomp::frame> frames(std::string_view command) const {
    std::vector<stomp::frame> out;
    for (const auto& f : frames_)
      if (f.command == command) out.push_back(f);
    return out;
  }
  std::vector<std::string> commands() const {
    std::vector<std::string> out;
    for (const auto& f : frames_) out.push_back(f.command);
    return out;
  }
  const stomp::frame& last_frame() const {
    if (frames_.empty()) throw std::logic_error("fake_transport: nothing written to " + name());
    return frames_.back();
  }
  std::size_t heartbeats() const { return heartbeats_; }
  std::size_t writes() const { return writes_; }
  // A frame the client wrote that the parser refused (the test should check it is empty).
  const std::string& parse_error() const { return parse_error_; }

 private:
  struct pending_read {
    error e;
    std::string data;
  };

  // Handlers of a closed transport never run (transport.h).
  void post(std::function<void()> fn) {
    loop_->post([self = shared_from_this(), fn = std::move(fn)] {
      if (!self->closed_) fn();
    });
  }

  void flush_reads() {
    if (!read_done_ || inbox_.empty() || closed_) return;
    auto done = std::move(read_done_);
    read_done_ = nullptr;
    auto next = std::move(inbox_.front());
    inbox_.erase(inbox_.begin());
    post([done = std::move(done), next = std::move(next)] { done(next.e, next.data); });
  }

  // Byte by byte, so an EOL between frames (a heart-beat) can be told from one inside a frame.
  void record(std::string_view data) {
    bytes_.append(data);
    for (char c : data) {
      if (!parse_error_.empty()) return;
      if (parser_.idle() && (c == '\n' || c == '\r')) {
        if (c == '\n') ++heartbeats_;
        continue;
      }
      parser_.feed(&c, 1);
      while (true) {
        auto r = parser_.next();
        if (!r) {
          parse_error_ = r.err().describe();
          return;
        }
        if (!*r) break;
        frames_.push_back(std::move(**r));
        if (on_frame_) on_frame_(*this, frames_.back());
      }
    }
  }

  std::shared_ptr<fake_scheduler> loop_;
  endpoint where_;
  connect_mode mode_;
  std::function<void(fake_transport&, const stomp::frame&)> on_frame_;

  std::function<void(error)> connect_done_;
  std::function<void(error, std::string_view)> read_done_;
  milliseconds connect_timeout_{0};
  bool tcp_connected_ = false;
  bool closed_ = false;
  bool write_pending_ = false;
  error next_write_error_;
  bool hold_writes_ = false;
  std::vector<std::function<void()>> held_writes_;
  std::vector<pending_read> inbox_;

  stomp::parser parser_{stomp::limits{}, stomp::version::v1_2};
  std::string bytes_;
  std::vector<stomp::frame> frames_;
  std::vector<std::string> receipted_;
  std::size_t heartbeats_ = 0;
  std::size_t writes_ = 0;
  std::string parse_error_;
};

// The transport_factory: every transport it made, in order, and how connects to each endpoint
// behave (accept unless told otherwise).
class fake_network : public transport_factory {
 public:
  using frame_hook = std::function<void(fake_transport&, const stomp::frame&)>;

  explicit fake_network(std::shared_ptr<fake_scheduler> loop) : loop_(std::move(loop)) {}

  std::shared_ptr<transport> make(const endpoint& where) override {
    auto it = modes_.find(where.to_string());
    auto mode = it == modes_.end() ? fake_transport::connect_mode::accept : it->second;
    auto t = std::make_shared<fake_transport>(loop_, where, mode, on_frame_);
    if (hold_writes_) t->hold_writes();
    made_.push_back(t);
    return t;
  }

  // How later connects to `uri` ("stomp://host:port") behave.
  void accept(const std::string& uri) { modes_[uri] = fake_transport::connect_mode::accept; }
  void refuse(const std::string& uri) { modes_[uri] = fake_transport::connect_mode::refuse; }
  void hang(const std::string& uri) { modes_[uri] = fake_transport::connect_mode::hang; }

  // Later transports hold their write completions (fake_transport::hold_writes).
  void hold_writes(bool on = true) { hold_writes_ = on; }

  // Called for every frame any later transport records (e.g. an automatic broker).
  void on_frame(frame_hook h) { on_frame_ = std::move(h); }
  // A broker that answers CONNECT with CONNECTED (heart-beat `hb`) by itself.
  void auto_connected(std::string hb = "0,0") {
    on_frame([hb](fake_transport& t, const stomp::frame& f) {
      if (f.command == "CONNECT" || f.command == "STOMP") t.reply_connected(hb);
    });
  }

  std::size_t made() const { return made_.size(); }
  fake_transport& at(std::size_t i) { return *made_.at(i); }
  fake_transport& last() {
    if (made_.empty()) throw std::logic_error("fake_network: no transport made yet");
    return *made_.back();
  }
  // The endpoints of every transport made, in order ("stomp://a:1", ...).
  std::vector<std::string> attempts() const {
    std::vector<std::string> out;
    for (const auto& t : made_) out.push_back(t->name());
    return out;
  }

 private:
  std::shared_ptr<fake_scheduler> loop_;
  std::map<std::string, fake_transport::connect_mode> modes_;
  frame_hook on_frame_;
  bool hold_writes_ = false;
  std::vector<std::shared_ptr<fake_transport>> made_;
};

}  // namespace tandem::failover::testing
