// connection (the failover core) on a fake network and a fake clock: sends, subscriptions,
// transactions and acks, and what of them survives a failover (replay order, message-ids,
// rollbacks, stale acks, the send buffer and `timeout`).

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "tests/unit/failover/connection_harness.h"

using namespace tandem;
using namespace tandem::failover;
using namespace tandem::failover::testing;
using Catch::Matchers::Contains;

TEST_CASE("a send gets a producer message-id and completes at its receipt", "[connection]") {
  harness h;
  auto& a = h.start_connected();
  auto s = h.send("/queue/q", "hello", {}, {{"persistent", "true"}, {"receipt", "mine"}});
  auto sends = a.frames("SEND");
  REQUIRE(sends.size() == 1);
  CHECK(sends[0].get("destination") == "/queue/q");
  CHECK(sends[0].get("persistent") == "true");
  CHECK(sends[0].body == "hello");
  CHECK(std::string(sends[0].get("message-id")).starts_with(h.conn->producer_id() + ":"));
  CHECK(sends[0].get("receipt") != "mine");  // the library owns receipts
  CHECK_FALSE(s.done());
  CHECK(h.conn->pending_sends() == 1);
  a.receipt(sends[0]);
  h.loop->run_pending();
  CHECK(s.ok());
  CHECK(h.conn->pending_sends() == 0);
  CHECK(h.conn->stats().receipts == 1);
}

TEST_CASE("timeout ends a send waiting for a connection with timed_out, and it is not resent", "[connection]") {
  harness h(pair_uri + "&timeout=500");
  h.net->refuse("stomp://a:1");
  h.net->refuse("stomp://b:2");
  h.start();
  auto s = h.send("/queue/q", "late");
  h.loop->advance(milliseconds(499));
  CHECK_FALSE(s.done());
  h.loop->advance(milliseconds(1));
  CHECK(s.code() == errc::timed_out);
  CHECK_THAT(s.message(), Contains("not sent"));
  CHECK(h.conn->stats().timed_out == 1);
  CHECK(h.conn->pending_sends() == 0);

  h.net->accept("stomp://b:2");
  h.net->auto_connected();
  while (!h.conn->connected() && h.loop->next_timer_in()) h.loop->advance_to_next_timer();
  REQUIRE(h.conn->connected());
  h.loop->run_pending();
  CHECK(h.net->last().frames("SEND").empty());
  CHECK(s.times() == 1);
}

TEST_CASE("a send written before the loss also times out if no connection comes back in time", "[connection]") {
  harness h(pair_uri + "&timeout=500");
  auto& a = h.start_connected();
  auto s = h.send("/queue/q", "maybe");
  h.net->refuse("stomp://a:1");
  h.net->refuse("stomp://b:2");
  a.fail_read();
  h.loop->run_pending();
  h.loop->advance(milliseconds(500));
  CHECK(s.code() == errc::timed_out);
  CHECK_THAT(s.message(), Contains("may have been stored"));
}

TEST_CASE("buffer limit while disconnected gives buffer_full at once", "[connection]") {
  harness h(pair_uri + "&maxBufferedSends=2");
  h.net->hang("stomp://a:1");
  h.start();
  auto one = h.send("/queue/q", "1");
  auto two = h.send("/queue/q", "2");
  auto three = h.send("/queue/q", "3");
  CHECK_FALSE(one.done());
  CHECK_FALSE(two.done());
  CHECK(three.code() == errc::buffer_full);
  CHECK_THAT(three.message(), Contains("maxBufferedSends=2"));
  CHECK(h.conn->pending_sends() == 2);
}

