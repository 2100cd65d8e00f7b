// A system under test with one mode per scenario the syscall tests need:
//   threads N PATH     N threads each append a line to PATH; prints "ok K fail F"; exit F
//   connect PORT       connects to 127.0.0.1:PORT, sends "ping"; prints "connect ok|ERRNO"
//   fsync PATH         opens PATH, writes and fsyncs it; prints "fsync ok|ERRNO"
//   escape MARKER      forks a child that leaves the session (setsid) and calls fsync on
//                      MARKER.sync every 20 ms until it fails; then it writes the errno
//                      name to MARKER and exits. The parent prints "child PID" once the
//                      child has left, and sleeps.
//   tree PIDFILE       forks two children that sleep; writes every pid to PIDFILE; sleeps
//   loop N PATH        writes one byte to PATH N times with pwrite; prints the mean
//                      nanoseconds per call (for the runtime benchmarks)
//   http PORT [WAL]    a one-connection-at-a-time HTTP/1.1 server on 127.0.0.1:PORT:
//                      GET /health answers 200 "ok"; POST appends its body and a
//                      newline to WAL with write+fsync and answers 200 "stored", or
//                      500 "wal: ERRNO" when that fails; anything else answers 200
//                      "<METHOD> <path>". Every answer closes the connection.
//                      POST /later/MS answers 200 "accepted" at once and appends the
//                      body to WAL MS milliseconds later, from a thread of its own;
//                      POST /every/MS appends the body to WAL every MS milliseconds,
//                      from a thread of its own, until the server is stopped.
//                      GET /wal answers WAL's contents; DELETE /wal empties it.
//   spin N             calls getppid N times, a syscall about no file; prints the mean
//                      nanoseconds per call
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

int threads(int count, const char* path) {
  int fd = ::open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd < 0) return std::printf("open %s\n", strerrorname_np(errno)), 100;
  std::atomic<int> ok{0}, failed{0};
  std::vector<std::thread> workers;
  for (int i = 0; i < count; ++i) {
    workers.emplace_back([&, i] {
      std::string line = "thread " + std::to_string(i) + "\n";
      if (::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()))
        ++ok;
      else
        ++failed;
    });
  }
  for (auto& w : workers) w.join();
  std::printf("ok %d fail %d\n", ok.load(), failed.load());
  return failed.load();
}

