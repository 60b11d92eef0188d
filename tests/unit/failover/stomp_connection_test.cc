// stomp_connection against a scripted in-process STOMP peer: each test states what the broker
// says and checks what the client application sees.

#include <catch2/catch.hpp>

#include <functional>
#include <thread>

#include "failover/stomp_connection.h"
#include "stomp/encoder.h"
#include "stomp/parser.h"

using namespace tandem;
using failover::errc;
using failover::stomp_connection;
using std::chrono::milliseconds;

namespace {

// The broker side of one connection, driven by a script on its own thread. Script failures
// are recorded (Catch assertions are not thread-safe) and checked by the test afterwards.
class scripted_broker {
 public:
  struct peer {
    asio::ip::tcp::socket& socket;
    stomp::parser parser{stomp::limits{}, stomp::version::v1_2};

    stomp::frame read() {
      for (;;) {
        auto r = parser.next();
        if (!r) throw std::runtime_error("bad frame from client: " + r.err().describe());
        if (*r) return std::move(**r);
        char buf[4096];
        std::size_t n = socket.read_some(asio::buffer(buf));  // throws on EOF: client gone
        parser.feed(buf, n);
      }
    }
    void write(const std::string& command, failover::headers headers, std::string body = {}) {
      stomp::frame f{command, std::move(headers), std::move(body)};
      asio::write(socket, asio::buffer(stomp::encode(f, stomp::version::v1_2)));
    }
    // Reads CONNECT and answers CONNECTED 1.2.
    stomp::frame accept_connect() {
      stomp::frame c = read();
      write("CONNECTED", {{"version", "1.2"}, {"heart-beat", "0,0"}});
      return c;
    }
  };

  explicit scripted_broker(std::function<void(peer&)> script)
      : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}), socket_(io_) {
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this, script = std::move(script)] {
      try {
        acceptor_.accept(socket_);
        peer p{socket_};
        script(p);
      } catch (const std::exception& e) {
        failure_ = e.what();
      }
    });
  }
  ~scripted_broker() { finish(); }

  // Waits for the script to end (the client closing its socket ends a blocked read).
  std::string finish() {
    if (thread_.joinable()) thread_.join();
    return failure_;
  }
  std::uint16_t port() const { return port_; }

 private:
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  asio::ip::tcp::socket socket_;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::string failure_;
};

}  // namespace

TEST_CASE("connect offers every version and negotiates 1.2") {
  stomp::frame seen;
  scripted_broker broker([&](auto& p) { seen = p.accept_connect(); });
  stomp_connection c;
  failover::connect_options o;
  o.login = "app";
  o.passcode = "secret";
  REQUIRE_FALSE(c.connect("127.0.0.1", broker.port(), o));
  CHECK(c.version() == stomp::version::v1_2);
  c.close();
  CHECK(broker.finish() == "");
  CHECK(seen.command == "CONNECT");
  CHECK(seen.get("accept-version") == "1.0,1.1,1.2");
  CHECK(seen.get("login") == "app");
  CHECK(seen.get("passcode") == "secret");
}

TEST_CASE("connect refused with ERROR reports the broker's message") {
  scripted_broker broker([](auto& p) {
    p.read();
    p.write("ERROR", {{"message", "bad credentials"}});
  });
  stomp_connection c;
  error e = c.connect("127.0.0.1", broker.port());
  CHECK(e.code == errc::broker_error);
  CHECK_THAT(e.message, Catch::Contains("bad credentials"));
  CHECK_FALSE(c.connected());
}

TEST_CASE("receipts are matched by id when they arrive out of order") {
  scripted_broker broker([](auto& p) {
    p.accept_connect();
    stomp::frame a = p.read();
    stomp::frame b = p.read();
    p.write("RECEIPT", {{"receipt-id", std::string(b.get("receipt"))}});
    p.write("RECEIPT", {{"receipt-id", std::string(a.get("receipt"))}});
    p.read();  // until the client goes away
  });
  stomp_connection c;
  REQUIRE_FALSE(c.connect("127.0.0.1", broker.port()));
  auto first = c.send_async("/queue/a", "one", {{"persistent", "true"}}, true);
  auto second = c.send_async("/queue/a", "two", {{"persistent", "true"}}, true);
  REQUIRE(first);
  REQUIRE(second);
  CHECK(c.pending_receipts() == 2);
  CHECK_FALSE(c.wait_receipt(*first, milliseconds(10000)));
  CHECK_FALSE(c.wait_receipt(*second, milliseconds(10000)));
  CHECK(c.pending_receipts() == 0);
}

