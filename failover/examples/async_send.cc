// The asynchronous API: one thread, one io_context, completion handlers and a std::future.
// Built as `failover-async-example`:
//
//   build/failover/failover-async-example 'failover:(stomp://127.0.0.1:61613,stomp://127.0.0.1:61623)'
#include <cstdio>
#include <thread>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/use_future.hpp>
#include <fmt/format.h>

#include "failover/async.h"
#include "failover/asio_transport.h"

namespace fo = tandem::failover;

int main(int argc, char** argv) {
  auto options = fo::parse_uri(argc > 1 ? argv[1] : "failover:(stomp://127.0.0.1:61613,stomp://127.0.0.1:61623)");
  if (!options) return fmt::print(stderr, "{}\n", options.err().describe()), 1;
  asio::io_context io;
  auto conn = fo::make_connection(io, std::move(*options));
  if (!conn) return fmt::print(stderr, "{}\n", conn.err().describe()), 1;
  auto& c = **conn;
  c.on_event([](const fo::event& e) { fmt::print(stderr, "event: {} {}\n", fo::to_string(e.kind), e.endpoint); });

  int receipted = 0;
  fo::async_start(c, [&](std::error_code ec) {
    if (ec) return fmt::print(stderr, "connect: {}\n", ec.message());
    for (int i = 1; i <= 100; ++i)  // pipelined: all 100 are on the wire before the first receipt
      fo::async_send(c, "/queue/async-example", fmt::format("message {}", i), {{"persistent", "true"}},
                     [&](std::error_code e) {
                       if (e) fmt::print(stderr, "send: {}\n", e.message());
                       if (++receipted == 100) fo::async_close(c, [](std::error_code) {});
                     });
  });
  io.run();  // returns once the connection is closed
  fmt::print("{} messages receipted\n", receipted);

  // The same operation with asio::use_future from another thread.
  asio::io_context io2;
  auto conn2 = fo::make_connection(io2, *fo::parse_uri(argc > 1 ? argv[1] : "failover:(stomp://127.0.0.1:61613,stomp://127.0.0.1:61623)"));
  auto work = asio::make_work_guard(io2);
  std::thread runner([&] { io2.run(); });
  auto started = asio::post(io2, asio::use_future([&] { return fo::async_start(**conn2, asio::use_future); }));
  try {
    started.get().get();
    auto sent = asio::post(io2, asio::use_future([&] {
      return fo::async_send(**conn2, "/queue/async-example", "one more", {}, asio::use_future);
    }));
    sent.get().get();  // throws std::system_error on failure
    fmt::print("sent with use_future\n");
  } catch (const std::system_error& e) {
    fmt::print(stderr, "use_future: {}\n", e.what());
  }
  asio::post(io2, [&] { (*conn2)->close(); });
  work.reset();
  runner.join();
  return receipted == 100 ? 0 : 3;
}