TEST_CASE("after a reconnect subscriptions come first, then unreceipted sends in order with the same ids",
          "[connection]") {
  harness h;
  auto& a = h.start_connected();
  auto s1 = h.subscribe({"s1", "/queue/orders", "client-individual", {{"selector", "region = 'eu'"}}});
  auto s2 = h.subscribe({"s2", "/topic/prices", "auto", {{"activemq.subscriptionName", "p"}}});
  a.receipt_all();
  h.loop->run_pending();
  CHECK(s1.ok());
  CHECK(s2.ok());
  auto m1 = h.send("/queue/q", "m1");
  a.receipt(a.frames("SEND").at(0));
  h.loop->run_pending();
  REQUIRE(m1.ok());
  auto m2 = h.send("/queue/q", "m2");
  auto m3 = h.send("/queue/q", "m3", {}, {{"message-id", "app-7:42"}});
  const auto sent_on_a = a.frames("SEND");
  REQUIRE(sent_on_a.size() == 3);

  a.fail_read();
  h.loop->run_pending();
  REQUIRE(h.events.size() == 2);
  CHECK(h.events[1].kind == event_kind::interrupted);
  CHECK(h.events[1].endpoint == "stomp://a:1");
  CHECK(h.events[1].reason.code == errc::connection_closed);
  CHECK(h.events[1].generation == h.events[0].generation);  // the connection lost is the first one
  CHECK_FALSE(h.conn->connected());

  auto& b = h.net->last();
  CHECK(b.name() == "stomp://b:2");  // the endpoint just lost is tried last
  h.loop->advance(milliseconds(250));
  b.reply_connected();
  h.loop->run_pending();

  CHECK(b.commands() == std::vector<std::string>{"CONNECT", "SUBSCRIBE", "SUBSCRIBE", "SEND", "SEND"});
  auto subs = b.frames("SUBSCRIBE");
  CHECK(subs[0].get("id") == "s1");
  CHECK(subs[0].get("destination") == "/queue/orders");
  CHECK(subs[0].get("ack") == "client-individual");
  CHECK(subs[0].get("selector") == "region = 'eu'");
  CHECK(subs[1].get("id") == "s2");
  CHECK(subs[1].get("ack") == "auto");
  CHECK(subs[1].get("activemq.subscriptionName") == "p");
  auto resent = b.frames("SEND");
  CHECK(bodies(resent) == std::vector<std::string>{"m2", "m3"});
  CHECK(resent[0].get("message-id") == sent_on_a[1].get("message-id"));
  CHECK(resent[1].get("message-id") == "app-7:42");

  REQUIRE(h.events.size() == 3);
  const auto& resumed = h.events[2];
  CHECK(resumed.kind == event_kind::resumed);
  CHECK(resumed.endpoint == "stomp://b:2");
  CHECK_FALSE(resumed.first);
  CHECK(resumed.resent == 2);
  CHECK(resumed.resubscribed == 2);
  CHECK(resumed.rolled_back == 0);
  CHECK(resumed.outage == milliseconds(250));
  CHECK(resumed.generation == h.conn->generation());
  CHECK(resumed.generation != h.events[0].generation);
  CHECK(h.events[0].generation != 0);
  CHECK(h.conn->stats().resent == 2);
  CHECK(h.conn->stats().connects == 2);

  CHECK(b.receipt_all() == 2);
  h.loop->run_pending();
  CHECK(m2.ok());
  CHECK(m3.ok());
  CHECK(m1.times() == 1);
}

TEST_CASE("receipted sends are not resent after a reconnect", "[connection]") {
  harness h;
  auto& a = h.start_connected();
  auto m1 = h.send("/queue/q", "m1");
  auto m2 = h.send("/queue/q", "m2");
  a.receipt_all();
  h.loop->run_pending();
  REQUIRE(m1.ok());
  REQUIRE(m2.ok());
  auto& b = h.fail_over(a);
  CHECK(b.commands() == std::vector<std::string>{"CONNECT"});
  CHECK(h.events.back().resent == 0);
}

