#pragma once
// The failover library's error codes: one std::error_category ("failover") for everything the
// library reports, so an application can compare with `ec == failover::errc::buffer_full`.
//
// Every error the library returns is a tandem::error: one of these codes plus a sentence that
// names what went wrong (which option, which endpoint, the broker's ERROR message).

#include <system_error>

namespace tandem::failover {

enum class errc {
  timed_out = 1,          // no answer before the deadline (or `timeout` passed while disconnected)
  broker_error,           // the broker sent ERROR; the message carries its `message` header
  connection_closed,      // the broker closed the connection
  protocol_error,         // the broker sent something that is not valid STOMP for this state
  not_connected,          // call made before connect() succeeded or after disconnect()
  invalid_uri,            // a URI that does not parse; the message names the offending part
  unknown_option,         // a URI option the library does not know (never silently ignored)
  invalid_option,         // a known option with a value out of range or of the wrong type
  closed,                 // close() was called; every pending operation ends with this
  buffer_full,            // more sends waiting while disconnected than maxBufferedSends
  reconnect_failed,       // maxReconnectAttempts / startupMaxReconnectAttempts exhausted
  transaction_rolled_back,  // the connection failed while the transaction was open
  commit_in_doubt,        // COMMIT (with acks) was in flight when the connection failed
  stale_message,          // ACK/NACK of a message delivered on a connection since lost
  tls_error,              // TLS set-up or handshake failed (bad CA file, verification failed)
};

const std::error_category& failover_category();
std::error_code make_error_code(errc e);

}  // namespace tandem::failover

namespace std {
template <>
struct is_error_code_enum<tandem::failover::errc> : true_type {};
}  // namespace std
