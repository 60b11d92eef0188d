#include "broker/service_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "common/log.h"

namespace tandem::broker {
namespace {

// Opens a datagram socket connected to NOTIFY_SOCKET: a path, or "@name" in the abstract
// namespace. -1 (with a warning) when the name cannot be used.
int connect_notify_socket(const std::string& name) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  // A path needs its terminating NUL inside sun_path; an abstract name (its '@' becomes the
  // leading NUL) may fill it.
  const bool abstract = name[0] == '@';
  if (name.size() > sizeof(addr.sun_path) || (!abstract && name.size() >= sizeof(addr.sun_path)) ||
      (name[0] != '/' && !abstract)) {
    log::warn("node", "NOTIFY_SOCKET '{}' is not an absolute path or an @abstract name: systemd is not told "
              "when this node is ready", name);
    return -1;
  }
  std::memcpy(addr.sun_path, name.data(), name.size());
  if (name[0] == '@') addr.sun_path[0] = '\0';
  auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
    log::warn("node", "cannot reach NOTIFY_SOCKET {}: {}: systemd is not told when this node is ready", name,
              std::strerror(errno));
    if (fd >= 0) ::close(fd);
    return -1;
  }
  return fd;
}

// WATCHDOG_USEC, when it is meant for this process (WATCHDOG_PID unset or ours); else 0.
std::chrono::microseconds watchdog_from_environment() {
  const char* usec = std::getenv("WATCHDOG_USEC");
  if (!usec) return std::chrono::microseconds(0);
  if (const char* pid = std::getenv("WATCHDOG_PID"); pid && std::strtoll(pid, nullptr, 10) != ::getpid()) {
    return std::chrono::microseconds(0);
  }
  char* end = nullptr;
  errno = 0;
  long long value = std::strtoll(usec, &end, 10);
  if (end == usec || *end != '\0' || value <= 0 || errno == ERANGE) {
    log::warn("node", "WATCHDOG_USEC '{}' is not a positive number of microseconds: no watchdog pings", usec);
    return std::chrono::microseconds(0);
  }
  return std::chrono::microseconds(value);
}

// A STATUS= value is one line.
std::string one_line(std::string_view text) {
  std::string s(text);
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

}  // namespace

service_notifier::service_notifier(asio::io_context& io) : timer_(io) {
  const char* name = std::getenv("NOTIFY_SOCKET");
  if (!name || !*name) return;
  socket_name_ = name;
  fd_ = connect_notify_socket(socket_name_);
  if (fd_ >= 0) watchdog_ = watchdog_from_environment();
}

service_notifier::~service_notifier() {
  if (fd_ >= 0) ::close(fd_);
}

void service_notifier::role_changed(std::string_view status) {
  if (fd_ < 0) return;
  // READY=1 rides along until a datagram carrying it was sent: a full notify queue must not
  // lose it for good (systemd would time the start out).
  const bool with_ready = !ready_sent_;
  if (send(std::string(with_ready ? "READY=1\n" : "") + "STATUS=" + one_line(status) + "\n") && with_ready) {
    ready_sent_ = true;
  }
}

void service_notifier::slow_phase(bool on) {
  if (fd_ < 0 || watchdog_.count() == 0 || on == slow_) return;
  slow_ = on;
  const auto timeout = on ? std::chrono::duration_cast<std::chrono::microseconds>(kSlowPhaseTimeout) : watchdog_;
  send(fmt::format("WATCHDOG=1\nWATCHDOG_USEC={}\n", timeout.count()));
}

void service_notifier::stopping(std::string_view status) {
  if (fd_ < 0) return;
  timer_.cancel();
  send("STOPPING=1\nSTATUS=" + one_line(status) + "\n");
}

void service_notifier::start_watchdog() {
  if (fd_ < 0 || watchdog_.count() == 0) return;
  log::info("node", "systemd watchdog: pinging every {} ms", watchdog_.count() / 2000);
  ping();
}

void service_notifier::ping() {
  send("WATCHDOG=1\n");
  // Half of systemd's timeout, at most every millisecond (a tiny WATCHDOG_USEC must not spin
  // the event loop) and at least every hour (a huge one must not overflow the timer).
  timer_.expires_after(std::clamp<std::chrono::microseconds>(watchdog_ / 2, std::chrono::milliseconds(1),
                                                             std::chrono::hours(1)));
  timer_.async_wait([this](std::error_code ec) {
    if (!ec) ping();
  });
}

bool service_notifier::send(std::string_view message) {
  // MSG_NOSIGNAL: systemd gone is no reason to die; MSG_DONTWAIT: never block the event loop.
  if (::send(fd_, message.data(), message.size(), MSG_NOSIGNAL | MSG_DONTWAIT) >= 0) return true;
  if (!warned_) {
    warned_ = true;
    log::warn("node", "could not notify systemd through {}: {}", socket_name_, std::strerror(errno));
  }
  return false;
}

}  // namespace tandem::broker