int connect_to(int port) {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(s, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
    return std::printf("connect %s\n", strerrorname_np(errno)), 1;
  if (::write(s, "ping", 4) != 4) return std::printf("write %s\n", strerrorname_np(errno)), 1;
  std::printf("connect ok\n");
  return 0;
}

void ignore(int) {}

int fsync_file(const char* path) {
  // A handler that restarts calls: a signal during a held fsync must not make a second
  // trapped call of it.
  struct sigaction action {};
  action.sa_handler = ignore;
  action.sa_flags = SA_RESTART;
  ::sigaction(SIGUSR1, &action, nullptr);
  int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return std::printf("open %s\n", strerrorname_np(errno)), 1;
  (void)!::write(fd, "x", 1);
  if (::fsync(fd) != 0) return std::printf("fsync %s\n", strerrorname_np(errno)), 1;
  std::printf("fsync ok\n");
  return 0;
}

int escape(const char* marker) {
  std::string sync_path = std::string(marker) + ".sync";
  int sync_fd = ::open(sync_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  int left[2];
  if (sync_fd < 0 || ::pipe(left) != 0) return 1;
  pid_t child = ::fork();
  if (child == 0) {
    ::setsid();
    ::close(left[0]);
    ::close(left[1]);  // end of file: the parent knows the child has left
    for (;;) {
      if (::fsync(sync_fd) != 0) {
        int fd = ::open(marker, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const char* name = strerrorname_np(errno);
        (void)!::write(fd, name, std::strlen(name));
        ::close(fd);
        ::_exit(0);
      }
      ::usleep(20'000);
    }
  }
  ::close(left[1]);
  char byte;
  while (::read(left[0], &byte, 1) > 0) {
  }
  std::printf("child %d\n", child);
  std::fflush(stdout);
  for (;;) ::pause();
}

int tree(const char* pidfile) {
  std::string pids = std::to_string(::getpid());
  for (int i = 0; i < 2; ++i) {
    pid_t child = ::fork();
    if (child == 0)
      for (;;) ::pause();
    pids += " " + std::to_string(child);
  }
  std::string tmp = std::string(pidfile) + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pids += "\n";
  (void)!::write(fd, pids.data(), pids.size());
  ::close(fd);
  ::rename(tmp.c_str(), pidfile);  // readers never see half a file
  for (;;) ::pause();
}

void answer(int client, int status, const std::string& body) {
  std::string response =
      "HTTP/1.1 " + std::to_string(status) + (status == 200 ? " OK" : " Internal Server Error") +
      "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nConnection: close\r\n\r\n" + body;
  (void)!::write(client, response.data(), response.size());
}

int http_server(int port, const char* wal) {
  int server = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(server, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(server, 16) != 0)
    return std::fprintf(stderr, "listen: %s\n", strerrorname_np(errno)), 1;
  for (;;) {
    int client = ::accept(server, nullptr, nullptr);
    if (client < 0) continue;
    std::string request;
    char buffer[4096];
    std::size_t header_end = std::string::npos;
    while (header_end == std::string::npos) {
      ssize_t n = ::read(client, buffer, sizeof buffer);
      if (n <= 0) break;
      request.append(buffer, static_cast<std::size_t>(n));
      header_end = request.find("\r\n\r\n");
    }
    if (header_end == std::string::npos) {
      ::close(client);
      continue;
    }
    std::string method = request.substr(0, request.find(' '));
    std::size_t path_start = method.size() + 1;
    std::string path = request.substr(path_start, request.find(' ', path_start) - path_start);
    std::size_t length = 0;
    if (auto at = request.find("Content-Length: "); at != std::string::npos)
      length = std::strtoul(request.c_str() + at + 16, nullptr, 10);
    std::string body = request.substr(header_end + 4);
    while (body.size() < length) {
      ssize_t n = ::read(client, buffer, sizeof buffer);
      if (n <= 0) break;
      body.append(buffer, static_cast<std::size_t>(n));
    }
    if (method == "GET" && path == "/health") {
      answer(client, 200, "ok");
    } else if (method == "GET" && path == "/wal" && wal) {
      std::string contents;
      if (int fd = ::open(wal, O_RDONLY); fd >= 0) {
        for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;)
          contents.append(buffer, static_cast<std::size_t>(n));
        ::close(fd);
      }
      answer(client, 200, contents);
    } else if (method == "DELETE" && path == "/wal" && wal) {
      int fd = ::open(wal, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      answer(client, fd >= 0 ? 200 : 500, fd >= 0 ? "emptied" : strerrorname_np(errno));
      if (fd >= 0) ::close(fd);
    } else if (method == "POST" && path.starts_with("/every/") && wal) {
      answer(client, 200, "ticking");
      long ms = std::max(1L, std::atol(path.c_str() + 7));
      std::thread([wal, ms, line = body + "\n"] {
        for (;;) {
          std::this_thread::sleep_for(std::chrono::milliseconds(ms));
          int fd = ::open(wal, O_WRONLY | O_CREAT | O_APPEND, 0644);
          if (fd >= 0) (void)!::write(fd, line.data(), line.size());
          if (fd >= 0) ::close(fd);
        }
      }).detach();
    } else if (method == "POST" && path.starts_with("/later/") && wal) {
      answer(client, 200, "accepted");
      long ms = std::atol(path.c_str() + 7);
      std::thread([wal, ms, line = body + "\n"] {
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
        int fd = ::open(wal, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) (void)!::write(fd, line.data(), line.size());
        if (fd >= 0) ::close(fd);
      }).detach();
    } else if (method == "POST" && wal) {
      int fd = ::open(wal, O_WRONLY | O_CREAT | O_APPEND, 0644);
      std::string line = body + "\n";
      if (fd < 0 || ::write(fd, line.data(), line.size()) < 0 || ::fsync(fd) != 0)
        answer(client, 500, std::string("wal: ") + strerrorname_np(errno));
      else
        answer(client, 200, "stored");
      if (fd >= 0) ::close(fd);
    } else {
      answer(client, 200, method + " " + path);
    }
    ::close(client);
  }
}

int spin(long count) {
  if (count <= 0) return 1;
  auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < count; ++i) (void)::getppid();
  auto elapsed = std::chrono::steady_clock::now() - start;
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count();
  std::printf("%.1f ns/call\n", static_cast<double>(ns) / static_cast<double>(count));
  return 0;
}

int loop(long count, const char* path) {
  int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || count <= 0) return 1;
  // Timed inside the target, so start-up costs of whatever launched it do not count.
  auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < count; ++i) (void)!::pwrite(fd, "x", 1, 0);
  auto elapsed = std::chrono::steady_clock::now() - start;
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count();
  std::printf("%.1f ns/call\n", static_cast<double>(ns) / static_cast<double>(count));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "threads" && argc == 4) return threads(std::atoi(argv[2]), argv[3]);
  if (mode == "connect" && argc == 3) return connect_to(std::atoi(argv[2]));
  if (mode == "fsync" && argc == 3) return fsync_file(argv[2]);
  if (mode == "escape" && argc == 3) return escape(argv[2]);
  if (mode == "tree" && argc == 3) return tree(argv[2]);
  if (mode == "loop" && argc == 4) return loop(std::atol(argv[2]), argv[3]);
  if (mode == "spin" && argc == 3) return spin(std::atol(argv[2]));
  if (mode == "http" && (argc == 3 || argc == 4))
    return http_server(std::atoi(argv[2]), argc == 4 ? argv[3] : nullptr);
  std::fprintf(stderr,
               "usage: probe threads N PATH | connect PORT | fsync PATH | escape MARKER | "
               "tree PIDFILE | loop N PATH | spin N | http PORT [WAL]\n");
  return 2;
}
