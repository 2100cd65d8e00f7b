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
//   inventory PORT STOCK buggy|fixed
//                      an HTTP inventory of one item: POST /reserve/QTY answers 200 or
//                      409 and prints a JSON line with the stock; GET /stock. "buggy"
//                      oversells by one and quietly puts the stock back (see inventory());
//                      POST /restock/MS adds one MS milliseconds later; every line is printed
//                      100 ms after the change it logs
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
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

/// Reads one request from `client`: false when it closed before a whole header.
bool read_request(int client, std::string& method, std::string& path, std::string& body) {
  std::string request;
  char buffer[4096];
  std::size_t header_end = std::string::npos;
  while (header_end == std::string::npos) {
    ssize_t n = ::read(client, buffer, sizeof buffer);
    if (n <= 0) return false;
    request.append(buffer, static_cast<std::size_t>(n));
    header_end = request.find("\r\n\r\n");
  }
  method = request.substr(0, request.find(' '));
  std::size_t path_start = method.size() + 1;
  path = request.substr(path_start, request.find(' ', path_start) - path_start);
  std::size_t length = 0;
  if (auto at = request.find("Content-Length: "); at != std::string::npos)
    length = std::strtoul(request.c_str() + at + 16, nullptr, 10);
  body = request.substr(header_end + 4);
  while (body.size() < length) {
    ssize_t n = ::read(client, buffer, sizeof buffer);
    if (n <= 0) break;
    body.append(buffer, static_cast<std::size_t>(n));
  }
  return true;
}

int listen_on(int port) {
  int server = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(server, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(server, 16) != 0)
    return std::fprintf(stderr, "listen: %s\n", strerrorname_np(errno)), -1;
  return server;
}

/// Accepts connections on 127.0.0.1:PORT one at a time, reads one request from each and
/// gives it to `handle`, which answers; then closes the connection.
int serve(int port,
          const std::function<void(int client, const std::string& method, const std::string& path,
                                   const std::string& body)>& handle) {
  int server = listen_on(port);
  if (server < 0) return 1;
  for (;;) {
    int client = ::accept(server, nullptr, nullptr);
    if (client < 0) continue;
    std::string method, path, body;
    if (read_request(client, method, path, body)) handle(client, method, path, body);
    ::close(client);
  }
}

/// Prints each line 100 ms after it is queued, in order, from a thread of its own: the
/// inventory logs its changes well after it answered, so that a test's step has its
/// answer before a monitor can judge the line (and cancel the test).
class LateLog {
 public:
  LateLog() {
    std::thread([this] {
      std::unique_lock lock(mutex_);
      for (;;) {
        changed_.wait(lock, [&] { return !lines_.empty(); });
        auto [due, line] = lines_.front();
        lines_.pop_front();
        lock.unlock();
        std::this_thread::sleep_until(due);
        std::fputs(line.c_str(), stdout);
        lock.lock();
      }
    }).detach();
  }
  void add(std::string line) {
    std::lock_guard lock(mutex_);
    lines_.emplace_back(std::chrono::steady_clock::now() + std::chrono::milliseconds(100),
                        std::move(line));
    changed_.notify_one();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::pair<std::chrono::steady_clock::time_point, std::string>> lines_;
};

std::string stock_line(const char* event, long qty, long stock) {
  return "{\"event\":\"" + std::string(event) + "\",\"qty\":" + std::to_string(qty) +
         ",\"stock\":" + std::to_string(stock) + "}\n";
}

/// The inventory of one item, with a planted bug in "buggy" mode: a reservation is
/// admitted when qty <= stock + 1, so stock can go to -1. A reconciler puts a negative
/// stock back to 0 500 ms later, so that the final stock, and every answer, look right:
/// only the stock line the service logs at the moment shows the oversell.
int inventory(int port, long stock, bool buggy) {
  std::mutex mutex;
  LateLog log;
  return serve(port, [&](int client, const std::string& method, const std::string& path,
                         const std::string&) {
    std::lock_guard lock(mutex);
    if (method == "GET" && path == "/health") {
      answer(client, 200, "ok");
    } else if (method == "GET" && path == "/stock") {
      answer(client, 200, std::to_string(stock));
    } else if (method == "POST" && path.starts_with("/reserve/")) {
      long qty = std::atol(path.c_str() + 9);
      bool admitted = buggy ? qty <= stock + 1 : qty <= stock;
      if (admitted) stock -= qty;
      answer(client, admitted ? 200 : 409, admitted ? "reserved" : "out of stock");
      log.add(stock_line(admitted ? "reserved" : "rejected", qty, stock));
      if (stock < 0)
        std::thread([&mutex, &stock, &log] {
          std::this_thread::sleep_for(std::chrono::milliseconds(500));
          std::lock_guard later(mutex);
          if (stock >= 0) return;
          stock = 0;
          log.add(stock_line("reconciled", 0, stock));
        }).detach();
    } else if (method == "POST" && path.starts_with("/restock/")) {
      // Later, from a thread of its own: something the test can only wait for.
      long ms = std::atol(path.c_str() + 9);
      answer(client, 200, "restocking");
      std::thread([&mutex, &stock, &log, ms] {
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
        std::lock_guard later(mutex);
        ++stock;
        log.add(stock_line("restocked", 1, stock));
      }).detach();
    } else {
      answer(client, 404, "no such thing");
    }
  });
}

int http_server(int port, const char* wal) {
  return serve(port, [&](int client, const std::string& method, const std::string& path,
                         const std::string& body) {
    char buffer[4096];
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
  });
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
  if (mode == "inventory" && argc == 5)
    return inventory(std::atoi(argv[2]), std::atol(argv[3]), std::string(argv[4]) == "buggy");
  std::fprintf(stderr,
               "usage: probe threads N PATH | connect PORT | fsync PATH | escape MARKER | "
               "tree PIDFILE | loop N PATH | spin N | http PORT [WAL] | "
               "inventory PORT STOCK buggy|fixed\n");
  return 2;
}
