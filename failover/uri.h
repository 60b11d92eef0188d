#pragma once
// Connection URIs and their options.
//
//   stomp://HOST:PORT[?OPTIONS]            one broker, no reconnect
//   stomp+ssl://HOST:PORT[?OPTIONS]        the same over TLS
//   failover:(URI,URI,...)[?OPTIONS]       a list of brokers; reconnects and replays state
//   failover:URI,URI                       the same without parentheses (as ActiveMQ accepts)
//
// Options use ActiveMQ's names and defaults (failover transport) plus the STOMP connection and
// TLS options below; option names are case-sensitive. Options given on a nested URI apply to
// that endpoint only (TLS files, verifyPeer); connection and reconnect options belong on the
// outer failover URI. An unknown option, a malformed value or a malformed URI is an error that
// names the offending part: nothing is silently ignored.
//
// The full table, with defaults, is in failover/README.md.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace tandem::failover {

using std::chrono::milliseconds;

struct tls_options {
  bool verify_peer = true;  // verify the server's certificate chain and host name
  std::string ca_file;      // PEM CA bundle; empty = the system's default trust store
  std::string cert_file;    // PEM client certificate (for brokers that require one)
  std::string key_file;     // PEM private key of cert_file
  bool operator==(const tls_options&) const = default;
};

struct endpoint {
  std::string host;
  std::uint16_t port = 0;
  bool tls = false;  // stomp+ssl://
  tls_options tls_settings;
  // "stomp://host:port" or "stomp+ssl://host:port", as it names the endpoint in events and logs.
  std::string to_string() const;
  bool same_address(const endpoint& o) const { return host == o.host && port == o.port && tls == o.tls; }
};

struct failover_options {
  std::vector<endpoint> endpoints;
  bool failover = false;  // false for a plain stomp:// URI: one attempt, no reconnect

  // Reconnect (ActiveMQ names; defaults as ActiveMQ's failover transport).
  bool randomize = true;                     // randomize
  milliseconds initial_reconnect_delay{10};  // initialReconnectDelay
  milliseconds max_reconnect_delay{30000};   // maxReconnectDelay
  bool use_exponential_backoff = true;       // useExponentialBackOff
  double back_off_multiplier = 2.0;          // backOffMultiplier (>= 1)
  int max_reconnect_attempts = -1;           // maxReconnectAttempts: -1 forever, 0 once, N passes
  int startup_max_reconnect_attempts = -1;   // startupMaxReconnectAttempts: -1 = as above
  milliseconds timeout{-1};                  // timeout: -1 = a send waits forever while disconnected
  bool priority_backup = false;              // priorityBackup
  std::vector<endpoint> priority_uris;       // priorityURIs (default: the first endpoint)
  double reconnect_jitter = 0.2;             // reconnectJitter: delay * (1 - jitter * U[0, 1))
  std::size_t max_buffered_sends = 10000;    // maxBufferedSends: sends held while disconnected

  // The STOMP connection.
  std::string login;                          // login
  std::string passcode;                       // passcode
  std::string client_id;                      // clientId (`client-id`, durable subscriptions)
  std::string vhost;                          // host (the CONNECT `host` header)
  milliseconds heartbeat_send{1000};          // heartBeat=SEND,RECEIVE (ms; 0,0 disables)
  milliseconds heartbeat_receive{500};        //   the broker is declared dead after 2x RECEIVE
  milliseconds connect_timeout{2000};         // connectTimeout: TCP + TLS + CONNECTED per endpoint
  milliseconds priority_check_interval{1000};  // priorityCheckInterval (with priorityBackup)
};

// Parses any of the URI forms above. Errors: errc::invalid_uri, unknown_option, invalid_option,
// with a message such as "failover URI option 'maxReconectAttempts' is unknown".
result<failover_options> parse_uri(std::string_view uri);

}  // namespace tandem::failover
