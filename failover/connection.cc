// connection: connecting, reconnecting and the byte stream. The operations (send, subscribe,
// transactions, receipts) are in connection_ops.cc.
#include "failover/connection.h"

#include <algorithm>
#include <random>

#include <fmt/format.h>

#include "stomp/encoder.h"

namespace tandem::failover {

namespace {

std::string random_producer_id() {
  std::random_device rd;
  std::uint64_t v = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  return fmt::format("tdm-{:016x}", v);
}

std::function<double()> default_random() {
  auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
  return [engine] { return std::uniform_real_distribution<double>(0.0, 1.0)(*engine); };
}

stomp::version parse_version(std::string_view v) {
  if (v == "1.2") return stomp::version::v1_2;
  if (v == "1.1") return stomp::version::v1_1;
  return stomp::version::v1_0;
}

// "SEND,RECEIVE" from a CONNECTED heart-beat header; 0,0 when absent or malformed.
std::pair<long long, long long> parse_heartbeat(std::string_view v) {
  auto comma = v.find(',');
  if (comma == std::string_view::npos) return {0, 0};
  auto num = [](std::string_view s) {
    long long n = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return 0LL;
      n = n * 10 + (c - '0');
    }
    return n;
  };
  return {num(v.substr(0, comma)), num(v.substr(comma + 1))};
}

}  // namespace

std::string_view to_string(event_kind k) {
  switch (k) {
    case event_kind::interrupted: return "interrupted";
    case event_kind::resumed: return "resumed";
    case event_kind::closed: return "closed";
  }
  return "?";
}

std::shared_ptr<connection> connection::create(failover_options options, std::shared_ptr<transport_factory> transports,
                                               std::shared_ptr<scheduler> timers, std::function<double()> uniform01) {
  if (!uniform01) uniform01 = default_random();
  return std::shared_ptr<connection>(
      new connection(std::move(options), std::move(transports), std::move(timers), std::move(uniform01)));
}

connection::connection(failover_options options, std::shared_ptr<transport_factory> transports,
                       std::shared_ptr<scheduler> timers, std::function<double()> uniform01)
    : options_(std::move(options)),
      transports_(std::move(transports)),
      timers_(std::move(timers)),
      policy_(options_, std::move(uniform01)),
      producer_id_(random_producer_id()) {}

connection::~connection() {
  if (transport_) transport_->close();
}

std::string connection::current_endpoint() const {
  if (phase_ != phase::connected || !endpoint_) return {};
  return options_.endpoints[*endpoint_].to_string();
}

void connection::emit(event e) {
  if (on_event_) on_event_(e);
}

void connection::post(completion done, error e) {
  if (!done) return;
  timers_->after(milliseconds(0), [done = std::move(done), e = std::move(e)] { done(e); });
}

// ---- connecting ----------------------------------------------------------------------------

void connection::start(completion done) {
  if (phase_ != phase::idle) {
    post(std::move(done), error{errc::protocol_error, "start() was already called"});
    return;
  }
  if (options_.endpoints.empty()) {
    post(std::move(done), error{errc::invalid_uri, "no endpoints to connect to"});
    return;
  }
  start_done_ = std::move(done);
  phase_ = phase::connecting;
  policy_.begin(std::nullopt);
  schedule_attempt();
}

void connection::schedule_attempt() {
  if (phase_ != phase::connecting || attempt_timer_) return;  // one step at a time
  // Every endpoint is being tried: wait for one to finish rather than use up passes. An attempt
  // still running counts as its endpoint's try in the pass that skips it.
  if (attempts_.size() >= options_.endpoints.size()) return;
  // The next endpoint not already being tried. If every endpoint of the pass is in flight,
  // wait: a finishing attempt calls back here.
  milliseconds delay{0};
  for (std::size_t tries = 0; tries <= options_.endpoints.size(); ++tries) {
    auto next = policy_.next();
    if (!next) {
      if (!attempts_.empty()) return;  // the last ones may still succeed
      const bool startup = !ever_connected_;
      finish_close(error{errc::reconnect_failed,
                         fmt::format("{} after {} pass(es) over {} endpoint(s); last failure: {}",
                                     startup ? "could not connect" : "could not reconnect", policy_.passes_started(),
                                     options_.endpoints.size(), last_failure_.describe())});
      return;
    }
    delay = std::max(delay, next->delay);
    const auto index = next->endpoint;
    if (std::any_of(attempts_.begin(), attempts_.end(), [&](auto& a) { return a->endpoint == index; })) continue;
    auto self = shared_from_this();
    attempt_timer_is_stagger_ = false;
    attempt_timer_ = timers_->after(delay, [self, index] {
      self->attempt_timer_ = 0;
      if (self->phase_ == phase::connecting) self->launch(index);
    });
    return;
  }
}

