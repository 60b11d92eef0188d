#pragma once
// The server side of STOMP over TLS (listeners.stomp_ssl) and of HTTPS (listeners.https):
// OpenSSL contexts built once at start from the tls.* configuration keys.
//
// Policy: TLS 1.2 and newer only; the certificate chain and key from tls.cert_file and
// tls.key_file (PEM; an encrypted key is refused rather than prompting on a terminal); with
// tls.ca_file, every client must present a certificate that CA signed, or the handshake fails.
//
// Errors name the file and the reason ("tls.key_file '/etc/tandem/key.pem': not a PEM private
// key (...)", "... does not match the certificate in ..."), so a node with a bad file stops at
// start with a message an operator can act on instead of failing every handshake later.
//
// Threading: the context is built on the node's thread and then only read by the handshakes
// that run on the node's event loop; it must outlive every TLS stream made from it.

#include <asio/ssl/context.hpp>
#include <openssl/ssl.h>

#include <memory>

#include "broker/config.h"
#include "common/result.h"

namespace tandem::broker {

// REQUIRES: cfg.cert_file and cfg.key_file are set (the configuration checks this).
result<std::unique_ptr<asio::ssl::context>> make_tls_context(const config::tls_t& cfg);

// The same policy on a bare OpenSSL context (the HTTPS listener's, which cpp-httplib owns).
// `verify_clients`: require client certificates signed by tls.ca_file when it is set (STOMP);
// HTTPS passes false, its users log in with a password.
tandem::error configure_tls_server(SSL_CTX* ctx, const config::tls_t& cfg, bool verify_clients);

}  // namespace tandem::broker
