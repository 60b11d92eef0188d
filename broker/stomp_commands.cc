// STOMP command handlers: each turns one client frame into broker-core calls.

#include <charconv>

#include "broker/destination.h"
#include "broker/stomp_session.h"
#include "common/log.h"
#include "stomp/encoder.h"

namespace tandem::broker {
namespace {

constexpr std::string_view server_name = "Tandem/0.1.0";


template <typename T>
bool parse_number(std::string_view text, T& out) {
  if (text.empty()) return false;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && p == text.data() + text.size();
}


// A client-supplied message-id of the form PRODUCER:SEQ identifies the producer and its
// sequence number for duplicate detection (a failover client re-sends with the same id).
bool split_producer(const std::string& id, std::string& producer, std::uint64_t& seq) {
  auto colon = id.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  if (!parse_number(std::string_view(id).substr(colon + 1), seq)) return false;
  producer = id.substr(0, colon);
  return true;
}

}  // namespace

const std::string* stomp_session::require(const frame& f, std::string_view header) {
  const std::string* v = f.find(header);
  if (!v) fail(f.command + " frame has no '" + std::string(header) + "' header", &f);
  return v;
}

void stomp_session::on_frame(frame& f) {
  const std::string& c = f.command;
  if (!connected_) {
    if (c == "CONNECT" || c == "STOMP") return on_connect(f);
    return fail("expected CONNECT or STOMP as the first frame, got " + c, &f);
  }
  if (c == "SEND") return on_send(f);
  if (c == "ACK") return on_ack(f, true);
  if (c == "NACK") {
    if (version_ == stomp::version::v1_0) return fail("NACK is not part of STOMP 1.0", &f);
    return on_ack(f, false);
  }
  if (c == "SUBSCRIBE") return on_subscribe(f);
  if (c == "UNSUBSCRIBE") return on_unsubscribe(f);
  if (c == "BEGIN") return on_begin(f);
  if (c == "COMMIT") return on_commit(f);
  if (c == "ABORT") return on_abort(f);
  if (c == "DISCONNECT") return on_disconnect(f);
  if (c == "CONNECT" || c == "STOMP") return fail("already connected", &f);
  fail("unknown command '" + c + "'", &f);
}

void stomp_session::on_connect(frame& f) {
  // Version negotiation: the highest version both sides speak; no accept-version means 1.0.
  std::string_view accept = f.get("accept-version", "1.0");
  std::optional<stomp::version> chosen;
  auto offered = [&](std::string_view v) {
    std::size_t pos = 0;
    while (pos <= accept.size()) {
      auto comma = accept.find(',', pos);
      auto item = accept.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
      while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
      while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
      if (item == v) return true;
      if (comma == std::string_view::npos) break;
      pos = comma + 1;
    }
    return false;
  };
  if (offered("1.2")) chosen = stomp::version::v1_2;
  else if (offered("1.1")) chosen = stomp::version::v1_1;
  else if (offered("1.0")) chosen = stomp::version::v1_0;
  if (!chosen) return fail("Supported protocol versions are 1.0,1.1,1.2", &f);
  version_ = *chosen;
  parser_.set_version(version_);
  client_id_ = std::string(f.get("client-id"));
  login_ = std::string(f.get("login"));  // as given; replaced by the user's name once verified

  std::uint32_t cx = 0, cy = 0;
  if (version_ != stomp::version::v1_0 && f.has("heart-beat")) {
    std::string_view hb = f.get("heart-beat");
    auto comma = hb.find(',');
    if (comma == std::string_view::npos || !parse_number(hb.substr(0, comma), cx) ||
        !parse_number(hb.substr(comma + 1), cy)) {
      return fail("heart-beat header '" + std::string(hb) + "' is not two numbers 'cx,cy'", &f);
    }
  }
  if (!security_.enabled()) return accept_connect(nullptr, cx, cy);  // login/passcode ignored
  const std::string* login = f.find("login");
  if (!login || login->empty()) return fail(security_.refuse_login({}, remote_), &f);
  std::string passcode(f.get("passcode"));
  if (const auth::user* u = security_.cached_login(*login, passcode)) return accept_connect(u, cx, cy);
  // The full check costs a PBKDF2: a worker does it. Nothing more is read meanwhile, so
  // frames behind the CONNECT wait and are handled, in order, after CONNECTED.
  authenticating_ = true;
  security_.check_login(*login, std::move(passcode), stream_.get_executor(),
                        [weak = weak_from_this(), login = *login, cx, cy](const auth::user* u) {
    auto self = weak.lock();
    if (!self || self->closed_) return;  // closed meanwhile (client gone, node stopping or fenced)
    self->authenticating_ = false;
    if (!u) return self->fail(self->security_.refuse_login(login, self->remote_));
    self->accept_connect(u, cx, cy);
    self->handle_frames();
  });
}

void stomp_session::accept_connect(const auth::user* u, std::uint32_t cx, std::uint32_t cy) {
  if (u) {
    user_ = u;
    login_ = u->name;
    security_.accepted_login(login_, remote_);
  }
  connected_ = true;
  frame r;
  r.command = "CONNECTED";
  r.add("version", std::string(stomp::to_string(version_)));
  r.add("server", std::string(server_name));
  r.add("session", core_.cfg().node.name + "-" + std::to_string(id_));
  const auto& hc = core_.cfg().stomp;
  if (version_ != stomp::version::v1_0)
    r.add("heart-beat", std::to_string(hc.heartbeat_send_ms) + "," + std::to_string(hc.heartbeat_receive_ms));
  write_frame(r);
  if (version_ != stomp::version::v1_0) start_heartbeats(cx, cy);
  log::debug("stomp", "session {} from {} connected (STOMP {}, client-id '{}', user '{}')", id_, remote_,
             stomp::to_string(version_), client_id_, login_);
}

std::string stomp_session::durable_client_id() const {
  if (client_id_.empty() || !user_) return client_id_;
  return login_ + ":" + client_id_;
}

bool stomp_session::permitted(const frame& f, bool write, const std::string& destination) {
  if (!user_ || (write ? user_->may_write(destination) : user_->may_read(destination))) return true;
  fail(security_.deny(*user_, write, destination, remote_), &f);
  return false;
}

void stomp_session::on_send(frame& f) {
  const std::string* dest = require(f, "destination");
  if (!dest) return;
  if (!is_queue(*dest) && !is_topic(*dest))
    return fail("destination '" + *dest + "' must be /queue/NAME or /topic/NAME", &f);
  // Refused before anything is stored; inside a transaction too (the transaction then dies
  // with the connection).
  if (!permitted(f, true, *dest)) return;

  auto m = std::make_shared<message>();
  m->destination = *dest;
  m->persistent = f.get("persistent") == "true";
  m->timestamp_ms = now_ms();
  if (f.has("priority")) {
    int p = -1;
    if (!parse_number(f.get("priority"), p) || p < 0 || p > 9)
      return fail("priority '" + std::string(f.get("priority")) + "' must be a number from 0 to 9", &f);
    m->priority = static_cast<std::uint8_t>(p);
  }
  if (f.has("expires")) {
    if (!parse_number(f.get("expires"), m->expires_ms) || m->expires_ms < 0)
      return fail("expires '" + std::string(f.get("expires")) + "' must be ms since the epoch (0 = never)", &f);
  }
  std::string producer;
  std::uint64_t producer_seq = 0;
  if (const std::string* id = f.find("message-id"); id && !id->empty()) {
    m->message_id = *id;
    // With security on, producers are the user's own: another login sending the same
    // PRODUCER:SEQ must not make this user's messages count as duplicates (nor the reverse).
    // The key, login included, is what the journal keeps, so a re-send after a failover (same
    // login) is still found. Logins cannot hold ':', so the key is unambiguous.
    if (split_producer(*id, producer, producer_seq) && user_) producer = login_ + ":" + producer;
  } else {
    m->message_id = core_.next_message_id();
  }
  m->headers.reserve(f.headers.size());
  for (auto& [k, v] : f.headers)
    if (!broker_owned_header(k)) m->headers.push_back({k, v});
  m->body = std::move(f.body);
  ++messages_in_;

  if (const std::string* tx = f.find("transaction")) {
    auto it = transactions_.find(*tx);
    if (it == transactions_.end()) return fail("transaction '" + *tx + "' was not begun", &f);
    it->second.sends.push_back(outgoing{std::move(m), producer, producer_seq, id_});
    complete_receipt(reserve_receipt(f));
    return;
  }
  core_.send(std::move(m), producer, producer_seq, receipt_completion(f), id_);
}

void stomp_session::on_subscribe(frame& f) {
  const std::string* dest = require(f, "destination");
  if (!dest) return;
  // A durable subscription needs read permission on its topic, like any other. A destination
  // that is neither a queue nor a topic is refused by the core, with a clearer message.
  if ((is_queue(*dest) || is_topic(*dest)) && !permitted(f, false, *dest)) return;
  std::string id;
  if (const std::string* v = f.find("id")) {
    id = *v;
  } else if (version_ == stomp::version::v1_0) {
    id = *dest;  // 1.0 allows subscriptions without an id; the destination names it
  } else {
    return fail("SUBSCRIBE frame has no 'id' header", &f);
  }
  if (subscriptions_.count(id)) return fail("subscription id '" + id + "' is already in use", &f);

  ack_mode mode;
  std::string_view ack = f.get("ack", "auto");
  if (ack == "auto") mode = ack_mode::auto_ack;
  else if (ack == "client") mode = ack_mode::client;
  else if (ack == "client-individual") mode = ack_mode::client_individual;
  else return fail("ack mode '" + std::string(ack) + "' must be auto, client or client-individual", &f);

  std::uint32_t prefetch = core_.cfg().stomp.default_prefetch;
  if (f.has("activemq.prefetchSize")) {
    if (!parse_number(f.get("activemq.prefetchSize"), prefetch) || prefetch == 0)
      return fail("activemq.prefetchSize '" + std::string(f.get("activemq.prefetchSize")) +
                      "' must be a positive number", &f);
  }
  std::optional<selector> sel;
  if (std::string_view text = f.get("selector"); !text.empty()) {
    auto parsed = selector::parse(text);
    if (!parsed) return fail("invalid selector '" + std::string(text) + "': " + parsed.err().message, &f);
    sel = std::move(parsed.value());
  }
  std::string durable(f.get("activemq.subscriptionName"));
  if (!durable.empty() && !starts_with(*dest, "/topic/")) durable.clear();  // queues are durable anyway
  const std::string owner = durable_client_id();
  if (!durable.empty() && !owner.empty()) {
    // Subscribing to a durable subscription on another topic (or with another selector)
    // replaces it and deletes its messages: that needs read permission on the topic it has
    // now, too (the user's permissions may have changed since it was made).
    const container* existing = core_.find_container(durable_container_name(owner, durable));
    if (existing && existing->topic != *dest && !permitted(f, false, existing->topic)) return;
  }

  auto sub = std::make_unique<subscription>(*this, id, mode, prefetch, std::move(sel));
  subscription& ref = *sub;
  subscriptions_[id] = std::move(sub);
  auto done = receipt_completion(f);
  if (auto err = core_.subscribe(ref, *dest, owner, durable, done)) {
    subscriptions_.erase(id);
    return fail(err.message, &f);
  }
}

void stomp_session::on_unsubscribe(frame& f) {
  std::string id;
  if (const std::string* v = f.find("id")) id = *v;
  else if (version_ == stomp::version::v1_0 && f.has("destination")) id = std::string(f.get("destination"));
  else return fail("UNSUBSCRIBE frame has no 'id' header", &f);

  std::string durable(f.get("activemq.subscriptionName"));
  auto it = subscriptions_.find(id);
  if (it == subscriptions_.end()) {
    // ActiveMQ convention: UNSUBSCRIBE naming a durable subscription deletes it even when
    // it is not attached in this session. Deleting it (and its messages) needs read
    // permission on its topic: the same user could have subscribed to it.
    if (const std::string owner = durable_client_id(); !durable.empty() && !owner.empty()) {
      const container* c = core_.find_container(durable_container_name(owner, durable));
      if (c && !permitted(f, false, c->topic)) return;
      if (core_.destroy_durable(owner, durable, receipt_completion(f))) return;
    }
    return fail("no subscription with id '" + id + "'", &f);
  }
  core_.unsubscribe(*it->second, !durable.empty(), receipt_completion(f));
  subscriptions_.erase(it);
}

subscription* stomp_session::find_delivery(const frame& f, std::uint64_t& ack_id) {
  if (version_ == stomp::version::v1_2) {
    // 1.2: the ACK's id is the MESSAGE's ack header, a number unique in this broker.
    if (!parse_number(f.get("id"), ack_id)) return nullptr;
    for (auto& [sid, sub] : subscriptions_)
      for (auto& d : sub->unacked())
        if (d.ack_id == ack_id) return sub.get();
    return nullptr;
  }
  // 1.0 / 1.1: by message-id (and subscription, in 1.1).
  std::string_view mid = f.get("message-id");
  std::string_view sid = f.get("subscription");
  for (auto& [id, sub] : subscriptions_) {
    if (!sid.empty() && id != sid) continue;
    for (auto& d : sub->unacked())
      if (d.entry.msg->message_id == mid) {
        ack_id = d.ack_id;
        return sub.get();
      }
  }
  return nullptr;
}

void stomp_session::on_ack(frame& f, bool positive) {
  const char* key = version_ == stomp::version::v1_2 ? "id" : "message-id";
  if (!require(f, key)) return;
  std::uint64_t ack_id = 0;
  subscription* sub = find_delivery(f, ack_id);
  if (!sub) {
    return fail(f.command + " for " + std::string(key) + " '" + std::string(f.get(key)) +
                    "' which is not an unacknowledged delivery of this connection", &f);
  }
  transaction* tx = nullptr;
  if (const std::string* t = f.find("transaction")) {
    auto it = transactions_.find(*t);
    if (it == transactions_.end()) return fail("transaction '" + *t + "' was not begun", &f);
    tx = &it->second;
  }
  auto done = receipt_completion(f);
  if (positive) {
    core_.acknowledge(*sub, ack_id, sub->mode() == ack_mode::client, tx, done);
  } else {
    core_.reject(*sub, ack_id, done);
  }
}

void stomp_session::on_begin(frame& f) {
  const std::string* tx = require(f, "transaction");
  if (!tx) return;
  if (transactions_.count(*tx)) return fail("transaction '" + *tx + "' is already open", &f);
  core_.begin(transactions_[*tx]);  // the map keeps it at one address until commit or abort
  complete_receipt(reserve_receipt(f));
}

void stomp_session::on_commit(frame& f) {
  const std::string* tx = require(f, "transaction");
  if (!tx) return;
  auto it = transactions_.find(*tx);
  if (it == transactions_.end()) return fail("transaction '" + *tx + "' was not begun", &f);
  core_.commit(it->second, receipt_completion(f));  // takes the work out of it
  transactions_.erase(it);
}

void stomp_session::on_abort(frame& f) {
  const std::string* tx = require(f, "transaction");
  if (!tx) return;
  auto it = transactions_.find(*tx);
  if (it == transactions_.end()) return fail("transaction '" + *tx + "' was not begun", &f);
  core_.abort(it->second, [this](const std::string& sid) { return find_subscription(sid); });
  transactions_.erase(it);
  complete_receipt(reserve_receipt(f));
}

void stomp_session::on_disconnect(frame& f) {
  // The receipt goes out after every earlier receipt; then the connection closes.
  auto slot = reserve_receipt(f);
  detach_all();
  closing_ = true;  // read no more; close once every receipt (this one last) is written
  complete_receipt(slot);
  if (!slot && receipts_.empty() && !write_in_flight_ && out_.empty()) close_soon("DISCONNECT");
}

void stomp_session::deliver(subscription& sub, const queued& q, std::uint64_t ack_id) {
  const message& m = *q.msg;
  ++messages_out_;
  frame f;
  f.command = "MESSAGE";
  f.headers.reserve(m.headers.size() + 10);
  f.add("subscription", sub.id());
  f.add("message-id", m.message_id);
  // A dead-letter queue delivers under its own name and says where the message came from.
  const container* from = sub.source();
  if (from && from->kind() == container_kind::queue && from->name() != m.destination) {
    f.add("destination", from->name());
    f.add("original-destination", m.destination);
  } else {
    f.add("destination", m.destination);
  }
  if (version_ == stomp::version::v1_2 && sub.mode() != ack_mode::auto_ack) f.add("ack", std::to_string(ack_id));
  if (m.persistent) f.add("persistent", "true");
  f.add("priority", std::to_string(m.priority));
  f.add("timestamp", std::to_string(m.timestamp_ms));
  if (m.expires_ms) f.add("expires", std::to_string(m.expires_ms));
  if (q.deliveries > 1) f.add("redelivered", "true");
  for (auto& h : m.headers) f.add(h.key, h.value);
  write_frame(f, m.body);  // the body goes straight from the message into the output buffer
}

}  // namespace tandem::broker