void connection::launch(std::size_t index) {
  auto a = std::make_unique<attempt_state>(attempt_state{++next_gen_, index, transports_->make(options_.endpoints[index]),
                                                         stomp::parser(stomp::limits{}, stomp::version::v1_0)});
  const auto gen = a->gen;
  auto self = shared_from_this();
  // One deadline for TCP, TLS and CONNECTED together.
  a->deadline = timers_->after(options_.connect_timeout, [self, gen] {
    auto* a = self->find_attempt(gen);
    if (!a) return;
    a->deadline = 0;
    self->policy_.demote(a->endpoint);
    self->attempt_failed(gen, error{errc::timed_out, fmt::format("{}: not connected within connectTimeout ({} ms)",
                                                                 self->options_.endpoints[a->endpoint].to_string(),
                                                                 self->options_.connect_timeout.count())});
  });
  auto link = a->link;
  attempts_.push_back(std::move(a));
  // If this one has not answered within the stagger, the next endpoint is tried alongside it.
  attempt_timer_is_stagger_ = true;
  attempt_timer_ = timers_->after(attempt_stagger, [self] {
    self->attempt_timer_ = 0;
    self->schedule_attempt();
  });
  link->async_connect(options_.connect_timeout, [self, gen](error e) { self->on_transport_connected(gen, e); });
}

connection::attempt_state* connection::find_attempt(std::uint64_t gen) {
  for (auto& a : attempts_)
    if (a->gen == gen) return a.get();
  return nullptr;
}

void connection::on_transport_connected(std::uint64_t gen, error e) {
  auto* a = find_attempt(gen);
  if (!a) return;
  const auto& ep = options_.endpoints[a->endpoint];
  if (e) {
    e.message = ep.to_string() + ": " + (e.message.empty() ? e.code.message() : e.message);
    return attempt_failed(gen, std::move(e));
  }
  stomp::frame f;
  f.command = "CONNECT";
  f.add("accept-version", "1.1,1.2");
  f.add("host", options_.vhost.empty() ? ep.host : options_.vhost);
  if (!options_.login.empty()) f.add("login", options_.login);
  if (!options_.passcode.empty()) f.add("passcode", options_.passcode);
  if (!options_.client_id.empty()) f.add("client-id", options_.client_id);
  f.add("heart-beat", fmt::format("{},{}", options_.heartbeat_send.count(), options_.heartbeat_receive.count()));
  auto self = shared_from_this();
  a->connect_write_pending = true;
  a->link->async_write(stomp::encode(f, stomp::version::v1_2), [self, gen](error e) {
    if (auto* a = self->find_attempt(gen)) {
      a->connect_write_pending = false;
      if (e) self->attempt_failed(gen, error{e.code, "writing CONNECT: " + e.describe()});
    } else if (gen == self->gen_) {
      // Adopted before this completion ran: the connection's writes waited for it.
      self->writing_ = false;
      if (e) return self->connection_lost(error{errc::connection_closed, "writing to the broker: " + e.describe()});
      self->do_write();
    }
  });
  do_read(gen);
}

void connection::on_attempt_bytes(attempt_state& a, std::string_view data) {
  a.parser.feed(data.data(), data.size());
  auto r = a.parser.next();
  const auto where = options_.endpoints[a.endpoint].to_string();
  if (!r) return attempt_failed(a.gen, error{errc::protocol_error, where + ": bad frame: " + r.err().describe()});
  if (!*r) return;  // CONNECTED not complete yet
  stomp::frame& f = **r;
  if (f.command == "CONNECTED") return adopt(a, f);
  if (f.command == "ERROR") {
    std::string text(f.get("message"));
    if (text.empty()) text = f.body.substr(0, 200);
    return attempt_failed(a.gen, error{errc::broker_error, fmt::format("{} refused CONNECT: {}", where, text)});
  }
  attempt_failed(a.gen, error{errc::protocol_error, fmt::format("{}: expected CONNECTED, got {}", where, f.command)});
}

