#include <catch2/catch.hpp>

#include "storage/coding.h"
#include "storage/journal_format.h"

using namespace tandem::storage;
using namespace tandem::storage::journal;

namespace {

message_record sample_message() {
  message_record m;
  m.seq = message_seq(42);
  m.destination = "/queue/orders";
  m.containers = {"/queue/orders", "durable:c1:s1"};
  m.producer_id = "producer-7";
  m.producer_seq = 9001;
  m.priority = 7;
  m.timestamp_ms = 1700000000123;
  m.expires_ms = 1700000060000;
  m.headers = {{"content-type", "text/plain"}, {"x-empty", ""}};
  m.body = std::string("hello\0world", 11);
  return m;
}

template <typename Encode>
std::string framed(record_type t, Encode&& encode) {
  std::string out;
  auto start = begin_record(out);
  encode(out);
  end_record(out, start, t);
  return out;
}

record_view check(const std::string& bytes, record_type expected) {
  auto r = check_record(bytes.data(), bytes.size());
  REQUIRE(r.has_value());
  REQUIRE(r->type == expected);
  REQUIRE(r->total_size() == bytes.size());
  return *r;
}

}  // namespace

TEST_CASE("every record type round-trips through framing and decoding", "[journal][format]") {
  SECTION("message added") {
    auto m = sample_message();
    auto bytes = framed(record_type::message_added, [&](std::string& o) { encode_message(o, m); });
    auto r = check(bytes, record_type::message_added);
    auto back = decode_message(r.payload);
    REQUIRE(back.ok());
    REQUIRE(back->seq == m.seq);
    REQUIRE(back->destination == m.destination);
    REQUIRE(back->containers == m.containers);
    REQUIRE(back->producer_id == m.producer_id);
    REQUIRE(back->producer_seq == m.producer_seq);
    REQUIRE(back->priority == m.priority);
    REQUIRE(back->timestamp_ms == m.timestamp_ms);
    REQUIRE(back->expires_ms == m.expires_ms);
    REQUIRE(back->headers == m.headers);
    REQUIRE(back->body == m.body);
    message_meta meta;
    REQUIRE(decode_message_meta(r.payload, meta));
    REQUIRE(meta.seq == 42);
    REQUIRE(meta.size == message_size(m));
    REQUIRE(meta.containers.size() == 2);
  }
  SECTION("references") {
    for (auto t : {record_type::ref_added, record_type::ref_removed}) {
      auto bytes = framed(t, [](std::string& o) { encode_ref(o, 77, "/queue/a"); });
      ref_payload p;
      REQUIRE(decode_ref(check(bytes, t).payload, p));
      REQUIRE(p.seq == 77);
      REQUIRE(p.container == "/queue/a");
    }
  }
  SECTION("transactions") {
    auto b = framed(record_type::txn_begin, [](std::string& o) { encode_txn_begin(o, 5, 3); });
    txn_payload p;
    REQUIRE(decode_txn(check(b, record_type::txn_begin).payload, record_type::txn_begin, p));
    REQUIRE(p.txn_id == 5);
    REQUIRE(p.op_count == 3);
    for (auto t : {record_type::txn_commit, record_type::txn_abort}) {
      auto e = framed(t, [](std::string& o) { encode_txn_end(o, 5); });
      txn_payload q;
      REQUIRE(decode_txn(check(e, t).payload, t, q));
      REQUIRE(q.txn_id == 5);
    }
  }
  SECTION("durable subscriptions") {
    durable_subscription s{"durable:c:n", "c", "n", "/topic/t", "color = 'red'"};
    auto b = framed(record_type::subscription_added, [&](std::string& o) { encode_subscription(o, s); });
    durable_subscription back;
    REQUIRE(decode_subscription(check(b, record_type::subscription_added).payload, back));
    REQUIRE(back.container == s.container);
    REQUIRE(back.selector == s.selector);
    REQUIRE(back.topic == s.topic);
    auto r = framed(record_type::subscription_removed, [&](std::string& o) { encode_subscription_removed(o, s.container); });
    std::string c;
    REQUIRE(decode_subscription_removed(check(r, record_type::subscription_removed).payload, c));
    REQUIRE(c == s.container);
  }
  SECTION("epoch start and checkpoint marker") {
    auto b = framed(record_type::epoch_start, [](std::string& o) { encode_epoch_start(o, {3, {7, 4096}}); });
    epoch_start_payload e;
    REQUIRE(decode_epoch_start(check(b, record_type::epoch_start).payload, e));
    REQUIRE(e.epoch == 3);
    REQUIRE(e.sealed == position{7, 4096});
    auto c = framed(record_type::checkpoint_marker, [](std::string& o) { encode_checkpoint_marker(o, {9, {8, 100}}); });
    checkpoint_marker_payload cm;
    REQUIRE(decode_checkpoint_marker(check(c, record_type::checkpoint_marker).payload, cm));
    REQUIRE(cm.checkpoint == 9);
    REQUIRE(cm.covers == position{8, 100});
  }
  SECTION("message relocated") {
    auto m = sample_message();
    std::string inner;
    encode_message(inner, m);
    auto b = framed(record_type::message_relocated, [&](std::string& o) {
      encode_relocated_prefix(o, {"/queue/orders"});
      coding::put_str(o, inner);
      o += std::string(6, '\0');  // slack padding is allowed
    });
    std::vector<std::string_view> cs;
    std::string_view payload;
    REQUIRE(decode_relocated(check(b, record_type::message_relocated).payload, cs, payload));
    REQUIRE(cs.size() == 1);
    REQUIRE(decode_message(payload)->body == m.body);
  }
}

TEST_CASE("a flipped bit anywhere in a record fails its check", "[journal][format]") {
  auto m = sample_message();
  auto bytes = framed(record_type::message_added, [&](std::string& o) { encode_message(o, m); });
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    auto damaged = bytes;
    damaged[i] = static_cast<char>(damaged[i] ^ 0x10);
    REQUIRE_FALSE(check_record(damaged.data(), damaged.size()).has_value());
  }
  REQUIRE_FALSE(check_record(bytes.data(), bytes.size() - 1).has_value());
}

TEST_CASE("segment header and file names round-trip", "[journal][format]") {
  auto h = encode_segment_header({12, 34});
  REQUIRE(h.size() == segment_header_size);
  auto back = decode_segment_header(h);
  REQUIRE(back.has_value());
  REQUIRE(back->epoch == 12);
  REQUIRE(back->segment == 34);
  h[20] ^= 1;
  REQUIRE_FALSE(decode_segment_header(h).has_value());
  auto name = segment_file_name(12, 34);
  REQUIRE(name == "journal-0000000012-0000000034.log");
  std::uint64_t e = 0, s = 0;
  REQUIRE(parse_segment_file_name(name, e, s));
  REQUIRE(e == 12);
  REQUIRE(s == 34);
  REQUIRE_FALSE(parse_segment_file_name("journal-00000000x2-0000000034.log", e, s));
}

TEST_CASE("the FORMAT.md worked example encodes byte for byte", "[journal][format]") {
  std::string out;
  auto start = begin_record(out);
  encode_ref(out, 7, "/queue/a");
  end_record(out, start, record_type::ref_added);
  const unsigned char expected[] = {0xa9, 0x23, 0x20, 0x69, 0x14, 0x00, 0x00, 0x00, 0x02, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00,
                                    0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x2f, 0x71, 0x75, 0x65, 0x75, 0x65, 0x2f, 0x61};
  REQUIRE(out == std::string(reinterpret_cast<const char*>(expected), sizeof expected));
}