TEST_CASE("sends made while disconnected go out after the reconnect in order", "[connection]") {
  harness h;
  auto& a = h.start_connected();
  h.net->hang("stomp://b:2");
  a.fail_read();
  h.loop->run_pending();
  auto x = h.send("/queue/q", "x");
  auto y = h.send("/queue/q", "y");
  CHECK(h.conn->pending_sends() == 2);
  h.loop->advance(milliseconds(2000));  // b's connect times out; a is tried next and accepts
  auto& again = h.net->last();
  REQUIRE(again.name() == "stomp://a:1");
  again.reply_connected();
  h.loop->run_pending();
  CHECK(bodies(again.frames("SEND")) == std::vector<std::string>{"x", "y"});
  CHECK(h.events.back().resent == 0);  // never written before: not a resend
}

TEST_CASE("a transaction open at the failure is rolled back: pending and later operations fail, abort succeeds",
          "[connection]") {
  harness h;
  auto& a = h.start_connected();
  auto begun = h.tx(&connection::begin, "tx1");
  a.receipt_all();
  h.loop->run_pending();
  REQUIRE(begun.ok());
  auto in_tx = h.send("/queue/q", "in-tx", "tx1");
  auto plain = h.send("/queue/q", "plain");
  CHECK(a.frames("SEND").at(0).get("transaction") == "tx1");

  auto& b = h.fail_over(a);
  CHECK(in_tx.code() == errc::transaction_rolled_back);
  CHECK_THAT(in_tx.message(), Contains("tx1"));
  CHECK(h.events.back().rolled_back == 1);
  CHECK(h.conn->stats().rolled_back == 1);
  // Nothing of tx1 reaches the new broker; the plain send is resent.
  CHECK(b.commands() == std::vector<std::string>{"CONNECT", "SEND"});
  CHECK(b.frames("SEND").at(0).body == "plain");

  SECTION("later sends and commit fail") {
    auto later = h.send("/queue/q", "later", "tx1");
    CHECK(later.code() == errc::transaction_rolled_back);
    auto commit = h.tx(&connection::commit, "tx1");
    CHECK(commit.code() == errc::transaction_rolled_back);
    CHECK(b.frames("COMMIT").empty());
  }
  SECTION("abort succeeds without reaching the broker") {
    auto aborted = h.tx(&connection::abort, "tx1");
    CHECK(aborted.ok());
    CHECK(b.frames("ABORT").empty());
  }
  SECTION("the name can be begun again") {
    auto again = h.tx(&connection::begin, "tx1");
    CHECK(b.frames("BEGIN").size() == 1);
    b.receipt_all();
    h.loop->run_pending();
    CHECK(again.ok());
  }
}

TEST_CASE("a send-only commit in flight at the failure is replayed on the new connection", "[connection]") {
  harness h;
  auto& a = h.start_connected();
  auto begun = h.tx(&connection::begin, "tx1");
  auto s1 = h.send("/queue/q", "one", "tx1");
  auto s2 = h.send("/queue/q", "two", "tx1");
  a.receipt_all();
  h.loop->run_pending();
  REQUIRE(s1.ok());
  REQUIRE(s2.ok());
  auto commit = h.tx(&connection::commit, "tx1");
  const auto ids_on_a = a.frames("SEND");

  auto& b = h.fail_over(a);
  CHECK_FALSE(commit.done());
  CHECK(b.commands() == std::vector<std::string>{"CONNECT", "BEGIN", "SEND", "SEND", "COMMIT"});
  auto sends = b.frames("SEND");
  CHECK(bodies(sends) == std::vector<std::string>{"one", "two"});
  CHECK(sends[0].get("message-id") == ids_on_a[0].get("message-id"));
  CHECK(sends[1].get("message-id") == ids_on_a[1].get("message-id"));
  CHECK(sends[0].get("transaction") == "tx1");
  CHECK(b.frames("COMMIT").at(0).get("transaction") == "tx1");
  CHECK(h.events.back().rolled_back == 0);

  b.receipt_all();
  h.loop->run_pending();
  CHECK(commit.ok());
  CHECK(s1.times() == 1);
  CHECK(begun.times() == 1);
}

