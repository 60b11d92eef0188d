#include "broker/http_connections.h"

#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cstdlib>

namespace tandem::broker {
namespace {

std::uint16_t local_port(const sockaddr_storage& a) {
  if (a.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(a).sin_port);
  if (a.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(a).sin6_port);
  return 0;
}

}  // namespace

std::size_t shut_down_connections(std::uint16_t port) {
  DIR* dir = ::opendir("/proc/self/fd");
  if (!dir) return 0;
  const int own = ::dirfd(dir);
  std::size_t count = 0;
  while (const dirent* e = ::readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || fd == own) continue;
    struct stat st {};
    if (::fstat(static_cast<int>(fd), &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getsockname(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&addr), &len) != 0) continue;
    if (local_port(addr) != port) continue;
    len = sizeof addr;
    if (::getpeername(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&addr), &len) != 0) continue;  // listening
    if (::shutdown(static_cast<int>(fd), SHUT_RDWR) == 0) ++count;
  }
  ::closedir(dir);
  return count;
}

}  // namespace tandem::broker
