#include "broker/tls_context.h"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace tandem::broker {
namespace {

// The reasons OpenSSL queued for the last failed call, oldest first; clears the queue so the
// next call's failure is not mixed with this one's.
std::string openssl_reasons() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(e);
    std::string text = reason ? reason : fmt::format("error {:#x}", e);
    if (out.find(text) != std::string::npos) continue;
    out += (out.empty() ? "" : "; ") + text;
  }
  return out.empty() ? "no reason given" : out;
}

tandem::error file_error(std::string_view key, const std::string& path, std::string_view why) {
  return {std::make_error_code(std::errc::invalid_argument), fmt::format("{} '{}': {}", key, path, why)};
}

// The whole file, or an error naming it. OpenSSL's own "system library" message for a
// missing file does not say which file or why; errno does.
result<std::string> read_file(std::string_view key, const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return file_error(key, path, "cannot read: it is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) return file_error(key, path, fmt::format("cannot read: {}", std::strerror(errno)));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The node runs unattended: never let OpenSSL prompt on a terminal for a passphrase.
int refuse_passphrase(char*, int, int, void*) { return 0; }

}  // namespace

tandem::error configure_tls_server(SSL_CTX* native, const config::tls_t& cfg, bool verify_clients) {
  ERR_clear_error();
  // TLS 1.0 and 1.1 are deprecated (RFC 8996); compression invites CRIME.
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_ALL | SSL_OP_NO_COMPRESSION | SSL_OP_SINGLE_DH_USE);
  SSL_CTX_set_default_passwd_cb(native, refuse_passphrase);
  // No TLS 1.3 session tickets: the broker keeps no session cache to resume from, and a ticket
  // arriving after the handshake makes clients that read and write one TLS socket from two
  // threads (stomp.py does) race inside OpenSSL ("decryption failed or bad record mac").
  SSL_CTX_set_num_tickets(native, 0);

  auto cert_text = read_file("tls.cert_file", cfg.cert_file);
  if (!cert_text) return cert_text.err();
  if (SSL_CTX_use_certificate_chain_file(native, cfg.cert_file.c_str()) != 1) {
    return file_error("tls.cert_file", cfg.cert_file,
                      fmt::format("not a PEM certificate chain ({})", openssl_reasons()));
  }

  auto key_text = read_file("tls.key_file", cfg.key_file);
  if (!key_text) return key_text.err();
  if (SSL_CTX_use_PrivateKey_file(native, cfg.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    std::string reasons = openssl_reasons();
    // OpenSSL compares the key with the certificate as it loads it.
    if (reasons.find("key values mismatch") != std::string::npos) {
      return file_error("tls.key_file", cfg.key_file,
                        fmt::format("does not match the certificate in tls.cert_file '{}'", cfg.cert_file));
    }
    if (key_text->find("ENCRYPTED") != std::string::npos) {
      return file_error("tls.key_file", cfg.key_file,
                        "the key is encrypted and there is no way to give its passphrase; "
                        "store it unencrypted (openssl pkey -in KEY -out NEW_KEY) with mode 0600");
    }
    return file_error("tls.key_file", cfg.key_file, fmt::format("not a PEM private key ({})", reasons));
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return file_error("tls.key_file", cfg.key_file,
                      fmt::format("does not match the certificate in tls.cert_file '{}' ({})", cfg.cert_file,
                                  openssl_reasons()));
  }

  if (verify_clients && !cfg.ca_file.empty()) {
    auto ca_text = read_file("tls.ca_file", cfg.ca_file);
    if (!ca_text) return ca_text.err();
    if (SSL_CTX_load_verify_locations(native, cfg.ca_file.c_str(), nullptr) != 1) {
      return file_error("tls.ca_file", cfg.ca_file,
                        fmt::format("not a PEM CA certificate bundle ({})", openssl_reasons()));
    }
    // Tell clients which CAs are accepted, so one holding several certificates picks right.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(cfg.ca_file.c_str())) {
      SSL_CTX_set_client_CA_list(native, names);
    }
    ERR_clear_error();
    SSL_CTX_set_verify(native, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  } else {
    SSL_CTX_set_verify(native, SSL_VERIFY_NONE, nullptr);
  }
  return {};
}

result<std::unique_ptr<asio::ssl::context>> make_tls_context(const config::tls_t& cfg) {
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  if (auto err = configure_tls_server(ctx->native_handle(), cfg, /*verify_clients=*/true)) return err;
  return ctx;
}

}  // namespace tandem::broker
