#pragma once
// The HA peer link: how a standby learns quickly that the active's process is gone.
//
// Every node listens on listeners.ha and holds the connections made to it. A standby keeps a
// connection to the active's HA address (from the lease record). When that connection closes
// it reconnects at once; "connection refused" is positive evidence that no process listens
// there any more (a live process, even a frozen one, keeps its listening socket and the kernel
// still accepts for it), so the standby may take over without waiting the whole lease TTL.
// Anything else (a timeout, an unreachable host) proves nothing: the lease TTL decides.
//
// Single-threaded on the node's event loop.

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "broker/config.h"
#include "common/result.h"

namespace tandem::broker {

class ha_link {
 public:
  struct target {
    std::uint64_t epoch = 0;
    std::string address;  // "host:port" of the active's HA listener
    bool operator==(const target&) const = default;
  };
  using dead_fn = std::function<void(std::uint64_t epoch)>;

  explicit ha_link(asio::io_context& io);
  ~ha_link();
  ha_link(const ha_link&) = delete;
  ha_link& operator=(const ha_link&) = delete;

  tandem::error listen(const endpoint& where);
  // Called on every lease observation: the active to watch (nullopt: none, e.g. this node is
  // the active). `on_dead` runs when the active's process is evidently gone.
  void watch(std::optional<target> active, dead_fn on_dead);
  void stop();

 private:
  struct watcher;
  void accept_loop();
  void hold(std::shared_ptr<asio::ip::tcp::socket> s);

  asio::io_context& io_;
  asio::ip::tcp::acceptor acceptor_;
  std::vector<std::weak_ptr<asio::ip::tcp::socket>> held_;
  std::shared_ptr<watcher> watcher_;
};

// Parses "host:port" / "[v6]:port"; nullopt if malformed.
std::optional<asio::ip::tcp::endpoint> parse_tcp_address(const std::string& address);

}  // namespace tandem::broker
