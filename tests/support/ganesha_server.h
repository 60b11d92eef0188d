#pragma once
// A real NFS-Ganesha server for C++ tests, run through tests/support/ganesha.py in its
// `serve --control stdin` mode: this process writes commands (freeze, thaw, kill, restart) to
// the harness's stdin and reads "ok <command>" back. The harness stops the server when its
// stdin closes, so a test that crashes takes its server with it. Every wait is bounded.
//
// TANDEM_SOURCE_DIR (a compile definition) locates the harness.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>

extern char** environ;

namespace tandem::test {

class ganesha_server {
 public:
  // protocols: "4" or "3,4".
  explicit ganesha_server(const std::string& protocols = "3,4") {
    char tmpl[] = "/tmp/tandem-nfs-test-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    std::filesystem::create_directories(export_dir());
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    std::string script = std::string(TANDEM_SOURCE_DIR) + "/tests/support/ganesha.py";
    std::string exp = export_dir(), work = dir_ + "/work";
    const char* argv[] = {"/usr/bin/python3", script.c_str(), "serve", exp.c_str(), "--protocols", protocols.c_str(),
                          "--workdir", work.c_str(), "--control", "stdin", nullptr};
    int rc = ::posix_spawn(&pid_, argv[0], &fa, nullptr, const_cast<char**>(argv), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(in[0]);
    ::close(out[1]);
    to_ = in[1];
    from_ = out[0];
    if (rc != 0) {
      pid_ = -1;
      cleanup();
      throw std::runtime_error("cannot start /usr/bin/python3 " + script);
    }
    try {
      for (;;) {
        std::string line = read_line(std::chrono::seconds(30));
        if (line == "ready") break;
        if (line.rfind("url3 ", 0) == 0) url3_ = line.substr(5);
        if (line.rfind("url4 ", 0) == 0) url4_ = line.substr(5);
        if (line.rfind("pid ", 0) == 0) server_pid_ = std::stoi(line.substr(4));
      }
    } catch (...) {
      cleanup();  // a throwing constructor runs no destructor
      throw;
    }
  }

  ~ganesha_server() { cleanup(); }

 private:
  void cleanup() {
    if (to_ >= 0) {
      (void)!::write(to_, "stop\n", 5);
      ::close(to_);
    }
    // Bounded wait for the harness (it stops ganesha by PID), then kill it by PID.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    int st = 0;
    while (pid_ > 0 && ::waitpid(pid_, &st, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &st, 0);
        if (server_pid_ > 0) ::kill(server_pid_, SIGKILL);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (from_ >= 0) ::close(from_);
    to_ = from_ = -1;
    pid_ = -1;
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

 public:
  ganesha_server(const ganesha_server&) = delete;
  ganesha_server& operator=(const ganesha_server&) = delete;

  // The export root, with Tandem's timeout (ms) appended.
  std::string url(int version, int timeout_ms = 1000) const {
    const std::string& u = version == 4 ? url4_ : url3_;
    if (u.empty()) throw std::runtime_error("NFSv" + std::to_string(version) + " not served");
    return u + "&timeout=" + std::to_string(timeout_ms);
  }
  std::string export_dir() const { return dir_ + "/export"; }

  void freeze() { command("freeze"); }
  void thaw() { command("thaw"); }
  void kill() { command("kill"); }
  void restart() { command("restart"); }

 private:
  void command(const std::string& cmd) {
    std::string line = cmd + "\n";
    if (::write(to_, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
      throw std::runtime_error("ganesha harness gone");
    for (;;) {
      std::string answer = read_line(std::chrono::seconds(30));
      if (answer.rfind("pid ", 0) == 0) {
        server_pid_ = std::stoi(answer.substr(4));  // after a restart
        continue;
      }
      if (answer != "ok " + cmd) throw std::runtime_error("ganesha harness: " + cmd + ": " + answer);
      if (cmd == "kill") server_pid_ = -1;
      return;
    }
  }

  std::string read_line(std::chrono::seconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) throw std::runtime_error("ganesha harness: no answer in time");
      pollfd p{from_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      ssize_t n = ::read(from_, buf, sizeof buf);
      if (n <= 0) throw std::runtime_error("ganesha harness exited (see its log under " + dir_ + "/work)");
      buffer_.append(buf, static_cast<std::size_t>(n));
    }
  }

  std::string dir_;
  pid_t pid_ = -1;
  int server_pid_ = -1;
  int to_ = -1, from_ = -1;
  std::string buffer_;
  std::string url3_, url4_;
};

}  // namespace tandem::test
