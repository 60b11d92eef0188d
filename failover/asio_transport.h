#pragma once
// The real transports and timers: TCP and TLS (OpenSSL through asio::ssl) on an io_context.
//
// TLS: TLS 1.2 or newer; the server's certificate is verified against tls.ca_file (or the
// system trust store) and its host name (SNI is sent) unless verifyPeer=false; a client
// certificate is presented when certFile/keyFile are set. The files are loaded when the
// factory is made, so a missing or bad file is reported before any connection is tried.

#include <memory>

#include <asio/io_context.hpp>

#include "common/result.h"
#include "failover/connection.h"
#include "failover/transport.h"

namespace tandem::failover {

// Errors: errc::tls_error naming the file and OpenSSL's reason.
result<std::shared_ptr<transport_factory>> make_asio_transports(asio::io_context& io, const failover_options& o);
std::shared_ptr<scheduler> make_asio_scheduler(asio::io_context& io);

// The usual way to make the asynchronous connection: real transports and timers on `io`.
// Call start() on it from the io_context's thread (or before running it).
result<std::shared_ptr<connection>> make_connection(asio::io_context& io, failover_options o);

}  // namespace tandem::failover