TEST_CASE("a commit with acks in flight at the failure completes with commit_in_doubt", "[connection]") {
  harness h;
  auto& a = h.start_connected();
  auto sub = h.subscribe({"s1", "/queue/work", "client-individual", {}});
  auto begun = h.tx(&connection::begin, "tx1");
  a.receipt_all();
  a.deliver_message("s1", "/queue/work", "m-1", "job");
  h.loop->run_pending();
  REQUIRE(begun.ok());
  REQUIRE(h.messages.size() == 1);
  CHECK_FALSE(h.conn->ack(h.messages[0], "tx1"));
  auto ack = a.frames("ACK");
  REQUIRE(ack.size() == 1);
  CHECK(ack[0].get("id") == "m-1");
  CHECK(ack[0].get("transaction") == "tx1");
  auto commit = h.tx(&connection::commit, "tx1");

  auto& b = h.fail_over(a);
  CHECK(commit.code() == errc::commit_in_doubt);
  CHECK_THAT(commit.message(), Contains("tx1"));
  CHECK(b.frames("BEGIN").empty());
  CHECK(b.frames("COMMIT").empty());
  CHECK(b.frames("ACK").empty());
}

TEST_CASE("acking a message from a lost connection returns stale_message and writes nothing", "[connection]") {
  harness h;
  auto& a = h.start_connected();
  h.subscribe({"s1", "/queue/work", "client", {}});
  a.receipt_all();
  a.deliver_message("s1", "/queue/work", "m-1", "job");
  h.loop->run_pending();
  REQUIRE(h.messages.size() == 1);
  const message old = h.messages[0];
  CHECK(old.body() == "job");
  CHECK(old.subscription == "s1");

  h.net->hang("stomp://b:2");
  h.net->hang("stomp://a:1");
  a.fail_read();
  h.loop->run_pending();
  auto while_down = h.conn->ack(old);
  CHECK(while_down.code == errc::stale_message);

  h.net->accept("stomp://b:2");
  h.net->accept("stomp://a:1");
  h.loop->advance(milliseconds(2000));  // b hangs until connectTimeout, then a accepts
  auto& again = h.net->last();
  again.reply_connected();
  h.loop->run_pending();
  REQUIRE(h.conn->connected());
  auto e = h.conn->ack(old);
  CHECK(e.code == errc::stale_message);
  CHECK(h.conn->nack(old).code == errc::stale_message);
  h.loop->run_pending();
  CHECK(again.frames("ACK").empty());
  CHECK(again.frames("NACK").empty());
  CHECK(h.conn->stats().stale_acks == 3);

  // A redelivery on the new connection can be acked.
  again.deliver_message("s1", "/queue/work", "m-1", "job", {{"redelivered", "true"}});
  h.loop->run_pending();
  REQUIRE(h.messages.size() == 2);
  CHECK(h.messages[1].redelivered());
  CHECK_FALSE(h.conn->ack(h.messages[1]));
  CHECK(again.frames("ACK").size() == 1);
}

TEST_CASE("messages reach their subscription's handler with the connection they came on", "[connection]") {
  harness h;
  auto& a = h.start_connected();
  h.subscribe({"s1", "/queue/a", "auto", {}});
  h.subscribe({"s2", "/queue/b", "auto", {}});
  a.deliver_message("s2", "/queue/b", "id-1", "for s2");
  a.deliver_message("s1", "/queue/a", "id-2", "for s1");
  a.deliver_message("gone", "/queue/c", "id-3", "nobody");
  h.loop->run_pending();
  REQUIRE(h.messages.size() == 2);
  CHECK(h.messages[0].generation == h.events.at(0).generation);  // the resumed event of this connection
  CHECK(h.messages[0].subscription == "s2");
  CHECK(h.messages[0].body() == "for s2");
  CHECK(h.messages[1].destination() == "/queue/a");
  CHECK(h.conn->stats().messages == 2);
}