void connection::adopt(attempt_state& a, stomp::frame& f) {
  // This attempt becomes the connection; the others are dropped.
  gen_ = a.gen;
  endpoint_ = a.endpoint;
  transport_ = a.link;
  const bool connect_write_pending = a.connect_write_pending;
  parser_ = std::move(a.parser);  // it may already hold bytes that followed CONNECTED
  if (a.deadline) timers_->cancel(a.deadline), a.deadline = 0;
  for (auto& other : attempts_)
    if (other.get() != &a && other->link) {
      if (other->deadline) timers_->cancel(other->deadline);
      other->link->close();
    }
  attempts_.clear();  // `a` is gone from here on
  if (attempt_timer_) timers_->cancel(attempt_timer_), attempt_timer_ = 0;

  version_ = parse_version(f.get("version", "1.0"));
  parser_.set_version(version_);
  // STOMP heart-beat negotiation: each side uses the larger of what one offers and the other asks.
  auto [server_send, server_wants] = parse_heartbeat(f.get("heart-beat", "0,0"));
  const long long our_send = options_.heartbeat_send.count(), our_receive = options_.heartbeat_receive.count();
  send_interval_ = milliseconds(our_send > 0 && server_wants > 0 ? std::max(our_send, server_wants) : 0);
  receive_interval_ = milliseconds(our_receive > 0 && server_send > 0 ? std::max(our_receive, server_send) : 0);
  phase_ = phase::connected;
  out_.clear();
  writing_ = connect_write_pending;  // one write at a time on a transport (transport.h)
  ++stats_.connects;
  last_read_ = last_write_ = timers_->now();
  const bool first = !ever_connected_;
  ever_connected_ = true;
  const auto outage = first ? milliseconds(0)
                            : std::chrono::duration_cast<milliseconds>(timers_->now() - interrupted_at_);
  const auto resent_before = stats_.resent;
  const auto subscriptions = subscriptions_.size();
  restore_state();
  if (send_interval_.count() > 0 || receive_interval_.count() > 0) heartbeat_tick(gen_);
  event e{event_kind::resumed, current_endpoint(), {}};
  e.generation = gen_;
  e.outage = outage;
  e.resent = stats_.resent - resent_before;
  e.resubscribed = subscriptions;
  e.rolled_back = rolled_back_since_interrupt_;
  e.first = first;
  rolled_back_since_interrupt_ = 0;
  if (first && start_done_) {
    auto done = std::move(start_done_);
    start_done_ = nullptr;
    done(error{});
  }
  if (phase_ != phase::connected) return;  // the application closed from its completion
  emit(e);
  if (options_.priority_backup && !policy_.is_priority(*endpoint_)) check_priority_backup();
}

void connection::attempt_failed(std::uint64_t gen, error e) {
  auto it = std::find_if(attempts_.begin(), attempts_.end(), [&](auto& a) { return a->gen == gen; });
  if (it == attempts_.end()) return;
  ++stats_.failed_attempts;
  if ((*it)->deadline) timers_->cancel((*it)->deadline);
  (*it)->link->close();
  attempts_.erase(it);
  if (phase_ != phase::connecting) return;
  // A broker that answers CONNECT with ERROR before we ever connected refused us (a bad login);
  // retrying would only repeat it. Once connected, an ERROR there is treated as transient.
  if (e.code == errc::broker_error && !ever_connected_) return finish_close(std::move(e));
  last_failure_ = std::move(e);
  // A quick failure (refused) moves on at once instead of waiting out the stagger.
  if (attempt_timer_ && attempt_timer_is_stagger_) timers_->cancel(attempt_timer_), attempt_timer_ = 0;
  schedule_attempt();
}

void connection::drop_attempts() {
  for (auto& a : attempts_) {
    if (a->deadline) timers_->cancel(a->deadline);
    a->link->close();
  }
  attempts_.clear();
}

