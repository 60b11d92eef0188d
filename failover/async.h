#pragma once
// Completion-token forms of the connection's operations, for applications built on Asio:
//
//   auto conn = *failover::make_connection(io, *failover::parse_uri(uri));
//   failover::async_start(*conn, [](std::error_code ec) { ... });                 // a handler
//   std::future<void> f = failover::async_send(*conn, "/queue/q", "body", {}, asio::use_future);
//   co_await failover::async_send(*conn, "/queue/q", "body", {}, asio::use_awaitable);
//
// Each completes with void(std::error_code) — a code of failover_category() — on the
// connection's io_context thread. Like the connection's own functions they must be initiated
// on that thread (post to it first from elsewhere). The sentence that goes with an error is
// available from the completion-handler forms in connection.h.

#include <memory>
#include <string>
#include <system_error>

#include <asio/async_result.hpp>

#include "failover/connection.h"

namespace tandem::failover {

namespace detail {
// connection takes std::function (copyable); completion handlers may be move-only.
template <typename Handler>
completion to_completion(Handler&& handler) {
  auto shared = std::make_shared<std::decay_t<Handler>>(std::forward<Handler>(handler));
  return [shared](error e) { std::move(*shared)(e.code); };
}
}  // namespace detail

template <typename Token>
auto async_start(connection& c, Token&& token) {
  return asio::async_initiate<Token, void(std::error_code)>(
      [&c](auto handler) { c.start(detail::to_completion(std::move(handler))); }, token);
}

template <typename Token>
auto async_send(connection& c, std::string destination, std::string body, headers extra, Token&& token) {
  return asio::async_initiate<Token, void(std::error_code)>(
      [&c](auto handler, std::string d, std::string b, headers h) {
        c.send(std::move(d), std::move(b), std::move(h), detail::to_completion(std::move(handler)));
      },
      token, std::move(destination), std::move(body), std::move(extra));
}

template <typename Token>
auto async_subscribe(connection& c, subscription_spec spec, message_handler on_message, Token&& token) {
  return asio::async_initiate<Token, void(std::error_code)>(
      [&c](auto handler, subscription_spec s, message_handler m) {
        c.subscribe(std::move(s), std::move(m), detail::to_completion(std::move(handler)));
      },
      token, std::move(spec), std::move(on_message));
}

template <typename Token>
auto async_commit(connection& c, std::string transaction, Token&& token) {
  return asio::async_initiate<Token, void(std::error_code)>(
      [&c](auto handler, std::string t) { c.commit(t, detail::to_completion(std::move(handler))); }, token,
      std::move(transaction));
}

template <typename Token>
auto async_close(connection& c, Token&& token) {
  return asio::async_initiate<Token, void(std::error_code)>(
      [&c](auto handler) { c.close(detail::to_completion(std::move(handler))); }, token);
}

}  // namespace tandem::failover