TEST_CASE("a subscription made while disconnected is sent, with a receipt, once connected", "[connection]") {
  harness h;
  h.net->hang("stomp://a:1");
  h.start();
  auto sub = h.subscribe({"s1", "/queue/a", "client", {}});
  CHECK_FALSE(sub.done());
  h.loop->advance(milliseconds(2000));  // a times out, b accepts
  auto& b = h.net->last();
  b.reply_connected();
  h.loop->run_pending();
  REQUIRE(b.commands() == std::vector<std::string>{"CONNECT", "SUBSCRIBE"});
  CHECK(b.frames("SUBSCRIBE")[0].get("id") == "s1");
  CHECK_FALSE(sub.done());
  b.receipt_all();
  h.loop->run_pending();
  CHECK(sub.ok());
}

TEST_CASE("an unsubscribe while disconnected completes and the subscription is not restored", "[connection]") {
  harness h;
  auto& a = h.start_connected();
  h.subscribe({"s1", "/queue/a", "auto", {}});
  h.subscribe({"s2", "/queue/b", "auto", {}});
  a.receipt_all();
  h.net->hang("stomp://b:2");
  a.fail_read();
  h.loop->run_pending();
  outcome unsub;
  h.conn->unsubscribe("s1", unsub.fn());
  h.loop->run_pending();
  CHECK(unsub.ok());
  h.net->accept("stomp://b:2");
  h.loop->advance(milliseconds(2000));
  auto& again = h.net->last();
  again.reply_connected();
  h.loop->run_pending();
  REQUIRE(again.commands() == std::vector<std::string>{"CONNECT", "SUBSCRIBE"});
  CHECK(again.frames("SUBSCRIBE")[0].get("id") == "s2");
}

// The broker answers UNSUBSCRIBE for an id it does not know with ERROR ("no subscription with id
// ..."), which would fail the unsubscribe and drop the new connection.
TEST_CASE("an unsubscribe in flight at the failure is not replayed to a broker that never had the subscription",
          "[connection]") {
  harness h;
  auto& a = h.start_connected();
  h.subscribe({"s1", "/queue/a", "auto", {}});
  a.receipt_all();
  h.loop->run_pending();
  outcome unsub;
  h.conn->unsubscribe("s1", unsub.fn());
  h.loop->run_pending();
  REQUIRE(a.frames("UNSUBSCRIBE").size() == 1);
  auto& b = h.fail_over(a);
  CHECK(b.frames("SUBSCRIBE").empty());
  CHECK(b.frames("UNSUBSCRIBE").empty());
  CHECK(unsub.ok());
}

TEST_CASE("an ERROR that says a send is in doubt makes it go again with the same message-id", "[connection]") {
  harness h;
  auto& a = h.start_connected();
  auto s = h.send("/queue/q", "important");
  const auto first = a.frames("SEND").at(0);
  a.reply("ERROR", {{"receipt-id", std::string(first.get("receipt"))},
                    {"message", "journal write failed: the message is in doubt"}});
  h.loop->run_pending();
  CHECK_FALSE(s.done());
  REQUIRE(h.events.size() == 2);
  CHECK(h.events[1].kind == event_kind::interrupted);
  CHECK(h.events[1].reason.code == errc::broker_error);
  auto& b = h.net->last();
  b.reply_connected();
  h.loop->run_pending();
  REQUIRE(b.frames("SEND").size() == 1);
  CHECK(b.frames("SEND")[0].get("message-id") == first.get("message-id"));
  b.receipt_all();
  h.loop->run_pending();
  CHECK(s.ok());
}

TEST_CASE("an ERROR refusing one send fails that send; the others are resent", "[connection]") {
  harness h;
  auto& a = h.start_connected();
  auto bad = h.send("/queue/forbidden", "x");
  auto good = h.send("/queue/q", "y");
  a.reply("ERROR", {{"receipt-id", std::string(a.frames("SEND").at(0).get("receipt"))},
                    {"message", "not authorized to send to /queue/forbidden"}});
  h.loop->run_pending();
  CHECK(bad.code() == errc::broker_error);
  CHECK_THAT(bad.message(), Contains("not authorized"));
  auto& b = h.net->last();
  b.reply_connected();
  h.loop->run_pending();
  CHECK(bodies(b.frames("SEND")) == std::vector<std::string>{"y"});
  b.receipt_all();
  h.loop->run_pending();
  CHECK(good.ok());
  CHECK(bad.times() == 1);
}

