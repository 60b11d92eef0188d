#pragma once
// The broker's configuration, loaded from one YAML file per node and validated at start.
// Every key is listed in README.md's configuration reference. An unknown key, a wrong type
// or a bad value is a config_error naming the file, the line and the reason.

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "auth/user_directory.h"

namespace tandem::broker {

struct endpoint {
  std::string host;  // e.g. "127.0.0.1", "0.0.0.0", "::1"
  std::uint16_t port = 0;
  std::string to_string() const;  // "host:port" ("[::1]:port" for IPv6)
};

enum class dlq_strategy { individual, shared };  // DLQ.<name> per queue, or one ActiveMQ.DLQ

struct config {
  std::string source_file;  // where it was loaded from (for messages)

  struct node_t {
    std::string name;  // required; e.g. "node-1"
  } node;

  struct storage_t {
    // Exactly one of path and url: a directory (local disk or a kernel NFS mount), or an
    // nfs:// URL served through libnfs (no kernel mount).
    std::string path;
    std::string url;
    std::uint64_t segment_bytes = 64ull << 20;  // "64MiB"
    std::uint64_t max_bytes = 0;                // store size limit, 0 = unlimited ("10GiB")
    std::uint64_t checkpoint_every_bytes = 256ull << 20;
  } storage;

  struct listeners_t {
    endpoint stomp;  // required
    endpoint http;   // health, readiness, status and (later) the console; port 0 = off
    endpoint ha;     // the peer link a standby uses to notice a crashed active; port 0 = off
    endpoint stomp_ssl;  // STOMP over TLS (needs tls.cert_file and tls.key_file); port 0 = off
    endpoint https;      // the HTTP API and console over TLS (tls.cert_file, tls.key_file); port 0 = off
  } listeners;

  // For listeners.stomp_ssl and listeners.https; every tls key is refused when both are off.
  // The files are checked to be readable when the configuration is loaded; that they are PEM
  // and the key matches the certificate is checked when the node starts (broker/tls_context.h).
  struct tls_t {
    std::string cert_file;  // PEM: the server certificate, then any intermediates
    std::string key_file;   // PEM: its private key, unencrypted
    // PEM CA bundle; when set, STOMP-over-TLS clients MUST present a certificate it signed
    // (HTTPS does not ask for one: the console authenticates its users by password).
    std::string ca_file;
    std::uint32_t handshake_timeout_ms = 10000;  // a client that does not finish the handshake is dropped
  } tls;

  struct http_t {
    // What this node publishes as its console's address (in its status and its lease record,
    // so the peer's console can link to it). Empty: derived from the listeners
    // (public_console_url()).
    std::string public_url;
  } http;

  struct ha_t {
    std::uint32_t lease_ttl_ms = 3000;      // a silent holder is taken over after this
    std::uint32_t renew_interval_ms = 100;  // the holder rewrites its heartbeat this often
    std::uint32_t safety_margin_ms = 500;   // the holder fences itself this long before ttl
    std::uint32_t poll_interval_ms = 50;    // a standby reads the heartbeat this often
    bool fast_takeover = true;              // take over at once when the active's process is gone
    bool exit_on_fence = false;             // after losing the lease: exit (for a supervisor) or stand by
  } ha;

  struct limits_t {
    std::uint64_t max_frame_bytes = 10ull << 20;  // whole frame: headers + body
    std::uint32_t max_headers = 1000;
    std::uint32_t max_header_bytes = 8192;        // one header line
    std::uint32_t max_connections = 10000;
    std::uint64_t max_memory_bytes = 128ull << 20;  // message bodies kept in memory
  } limits;

  struct stomp_t {
    // Heart-beats the broker offers in CONNECTED (ms; 0 disables that direction): it can send
    // one every heartbeat_send_ms, and wants one from the client every heartbeat_receive_ms.
    // Each side then uses the larger of what one offers and the other asks (STOMP 1.1+).
    // 500 ms lets a failover client notice a dead broker within about a second.
    std::uint32_t heartbeat_send_ms = 500;
    std::uint32_t heartbeat_receive_ms = 1000;
    std::uint32_t default_prefetch = 1000;  // when a SUBSCRIBE has no activemq.prefetchSize
  } stomp;

  struct delivery_t {
    std::uint32_t max_redeliveries = 6;  // then to the dead-letter queue (ActiveMQ's default)
    dlq_strategy dead_letter = dlq_strategy::individual;
    std::string shared_dlq = "ActiveMQ.DLQ";
    bool expired_to_dlq = true;          // expired persistent messages go to the DLQ
  } delivery;

  struct log_t {
    std::string level = "info";
  } log;

  // Users for HTTP (always, once any is listed) and STOMP CONNECT (when `enabled`); see
  // broker/ADMIN_API.md. Password hashes are validated when the file is loaded.
  struct security_t {
    bool enabled = false;         // STOMP CONNECT needs the login and passcode of a user
    bool metrics_public = false;  // /metrics without credentials even when users exist
    std::vector<auth::user> users;
  } security;
};

struct config_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The console address this node publishes: http.public_url, else https://HOST:PORT/ of
// listeners.https when that is on, else http://HOST:PORT/ of listeners.http, where a wildcard
// host (0.0.0.0, ::) is replaced by the host of listeners.ha, else by this machine's host
// name. Empty when neither HTTP listener is on.
std::string public_console_url(const config& c);

// Loads and validates; throws config_error("FILE:LINE: KEY: reason").
config load_config(const std::string& path);
// Same, from text (tests); `name` stands in for the file name in messages.
config parse_config(const std::string& yaml_text, const std::string& name);

}  // namespace tandem::broker