TEST_CASE("receive times out and the connection stays usable") {
  std::string acked;
  scripted_broker broker([&](auto& p) {
    p.accept_connect();
    stomp::frame sub = p.read();
    p.write("RECEIPT", {{"receipt-id", std::string(sub.get("receipt"))}});
    p.read();  // the client's SEND says it has seen the timeout
    p.write("MESSAGE", {{"subscription", "s1"}, {"message-id", "m1"}, {"destination", "/queue/a"}, {"ack", "a1"}},
            "hello");
    stomp::frame ack = p.read();
    acked = ack.command + " " + std::string(ack.get("id"));
  });
  stomp_connection c;
  REQUIRE_FALSE(c.connect("127.0.0.1", broker.port()));
  REQUIRE_FALSE(c.subscribe("s1", "/queue/a", "client-individual", {}, true));
  auto nothing = c.receive(milliseconds(20));
  CHECK(nothing.code() == errc::timed_out);
  CHECK(c.connected());
  REQUIRE_FALSE(c.send("/queue/go", "go"));
  auto m = c.receive(milliseconds(10000));
  REQUIRE(m);
  CHECK(m->body == "hello");
  REQUIRE_FALSE(c.ack(*m));
  REQUIRE_FALSE(c.flush());
  c.close();
  CHECK(broker.finish() == "");
  CHECK(acked == "ACK a1");
}

TEST_CASE("a send refused with ERROR reports the broker's message, then the connection is closed") {
  scripted_broker broker([](auto& p) {
    p.accept_connect();
    p.read();
    p.write("ERROR", {{"message", "store is full"}});
  });
  stomp_connection c;
  REQUIRE_FALSE(c.connect("127.0.0.1", broker.port()));
  error e = c.send("/queue/a", "x", {{"persistent", "true"}}, true, milliseconds(10000));
  CHECK(e.code == errc::broker_error);
  CHECK_THAT(e.message, Catch::Contains("store is full"));
  CHECK_FALSE(c.connected());
  CHECK(c.send("/queue/a", "y").code == errc::broker_error);  // later calls keep the reason
}

TEST_CASE("disconnect waits for its receipt") {
  bool receipted = false;
  scripted_broker broker([&](auto& p) {
    p.accept_connect();
    stomp::frame d = p.read();
    p.write("RECEIPT", {{"receipt-id", std::string(d.get("receipt"))}});
    receipted = d.command == "DISCONNECT";
  });
  stomp_connection c;
  REQUIRE_FALSE(c.connect("127.0.0.1", broker.port()));
  CHECK_FALSE(c.disconnect(milliseconds(10000)));
  CHECK_FALSE(c.connected());
  CHECK(broker.finish() == "");
  CHECK(receipted);
}

TEST_CASE("a client blocked in receive sends heart-beats the broker asked for") {
  std::string first_bytes;
  scripted_broker broker([&](auto& p) {
    p.read();
    p.write("CONNECTED", {{"version", "1.2"}, {"heart-beat", "0,50"}});
    char buf[16];
    std::size_t n = p.socket.read_some(asio::buffer(buf));  // raw: the parser hides heart-beats
    first_bytes.assign(buf, n);
    p.write("MESSAGE", {{"subscription", "s1"}, {"message-id", "m1"}, {"destination", "/queue/a"}}, "after beat");
  });
  stomp_connection c;
  failover::connect_options o;
  o.heartbeat_send_ms = 50;
  REQUIRE_FALSE(c.connect("127.0.0.1", broker.port(), o));
  auto m = c.receive(milliseconds(10000));
  REQUIRE(m);
  CHECK(m->body == "after beat");
  c.close();
  CHECK(broker.finish() == "");
  CHECK(first_bytes == "\n");
}
