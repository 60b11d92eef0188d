#include "broker/stomp_security.h"

#include <asio/post.hpp>

#include <algorithm>
#include <thread>

#include "common/log.h"

namespace tandem::broker {

std::string printable(std::string_view login) {
  constexpr std::size_t max_shown = 128;
  std::string out(login.substr(0, max_shown));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  if (login.size() > max_shown) out += "...";
  return out;
}

namespace {

// One PBKDF2 keeps a core busy for tens of milliseconds. The event loop needs a core of its
// own, so the pool takes what is left, at most two (a storm of distinct first logins is rare:
// the cache answers every repeat).
std::size_t worker_threads() {
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  return std::clamp<std::size_t>(cores - 1, 1, 2);
}

}  // namespace

stomp_security::stomp_security(bool enabled, auth::user_directory& users, security_stats& stats)
    : enabled_(enabled), users_(users), stats_(stats) {
  if (enabled_) workers_ = std::make_unique<asio::thread_pool>(worker_threads());
}

stomp_security::~stomp_security() { stop(); }

void stomp_security::stop() {
  if (!workers_) return;
  workers_->stop();
  workers_->join();
}

const auth::user* stomp_security::cached_login(std::string_view login, std::string_view passcode) {
  return users_.authenticate_cached(login, passcode);
}

void stomp_security::check_login(std::string login, std::string passcode, asio::any_io_executor reply_to,
                                 login_done done) {
  asio::post(*workers_, [this, login = std::move(login), passcode = std::move(passcode),
                         reply_to = std::move(reply_to), done = std::move(done)]() mutable {
    const auth::user* u = users_.authenticate(login, passcode);
    asio::post(reply_to, [u, done = std::move(done)] { done(u); });
  });
}

std::string stomp_security::refuse_login(std::string_view login, std::string_view peer) {
  stats_.stomp_auth_failures.fetch_add(1, std::memory_order_relaxed);
  if (login.empty()) {
    log::info("security", "STOMP login from {} refused: no login header", peer);
    return "login required";
  }
  // The log may say which part was wrong; the client may not.
  const std::string who = printable(login);
  log::info("security", "STOMP login from {} refused for user '{}': {}", peer, who,
            users_.find(login) ? "wrong passcode" : "no such user");
  return "login failed for user '" + who + "'";
}

void stomp_security::accepted_login(std::string_view login, std::string_view peer) {
  stats_.stomp_logins.fetch_add(1, std::memory_order_relaxed);
  log::debug("security", "STOMP login from {} as user '{}'", peer, login);
}

std::string stomp_security::deny(const auth::user& u, bool write, std::string_view destination,
                                 std::string_view peer) {
  stats_.stomp_denials.fetch_add(1, std::memory_order_relaxed);
  std::string message = "user '" + u.name + "' may not " + (write ? "write to " : "read from ") + std::string(destination);
  log::info("security", "{} refused for user '{}' from {}: {}", write ? "SEND" : "SUBSCRIBE", u.name, peer, message);
  return message;
}

}  // namespace tandem::broker
