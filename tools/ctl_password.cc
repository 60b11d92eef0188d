// tandem-ctl hash-password, and reading a password from the terminal without echo.

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>

#include "auth/password.h"
#include "tools/ctl_commands.h"

namespace tandem::ctl {
namespace {

// Reads one line from the terminal with echo off; restores the terminal even on error.
bool read_hidden_line(const std::string& prompt, std::string& out) {
  int fd = ::open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  termios old{};
  bool have_termios = ::tcgetattr(fd, &old) == 0;
  if (have_termios) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    ::tcsetattr(fd, TCSAFLUSH, &quiet);
  }
  (void)!::write(fd, prompt.data(), prompt.size());
  out.clear();
  char c;
  bool got = false;
  while (::read(fd, &c, 1) == 1) {
    got = true;
    if (c == '\n') break;
    out += c;
  }
  if (have_termios) ::tcsetattr(fd, TCSAFLUSH, &old);
  ::close(fd);
  if (!out.empty() && out.back() == '\r') out.pop_back();
  return got;
}

}  // namespace

std::string prompt_password(const std::string& prompt) {
  std::string pw;
  if (!::isatty(STDIN_FILENO) || !read_hidden_line(prompt, pw)) return {};
  return pw;
}

int cmd_hash_password(std::uint32_t iterations) {
  if (iterations < auth::min_iterations) {
    std::fprintf(stderr, "tandem-ctl: --iterations must be at least %u\n", auth::min_iterations);
    return exit_usage;
  }
  std::string password;
  if (::isatty(STDIN_FILENO)) {
    std::string again;
    if (!read_hidden_line("Password: ", password) || !read_hidden_line("Same password again: ", again)) {
      std::fprintf(stderr, "tandem-ctl: cannot read the password from the terminal\n");
      return exit_usage;
    }
    if (password != again) {
      std::fprintf(stderr, "tandem-ctl: the two passwords differ; nothing printed\n");
      return exit_usage;
    }
  } else {
    // From a pipe or a file: the first line, without its line ending.
    std::getline(std::cin, password);
    if (!password.empty() && password.back() == '\r') password.pop_back();
  }
  if (password.empty()) {
    std::fprintf(stderr, "tandem-ctl: empty password; nothing printed\n");
    return exit_usage;
  }
  std::printf("%s\n", auth::hash_password(password, iterations).c_str());
  return exit_ok;
}

}  // namespace tandem::ctl