TEST_CASE("a permission refusal is final even when the destination's name says 'in doubt'", "[connection]") {
  harness h;
  auto& a = h.start_connected();
  auto bad = h.send("/queue/in doubt", "x");
  a.reply("ERROR", {{"receipt-id", std::string(a.frames("SEND").at(0).get("receipt"))},
                    {"message", "user 'app' may not write to /queue/in doubt"}});
  h.loop->run_pending();
  CHECK(bad.code() == errc::broker_error);
  CHECK_THAT(bad.message(), Contains("may not write to /queue/in doubt"));
  auto& b = h.net->last();
  b.reply_connected();
  h.loop->run_pending();
  CHECK(b.frames("SEND").empty());  // not re-sent: the broker would refuse it again, forever
  CHECK(bad.times() == 1);
}

TEST_CASE("a refused SUBSCRIBE fails that subscription and it is not restored after a failover", "[connection]") {
  harness h;
  auto& a = h.start_connected();
  auto refused = h.subscribe({.id = "s1", .destination = "/queue/payments", .ack = "auto", .extra = {}});
  auto kept = h.subscribe({.id = "s2", .destination = "/queue/orders", .ack = "auto", .extra = {}});
  const auto subs = a.frames("SUBSCRIBE");
  REQUIRE(subs.size() == 2);
  a.reply("RECEIPT", {{"receipt-id", std::string(subs[1].get("receipt"))}});
  a.reply("ERROR", {{"receipt-id", std::string(subs[0].get("receipt"))},
                    {"message", "user 'app' may not read from /queue/payments"}});
  h.loop->run_pending();
  CHECK(refused.code() == errc::broker_error);
  CHECK_THAT(refused.message(), Contains("may not read from /queue/payments"));
  CHECK(kept.ok());
  auto& b = h.net->last();
  b.reply_connected();
  h.loop->run_pending();
  REQUIRE(b.frames("SUBSCRIBE").size() == 1);
  CHECK(b.frames("SUBSCRIBE")[0].get("id") == "s2");
  CHECK(refused.times() == 1);
}

TEST_CASE("timeout does not apply to a send while connected", "[connection]") {
  harness h(pair_uri + "&timeout=100");
  auto& a = h.start_connected();
  auto s = h.send("/queue/q", "slow receipt");
  h.loop->advance(milliseconds(5000));
  CHECK_FALSE(s.done());
  a.receipt_all();
  h.loop->run_pending();
  CHECK(s.ok());
}

TEST_CASE("sends beyond the in-flight window wait for receipts", "[connection]") {
  harness h;
  auto& a = h.start_connected();
  const std::size_t window = 4000;  // connection::max_in_flight_sends
  std::vector<outcome> sends;
  for (std::size_t i = 0; i < window + 2; ++i) {
    outcome o;
    h.conn->send("/queue/q", std::to_string(i), {}, o.fn());
    sends.push_back(o);
  }
  h.loop->run_pending();
  CHECK(a.frames("SEND").size() == window);
  a.receipt(a.frames("SEND").at(0));
  h.loop->run_pending();
  CHECK(a.frames("SEND").size() == window + 1);
  CHECK(a.frames("SEND").back().body == std::to_string(window));
  CHECK(sends[0].ok());
}

