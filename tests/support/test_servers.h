#pragma once
/// For the proxy tests and benchmarks: a real server program (redis-server,
/// PostgreSQL) run as a child process, an in-process server's accept loop, and a plain
/// client socket.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace fb::testing {

class ServerProcess {
 public:
  /// Starts `args` (the program found on PATH), its stderr discarded (a server that
  /// fails shows as one that never answers), and polls `answers` every `interval`,
  /// `tries` times, until it returns true. `stop` is the signal the destructor sends.
  ServerProcess(std::vector<std::string> args, const std::function<bool()>& answers, int tries,
                std::chrono::milliseconds interval, int stop = SIGKILL)
      : stop_(stop) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    if (::posix_spawnp(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    for (int i = 0; i < tries && pid_ > 0 && !ready_; ++i) {
      ready_ = answers();
      if (!ready_) std::this_thread::sleep_for(interval);
    }
  }
  ~ServerProcess() {
    if (pid_ > 0) {
      ::kill(pid_, stop_);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  bool ready() const { return ready_; }

 private:
  pid_t pid_ = -1;
  int stop_;
  bool ready_ = false;
};

/// A listener on an ephemeral port of 127.0.0.1 and a thread accepting on it. Each
/// connection goes to `serve`, which closes it: on a thread of its own when
/// `concurrent`, else in turn on the accepting thread. Declare it after whatever
/// `serve` uses, so that it stops first.
class AcceptLoop {
 public:
  AcceptLoop(std::function<void(int)> serve, bool concurrent) : serve_(std::move(serve)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 16);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this, concurrent] {
      for (;;) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        if (concurrent)
          std::thread(serve_, c).detach();
        else
          serve_(c);
      }
    });
  }
  ~AcceptLoop() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  AcceptLoop(const AcceptLoop&) = delete;
  AcceptLoop& operator=(const AcceptLoop&) = delete;
  std::uint16_t port() const { return port_; }

 private:
  std::function<void(int)> serve_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

/// A socket connected to 127.0.0.1:port whose reads and writes give up after
/// `seconds`, or -1.
inline int dial_local(std::uint16_t port, int seconds = 5) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{seconds, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace fb::testing
