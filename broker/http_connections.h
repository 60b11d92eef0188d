#pragma once
// Ending the connections of an HTTP listener at once, for a stop bounded in time.
//
// cpp-httplib serves each connection on a pool thread until the client has sent its request
// and read the answer, each read and write bounded only by its own timeout: a client that
// sends a byte every few seconds holds its thread for as long as it likes, and stopping the
// server joins those threads. cpp-httplib gives no handle on the connections it accepted, so
// stop() finds them among the process's descriptors: the TCP sockets whose local port is the
// listener's and that have a peer (accepted connections; the listening socket has none, and
// no outgoing connection can have a port this process listens on). shutdown() makes the
// serving thread's next read or write fail at once; the thread still closes the descriptor
// itself, so a descriptor number is never closed twice.

#include <cstddef>
#include <cstdint>

namespace tandem::broker {

// Shuts down (both directions) every connection accepted on local TCP `port` by this process;
// returns how many. Linux (/proc/self/fd); elsewhere it finds none.
std::size_t shut_down_connections(std::uint16_t port);

}  // namespace tandem::broker