void connection::connection_lost(error e) {
  if (phase_ == phase::closing) return finish_close(error{errc::closed, "closed by the application"});
  if (phase_ != phase::connected) return;
  const std::string lost = current_endpoint();
  const std::uint64_t lost_gen = gen_;
  phase_ = phase::connecting;
  if (heartbeat_timer_) timers_->cancel(heartbeat_timer_), heartbeat_timer_ = 0;
  if (priority_timer_) timers_->cancel(priority_timer_), priority_timer_ = 0;
  if (priority_probe_) priority_probe_->close(), priority_probe_.reset();
  if (transport_) transport_->close(), transport_.reset();
  gen_ = 0;  // handlers of the lost transport find no match and leave
  writing_ = false;
  out_.clear();
  lost_endpoint_ = endpoint_;
  interrupted_at_ = timers_->now();
  last_failure_ = e;

  deferred later;
  std::size_t rolled = 0;
  roll_back_transactions(rolled, later);
  // An UNSUBSCRIBE without a receipt is done: its subscription ended with the connection and
  // is not restored.
  for (auto it = ops_.begin(); it != ops_.end();) {
    if (it->second.kind != op_kind::unsubscribe) {
      ++it;
      continue;
    }
    take(it->second, error{}, later);
    it = ops_.erase(it);
  }
  rolled_back_since_interrupt_ += rolled;
  // Everything not receipted is written again after the reconnect; from now on sends wait for a
  // connection, at most `timeout`.
  write_cursor_ = ops_.empty() ? next_seq_ : ops_.begin()->first;
  in_flight_sends_ = 0;
  for (auto& [seq, o] : ops_)
    if (o.kind == op_kind::send && o.transaction.empty()) arm_timeout(seq, o);

  if (!options_.failover) {
    for (auto& [c, err] : later) c(err);
    finish_close(std::move(e));
    return;
  }
  event ev{event_kind::interrupted, lost, e};
  ev.generation = lost_gen;
  emit(ev);
  for (auto& [c, err] : later) c(err);
  if (phase_ != phase::connecting) return;  // closed from a handler
  policy_.begin(lost_endpoint_);
  schedule_attempt();
}

void connection::finish_close(error reason) {
  if (phase_ == phase::closed) return;
  phase_ = phase::closed;
  for (auto* t : {&attempt_timer_, &heartbeat_timer_, &priority_timer_})
    if (*t) timers_->cancel(*t), *t = 0;
  if (priority_probe_) priority_probe_->close(), priority_probe_.reset();
  if (transport_) transport_->close(), transport_.reset();
  drop_attempts();
  gen_ = 0;
  deferred later;
  for (auto& [seq, o] : ops_) take(o, reason, later);
  ops_.clear();
  pending_sends_ = 0;
  for (auto& s : subscriptions_)
    if (s.done) later.emplace_back(std::move(s.done), reason), s.done = nullptr;
  if (start_done_) later.emplace_back(std::move(start_done_), reason), start_done_ = nullptr;
  emit(event{event_kind::closed, {}, reason});
  for (auto& [c, err] : later) c(err);
  if (close_done_) {
    auto done = std::move(close_done_);
    close_done_ = nullptr;
    done(error{});
  }
}

void connection::close(completion done) {
  if (phase_ == phase::closed) return post(std::move(done), error{});
  if (phase_ == phase::closing) {
    // A second close() while DISCONNECT is in flight: finish now.
    close_done_ = [first = std::move(close_done_), done = std::move(done)](error e) {
      if (first) first(e);
      if (done) done(e);
    };
    return finish_close(error{errc::closed, "closed by the application"});
  }
  close_done_ = std::move(done);
  if (phase_ != phase::connected) return finish_close(error{errc::closed, "closed by the application"});
  // DISCONNECT with a receipt: the broker answers it after every earlier receipt, so sends
  // already written complete normally. Bounded by connectTimeout.
  phase_ = phase::closing;
  if (heartbeat_timer_) timers_->cancel(heartbeat_timer_), heartbeat_timer_ = 0;
  if (priority_timer_) timers_->cancel(priority_timer_), priority_timer_ = 0;
  stomp::frame f;
  f.command = "DISCONNECT";
  f.add("receipt", "disconnect");
  write_frame(f);
  auto self = shared_from_this();
  const auto gen = gen_;
  attempt_timer_ = timers_->after(options_.connect_timeout, [self, gen] {
    self->attempt_timer_ = 0;
    if (gen == self->gen_) self->finish_close(error{errc::closed, "closed by the application"});
  });
}

