// connection: operations and their completion — sends, subscriptions, transactions, receipts,
// and restoring them after a reconnect.
#include <charconv>

#include <fmt/format.h>

#include "failover/connection.h"
#include "stomp/encoder.h"

namespace tandem::failover {

namespace {

bool parse_seq(std::string_view s, std::uint64_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

bool is_producer_id(std::string_view id) {
  auto colon = id.rfind(':');
  std::uint64_t seq = 0;
  return colon != std::string_view::npos && colon > 0 && parse_seq(id.substr(colon + 1), seq);
}

}  // namespace

void connection::take(op& o, error e, deferred& later) {
  if (!o.done) return;
  if (o.kind == op_kind::send) --pending_sends_;
  if (o.timeout_timer) timers_->cancel(o.timeout_timer), o.timeout_timer = 0;
  later.emplace_back(std::move(o.done), std::move(e));
  o.done = nullptr;
}

void connection::complete(op& o, error e) {
  deferred later;
  take(o, std::move(e), later);
  for (auto& [c, err] : later) c(err);
}

std::uint64_t connection::enqueue(op_kind kind, stomp::frame f, completion done, std::string transaction) {
  const std::uint64_t seq = next_seq_++;
  f.set("receipt", std::to_string(seq));
  auto [it, inserted] = ops_.emplace(seq, op{kind, std::move(f), std::move(done), std::move(transaction)});
  if (kind == op_kind::send) ++pending_sends_;
  if (phase_ == phase::connected) pump();
  else if (kind == op_kind::send && it->second.transaction.empty()) arm_timeout(seq, it->second);
  return seq;
}

void connection::write_op(std::uint64_t seq, op& o) {
  (void)seq;
  if (o.timeout_timer) timers_->cancel(o.timeout_timer), o.timeout_timer = 0;
  if (o.written_gen != 0 && o.kind == op_kind::send && o.done) ++stats_.resent;
  o.written_gen = gen_;
  if (o.kind == op_kind::send) ++in_flight_sends_;
  if (o.kind == op_kind::begin) transactions_[o.transaction].begun_on_wire = true;
  stomp::encode(o.frame, version_, out_);
}

void connection::pump() {
  if (phase_ != phase::connected) return;
  for (auto it = ops_.lower_bound(write_cursor_); it != ops_.end(); ++it) {
    if (it->second.kind == op_kind::send && in_flight_sends_ >= max_in_flight_sends) break;
    write_op(it->first, it->second);
    write_cursor_ = it->first + 1;
  }
  do_write();
}

void connection::restore_state() {
  // Subscriptions first, in the order they were made, so re-sent messages and redeliveries
  // find their consumers.
  for (auto& s : subscriptions_) {
    stomp::frame f;
    f.command = "SUBSCRIBE";
    f.add("id", s.spec.id);
    f.add("destination", s.spec.destination);
    f.add("ack", s.spec.ack);
    for (auto& [k, v] : s.spec.extra) f.add(k, v);
    if (s.done) {
      s.receipt = fmt::format("sub-{}", next_sub_receipt_++);
      f.add("receipt", s.receipt);
    }
    stomp::encode(f, version_, out_);
  }
  // Then every operation without a receipt, in its original order (pump() starts at the
  // oldest: connection_lost() moved the cursor back).
  in_flight_sends_ = 0;
  pump();
}

void connection::arm_timeout(std::uint64_t seq, op& o) {
  if (options_.timeout.count() < 0 || o.timeout_timer || !o.done) return;
  auto self = shared_from_this();
  o.timeout_timer = timers_->after(options_.timeout, [self, seq] { self->on_send_timeout(seq); });
}

void connection::on_send_timeout(std::uint64_t seq) {
  auto it = ops_.find(seq);
  if (it == ops_.end()) return;
  op& o = it->second;
  o.timeout_timer = 0;
  if (phase_ == phase::connected && o.written_gen == gen_) return;  // already on its way again
  ++stats_.timed_out;
  const bool maybe_stored = o.written_gen != 0;
  error e{errc::timed_out,
          fmt::format("no broker connection for {} ms (timeout): {}", options_.timeout.count(),
                      maybe_stored ? "the message was sent before the connection was lost and may have been stored; "
                                     "re-send it with the same message-id to be sure it is stored once"
                                   : "the message was not sent")};
  deferred later;
  take(o, std::move(e), later);
  ops_.erase(it);
  for (auto& [c, err] : later) c(err);
}

void connection::roll_back_transactions(std::size_t& rolled_back, deferred& later) {
  for (auto& [name, tx] : transactions_) {
    const bool on_wire = tx.begun_on_wire;
    tx.begun_on_wire = false;
    if (!on_wire || tx.rolled_back) continue;  // never reached the broker: replayed as is
    op* commit = nullptr;
    bool aborting = false;
    for (auto& [seq, o] : ops_)
      if (o.transaction == name && o.done) {
        if (o.kind == op_kind::commit) commit = &o;
        if (o.kind == op_kind::abort) aborting = true;
      }
    if (commit && !tx.has_acks) continue;  // replayed: same sends, same ids, stored once
    error e;
    if (aborting) e = error{};  // what was asked for happened: the broker dropped it
    else if (commit)
      e = error{errc::commit_in_doubt, fmt::format("the connection failed while COMMIT of transaction '{}' was in "
                                                   "flight; it held acks, so it may or may not have been applied",
                                                   name)};
    else
      e = error{errc::transaction_rolled_back,
                fmt::format("transaction '{}' was rolled back: the connection failed before COMMIT", name)};
    for (auto it = ops_.begin(); it != ops_.end();) {
      if (it->second.transaction != name) {
        ++it;
        continue;
      }
      error mine = e;
      if (!aborting && !commit && it->second.kind == op_kind::abort) mine = error{};
      take(it->second, mine, later);
      it = ops_.erase(it);
    }
    if (commit || aborting) {
      tx.rolled_back = true;  // erased below
      tx.rollback_reason.clear();
    } else {
      tx.rolled_back = true;
      tx.rollback_reason = e.message;
      ++rolled_back;
      ++stats_.rolled_back;
    }
  }
  std::erase_if(transactions_, [](auto& kv) { return kv.second.rolled_back && kv.second.rollback_reason.empty(); });
}

// ---- incoming frames -----------------------------------------------------------------------

void connection::dispatch(stomp::frame& f) {
  const std::string& c = f.command;
  if (c == "MESSAGE") {
    const std::string sub_id(f.get("subscription"));
    auto it = std::find_if(subscriptions_.begin(), subscriptions_.end(), [&](auto& s) { return s.spec.id == sub_id; });
    if (it == subscriptions_.end()) return;  // unsubscribed meanwhile; the broker releases it
    ++stats_.messages;
    note_delivery(f);
    if (f.get("redelivered") == "true") ++stats_.redelivered;
    message m{std::move(f), sub_id, gen_};
    auto handler = it->on_message;  // a copy: the handler may unsubscribe
    if (handler) handler(std::move(m));
    return;
  }
  if (c == "RECEIPT") return on_receipt(std::string(f.get("receipt-id")));
  if (c == "ERROR") return on_error_frame(f);
  connection_lost(error{errc::protocol_error, fmt::format("unexpected {} frame from the broker", c)});
}

void connection::note_delivery(stomp::frame& f) {
  const std::string* id = f.find("message-id");
  if (!id) return;
  if (delivered_on_.empty()) delivered_on_.reserve(2 * remembered_deliveries);
  const std::uint64_t key = std::hash<std::string>{}(*id);
  auto [it, fresh] = delivered_on_.try_emplace(key, gen_);
  if (!fresh) {
    // Delivered before on a connection since lost: its ack may not have reached the broker,
    // and a node that took over does not know it was delivered. Say so, as JMSRedelivered does.
    if (it->second != gen_) f.set("redelivered", "true");
    it->second = gen_;
    return;
  }
  delivered_order_.push_back(key);
  if (delivered_order_.size() > remembered_deliveries) {
    delivered_on_.erase(delivered_order_.front());
    delivered_order_.pop_front();
  }
}

void connection::on_receipt(const std::string& id) {
  if (id == "disconnect") return finish_close(error{errc::closed, "closed by the application"});
  if (id.starts_with("sub-")) {
    for (auto& s : subscriptions_)
      if (s.receipt == id && s.done) {
        auto done = std::move(s.done);
        s.done = nullptr;
        done(error{});
        return;
      }
    return;
  }
  std::uint64_t seq = 0;
  if (!parse_seq(id, seq)) return;
  auto it = ops_.find(seq);
  if (it == ops_.end()) return;  // e.g. a replayed transaction's send, or a timed-out one
  op& o = it->second;
  if (o.kind == op_kind::send) {
    if (o.written_gen == gen_ && in_flight_sends_ > 0) --in_flight_sends_;
    ++stats_.receipts;
  }
  deferred later;
  take(o, error{}, later);
  if (o.transaction.empty()) {
    ops_.erase(it);
  } else if (o.kind == op_kind::commit || o.kind == op_kind::abort) {
    // The transaction is over: nothing of it is replayed any more.
    const std::string name = o.transaction;
    std::erase_if(ops_, [&](auto& kv) { return kv.second.transaction == name; });
    transactions_.erase(name);
  }
  pump();
  for (auto& [c, err] : later) c(err);
}

void connection::on_error_frame(const stomp::frame& f) {
  std::string text(f.get("message"));
  if (text.empty()) text = f.body.substr(0, 200);
  error e{errc::broker_error, "broker ERROR: " + text};
  const std::string receipt(f.get("receipt-id"));
  std::uint64_t seq = 0;
  deferred later;
  if (parse_seq(receipt, seq)) {
    auto it = ops_.find(seq);
    // An ERROR that says the outcome is in doubt (the broker's journal failed) is resolved by
    // re-sending with the same message-id after the reconnect; any other ERROR is final: a
    // refusal (no permission, a bad header) would only be refused again. Recognised by how
    // Tandem's message starts, so a refusal that merely names a destination containing the
    // words is not mistaken for it.
    const bool in_doubt = text.starts_with("journal write failed") && text.find("in doubt") != std::string::npos;
    if (it != ops_.end() && !in_doubt) {
      take(it->second, e, later);
      if (it->second.transaction.empty()) ops_.erase(it);
    }
  } else if (receipt.starts_with("sub-")) {
    auto it = std::find_if(subscriptions_.begin(), subscriptions_.end(), [&](auto& s) { return s.receipt == receipt; });
    if (it != subscriptions_.end()) {
      if (it->done) later.emplace_back(std::move(it->done), e);
      subscriptions_.erase(it);  // a subscription the broker refuses is not restored
    }
  }
  connection_lost(e);  // the broker closes the connection after an ERROR
  for (auto& [c, err] : later) c(err);
}

// ---- the application's operations ----------------------------------------------------------

void connection::send(std::string destination, std::string body, headers extra, completion done, std::string transaction) {
  if (phase_ == phase::closed || phase_ == phase::closing)
    return post(std::move(done), error{errc::closed, "the connection is closed"});
  if (!transaction.empty()) {
    auto tx = transactions_.find(transaction);
    if (tx == transactions_.end())
      return post(std::move(done), error{errc::protocol_error, fmt::format("transaction '{}' was not begun", transaction)});
    if (tx->second.rolled_back)
      return post(std::move(done), error{errc::transaction_rolled_back, tx->second.rollback_reason});
  }
  if (phase_ != phase::connected && pending_sends_ >= options_.max_buffered_sends)
    return post(std::move(done),
                error{errc::buffer_full, fmt::format("{} sends already wait for a connection (maxBufferedSends={})",
                                                     pending_sends_, options_.max_buffered_sends)});
  stomp::frame f;
  f.command = "SEND";
  f.headers.reserve(extra.size() + 4);
  f.add("destination", std::move(destination));
  bool has_id = false;
  for (auto& [k, v] : extra) {
    if (k == "receipt" || k == "destination" || k == "transaction") continue;  // the library owns these
    if (k == "message-id") {
      if (!is_producer_id(v)) continue;  // only PRODUCER:SEQ ids take part in duplicate detection
      has_id = true;
    }
    f.add(std::move(k), std::move(v));
  }
  if (!has_id) f.add("message-id", fmt::format("{}:{}", producer_id_, next_seq_));
  if (!transaction.empty()) f.add("transaction", transaction);
  f.body = std::move(body);
  ++stats_.sends;
  enqueue(op_kind::send, std::move(f), std::move(done), std::move(transaction));
}

void connection::subscribe(subscription_spec spec, message_handler on_message, completion done) {
  if (phase_ == phase::closed || phase_ == phase::closing)
    return post(std::move(done), error{errc::closed, "the connection is closed"});
  for (auto& s : subscriptions_)
    if (s.spec.id == spec.id)
      return post(std::move(done), error{errc::protocol_error, fmt::format("subscription id '{}' is already in use", spec.id)});
  subscription s{std::move(spec), std::move(on_message), std::move(done), {}};
  if (phase_ == phase::connected) {
    stomp::frame f;
    f.command = "SUBSCRIBE";
    f.add("id", s.spec.id);
    f.add("destination", s.spec.destination);
    f.add("ack", s.spec.ack);
    for (auto& [k, v] : s.spec.extra) f.add(k, v);
    s.receipt = fmt::format("sub-{}", next_sub_receipt_++);
    f.add("receipt", s.receipt);
    write_frame(f);
  }
  subscriptions_.push_back(std::move(s));
}

void connection::unsubscribe(const std::string& id, completion done) {
  if (phase_ == phase::closed || phase_ == phase::closing)
    return post(std::move(done), error{errc::closed, "the connection is closed"});
  auto it = std::find_if(subscriptions_.begin(), subscriptions_.end(), [&](auto& s) { return s.spec.id == id; });
  if (it == subscriptions_.end())
    return post(std::move(done), error{errc::protocol_error, fmt::format("no subscription with id '{}'", id)});
  if (it->done) post(std::move(it->done), error{});  // subscribed, then unsubscribed
  subscriptions_.erase(it);
  if (phase_ != phase::connected) return post(std::move(done), error{});  // nothing to undo on a broker
  stomp::frame f;
  f.command = "UNSUBSCRIBE";
  f.add("id", id);
  enqueue(op_kind::unsubscribe, std::move(f), std::move(done), {});
}

error connection::acknowledge(const message& m, const std::string& transaction, bool positive) {
  if (phase_ == phase::closed || phase_ == phase::closing) return {errc::closed, "the connection is closed"};
  if (phase_ != phase::connected || m.generation != gen_) {
    ++stats_.stale_acks;
    return {errc::stale_message, fmt::format("message {} came on a connection that was lost; the broker redelivers it",
                                             m.message_id())};
  }
  if (!transaction.empty()) {
    auto tx = transactions_.find(transaction);
    if (tx == transactions_.end()) return {errc::protocol_error, fmt::format("transaction '{}' was not begun", transaction)};
    if (tx->second.rolled_back) return {errc::transaction_rolled_back, tx->second.rollback_reason};
    tx->second.has_acks = true;
  }
  stomp::frame f;
  f.command = positive ? "ACK" : "NACK";
  if (version_ == stomp::version::v1_2) {
    f.add("id", std::string(m.header("ack")));
  } else {
    f.add("message-id", std::string(m.message_id()));
    f.add("subscription", m.subscription);
  }
  if (!transaction.empty()) f.add("transaction", transaction);
  write_frame(f);
  return {};
}

error connection::ack(const message& m, const std::string& transaction) { return acknowledge(m, transaction, true); }
error connection::nack(const message& m, const std::string& transaction) { return acknowledge(m, transaction, false); }

void connection::begin(const std::string& transaction, completion done) {
  if (phase_ == phase::closed || phase_ == phase::closing)
    return post(std::move(done), error{errc::closed, "the connection is closed"});
  auto [it, inserted] = transactions_.try_emplace(transaction);
  if (!inserted) {
    if (!it->second.rolled_back)
      return post(std::move(done), error{errc::protocol_error, fmt::format("transaction '{}' is already open", transaction)});
    it->second = tx_state{};  // a rolled-back name may be begun again
  }
  stomp::frame f;
  f.command = "BEGIN";
  f.add("transaction", transaction);
  enqueue(op_kind::begin, std::move(f), std::move(done), transaction);
}

void connection::commit(const std::string& transaction, completion done) {
  end_transaction(op_kind::commit, transaction, std::move(done));
}

void connection::abort(const std::string& transaction, completion done) {
  end_transaction(op_kind::abort, transaction, std::move(done));
}

void connection::end_transaction(op_kind kind, const std::string& transaction, completion done) {
  if (phase_ == phase::closed || phase_ == phase::closing)
    return post(std::move(done), error{errc::closed, "the connection is closed"});
  auto it = transactions_.find(transaction);
  if (it == transactions_.end())
    return post(std::move(done), error{errc::protocol_error, fmt::format("transaction '{}' was not begun", transaction)});
  if (it->second.rolled_back) {
    // The broker has already dropped it: what an ABORT asks for, what a COMMIT must report.
    error e = kind == op_kind::commit ? error{errc::transaction_rolled_back, it->second.rollback_reason} : error{};
    transactions_.erase(it);
    return post(std::move(done), std::move(e));
  }
  stomp::frame f;
  f.command = kind == op_kind::commit ? "COMMIT" : "ABORT";
  f.add("transaction", transaction);
  enqueue(kind, std::move(f), std::move(done), transaction);
}

}  // namespace tandem::failover