TEST_CASE("a message delivered again after a failover is marked redelivered by the library", "[connection]") {
  harness h;
  auto& a = h.start_connected();
  h.subscribe({"s1", "/queue/work", "client", {}});
  a.receipt_all();
  a.deliver_message("s1", "/queue/work", "m-1", "job");
  h.loop->run_pending();
  REQUIRE(h.messages.size() == 1);
  CHECK_FALSE(h.messages[0].redelivered());

  auto& b = h.fail_over(a);
  b.receipt_all();
  // The node that took over does not know m-1 was delivered; the client does.
  b.deliver_message("s1", "/queue/work", "m-1", "job");
  b.deliver_message("s1", "/queue/work", "m-2", "new");
  h.loop->run_pending();
  REQUIRE(h.messages.size() == 3);
  CHECK(h.messages[1].redelivered());
  CHECK_FALSE(h.messages[2].redelivered());
  CHECK(h.conn->stats().redelivered == 1);
  CHECK_FALSE(h.conn->ack(h.messages[1]));
  CHECK(b.frames("ACK").size() == 1);
}

TEST_CASE("a transaction begun while disconnected goes out whole once connected", "[connection]") {
  harness h;
  h.net->hang("stomp://a:1");
  h.start();
  auto begun = h.tx(&connection::begin, "tx1");
  auto s = h.send("/queue/q", "in-tx", "tx1");
  auto commit = h.tx(&connection::commit, "tx1");
  h.loop->advance(milliseconds(2000));  // a times out; b accepts
  auto& b = h.net->last();
  b.reply_connected();
  h.loop->run_pending();
  CHECK(b.commands() == std::vector<std::string>{"CONNECT", "BEGIN", "SEND", "COMMIT"});
  CHECK(h.events.back().rolled_back == 0);
  b.receipt_all();
  h.loop->run_pending();
  CHECK(begun.ok());
  CHECK(s.ok());
  CHECK(commit.ok());
}

TEST_CASE("acks name the message the way the negotiated STOMP version wants", "[connection]") {
  harness h;
  h.start();
  auto& a = h.net->last();
  a.reply("CONNECTED", {{"version", "1.1"}, {"heart-beat", "0,0"}});
  h.loop->run_pending();
  REQUIRE(h.started.ok());
  h.subscribe({"s1", "/queue/work", "client", {}});
  a.receipt_all();
  a.deliver_message("s1", "/queue/work", "m-1", "job");
  h.loop->run_pending();
  REQUIRE(h.messages.size() == 1);
  CHECK_FALSE(h.conn->nack(h.messages[0]));
  auto nack = a.frames("NACK");
  REQUIRE(nack.size() == 1);
  CHECK(nack[0].get("message-id") == "m-1");
  CHECK(nack[0].get("subscription") == "s1");
  CHECK_FALSE(nack[0].has("id"));
}

TEST_CASE("frames written while a write is in flight go out after it, in order", "[connection]") {
  harness h;
  auto& a = h.start_connected();
  a.hold_writes();
  auto x = h.send("/queue/q", "x");
  auto y = h.send("/queue/q", "y");
  auto z = h.send("/queue/q", "z");
  const auto writes = a.writes();
  a.release_writes();
  h.loop->run_pending();
  CHECK(a.writes() > writes);
  CHECK(bodies(a.frames("SEND")) == std::vector<std::string>{"x", "y", "z"});
  CHECK(a.parse_error().empty());
}

// transport.h: "async_write REQUIRES: the previous write has completed". The CONNECT of an
// attempt is written outside the connection's write queue, and CONNECTED may be read before that
// write's completion has run: restoring state must wait for it (the fake throws on an overlap).
TEST_CASE("restoring state after CONNECTED does not overlap the CONNECT write", "[connection]") {
  harness h;
  h.net->hold_writes();
  auto sub = h.subscribe({"s1", "/queue/a", "auto", {}});
  h.start();
  auto& a = h.net->last();
  REQUIRE(a.commands() == std::vector<std::string>{"CONNECT"});
  a.reply_connected();
  h.loop->run_pending();  // the fake throws if a second write starts before the first completed
  a.release_writes();
  h.loop->run_pending();
  CHECK(a.commands() == std::vector<std::string>{"CONNECT", "SUBSCRIBE"});
}