void connection::check_priority_backup() {
  auto self = shared_from_this();
  const auto gen = gen_;
  priority_timer_ = timers_->after(options_.priority_check_interval, [self, gen] {
    self->priority_timer_ = 0;
    if (gen != self->gen_ || self->phase_ != phase::connected) return;
    const auto& target = self->options_.priority_uris.front();
    self->priority_probe_ = self->transports_->make(target);
    self->priority_probe_->async_connect(self->options_.connect_timeout, [self, gen, target](error e) {
      if (self->priority_probe_) self->priority_probe_->close(), self->priority_probe_.reset();
      if (gen != self->gen_ || self->phase_ != phase::connected) return;
      if (e) return self->check_priority_backup();
      // The priority broker accepts connections again: move over. Reconnecting through the
      // usual path restores state; the policy tries priority endpoints first.
      self->connection_lost(error{errc::connection_closed,
                                  fmt::format("moving back to priority endpoint {}", target.to_string())});
    });
  });
}

// ---- the byte stream -----------------------------------------------------------------------

void connection::do_read(std::uint64_t gen) {
  std::shared_ptr<transport> link = gen == gen_ ? transport_ : nullptr;
  if (!link)
    if (auto* a = find_attempt(gen)) link = a->link;
  if (!link) return;
  auto self = shared_from_this();
  link->async_read([self, gen](error e, std::string_view data) { self->on_read(gen, std::move(e), data); });
}

void connection::on_read(std::uint64_t gen, error e, std::string_view data) {
  if (gen != 0 && gen == gen_) {
    if (e) {
      if (e.message.empty()) e.message = e.code.message();
      return connection_lost(error{e.code == errc::tls_error ? e.code : make_error_code(errc::connection_closed),
                                   "connection lost while " + e.describe()});
    }
    on_bytes(gen, data);
  } else if (auto* a = find_attempt(gen)) {
    if (e) {
      return attempt_failed(gen, error{e.code, fmt::format("{}: {} before CONNECTED",
                                                           options_.endpoints[a->endpoint].to_string(), e.describe())});
    }
    on_attempt_bytes(*a, data);
    if (gen == gen_) on_bytes(gen, {});  // adopted: frames that came right behind CONNECTED
  } else {
    return;  // a transport since dropped
  }
  do_read(gen);  // the same transport, whether still an attempt or now the connection
}

void connection::on_bytes(std::uint64_t gen, std::string_view data) {
  last_read_ = timers_->now();
  parser_.feed(data.data(), data.size());
  while (gen == gen_) {
    auto r = parser_.next();
    if (!r) return connection_lost(error{errc::protocol_error, "bad frame from the broker: " + r.err().describe()});
    if (!*r) return;
    dispatch(**r);
  }
}

void connection::write_frame(const stomp::frame& f) {
  stomp::encode(f, version_, out_);
  do_write();
}

void connection::do_write() {
  if (writing_ || out_.empty() || !transport_) return;
  writing_ = true;
  last_write_ = timers_->now();
  std::string data;
  data.swap(out_);
  auto self = shared_from_this();
  const auto gen = gen_;
  transport_->async_write(std::move(data), [self, gen](error e) {
    if (gen != self->gen_) return;
    self->writing_ = false;
    if (e) return self->connection_lost(error{errc::connection_closed, "writing to the broker: " + e.describe()});
    self->do_write();
  });
}

void connection::heartbeat_tick(std::uint64_t gen) {
  if (gen != gen_ || phase_ != phase::connected) return;
  const auto now = timers_->now();
  if (receive_interval_.count() > 0 && now - last_read_ > 2 * receive_interval_) {
    return connection_lost(error{errc::timed_out, fmt::format("nothing from the broker for {} ms (heart-beat)",
                                                              2 * receive_interval_.count())});
  }
  if (send_interval_.count() > 0 && now - last_write_ >= send_interval_ && !writing_) {
    stomp::encode_heartbeat(out_);
    do_write();
  }
  milliseconds tick = std::min(send_interval_.count() > 0 ? send_interval_ : receive_interval_,
                               receive_interval_.count() > 0 ? receive_interval_ : send_interval_) / 2;
  tick = std::max(tick, milliseconds(10));
  auto self = shared_from_this();
  heartbeat_timer_ = timers_->after(tick, [self, gen] {
    self->heartbeat_timer_ = 0;
    self->heartbeat_tick(gen);
  });
}

}  // namespace tandem::failover
