// What the proxy costs a connection: round trips of small messages (added latency) and
// a bulk transfer (throughput), each straight to the server and through the tcp and
// HTTP filters of a proxy::Manager. The server is a thread in this process, so the
// numbers compare like with like on one machine.
//
//   build/tests/bench/proxy_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <benchmark/benchmark.h>

#include <string>
#include <thread>

#include "proxy/proxy.h"
#include "tests/support/test_servers.h"

namespace {

/// A server on a thread: per connection, answers every HTTP request it reads with a
/// 512-byte body, or (bulk mode) reads and discards everything.
class Server {
 public:
  explicit Server(bool bulk) : bulk_(bulk) {}
  std::uint16_t port() const { return loop_.port(); }

 private:
  void serve(int c) {
    static const std::string body(512, 'x');
    static const std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: 512\r\n\r\n" + body;
    std::string buf;
    char chunk[65536];
    for (ssize_t n; (n = ::read(c, chunk, sizeof chunk)) > 0;) {
      if (bulk_) continue;
      buf.append(chunk, static_cast<std::size_t>(n));
      for (std::size_t end; (end = buf.find("\r\n\r\n")) != std::string::npos;) {
        buf.erase(0, end + 4);
        (void)!::write(c, answer.data(), answer.size());
      }
    }
    ::close(c);
  }
  bool bulk_;
  fb::testing::AcceptLoop loop_{[this](int c) {
                                  int on = 1;
                                  ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
                                  serve(c);
                                },
                                true};
};

int dial(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return -1;
  return fd;
}

/// The port to dial: the server itself (0), or a proxy with the tcp (1) or HTTP (2)
/// filter in front of it.
std::uint16_t route(int how, std::uint16_t server, fb::proxy::Manager& proxies) {
  if (how == 0) return server;
  std::string error;
  auto port = proxies.listen(
      "bench", {"svc", how == 1 ? "raw" : "web", how == 1 ? "tcp" : "http", "127.0.0.1", server},
      error);
  return port ? *port : 0;
}

const char* kNames[] = {"direct", "tcp_proxy", "http_proxy"};

void BM_RoundTrip(benchmark::State& state) {
  int how = static_cast<int>(state.range(0));
  Server server(false);
  fb::runtime::EventLog log(false);
  fb::proxy::Manager proxies(log, 1);
  int fd = dial(route(how, server.port(), proxies));
  const std::string request = "GET /item HTTP/1.1\r\nHost: bench\r\n\r\n";
  std::string reply(4096, '\0');
  const std::size_t want =
      std::string("HTTP/1.1 200 OK\r\nContent-Length: 512\r\n\r\n").size() + 512;
  for (auto _ : state) {
    (void)!::write(fd, request.data(), request.size());
    std::size_t got = 0;
    while (got < want) {
      ssize_t n = ::read(fd, reply.data(), reply.size());
      if (n <= 0) {
        state.SkipWithError("connection closed");
        break;
      }
      got += static_cast<std::size_t>(n);
    }
  }
  ::close(fd);
  state.SetLabel(kNames[how]);
}
BENCHMARK(BM_RoundTrip)->Arg(0)->Arg(1)->Arg(2)->UseRealTime();

void BM_Bulk(benchmark::State& state) {
  int how = static_cast<int>(state.range(0));
  Server server(true);
  fb::runtime::EventLog log(false);
  fb::proxy::Manager proxies(log, 1);
  int fd = dial(route(how, server.port(), proxies));
  // A request head with a body as long as the run: the HTTP filter frames it as one.
  if (how == 2) {
    std::string head =
        "POST /upload HTTP/1.1\r\nHost: bench\r\nContent-Length: 1000000000000\r\n\r\n";
    (void)!::write(fd, head.data(), head.size());
  }
  std::string block(1 << 16, 'b');
  for (auto _ : state) {
    std::size_t sent = 0;
    while (sent < block.size()) {
      ssize_t n = ::write(fd, block.data() + sent, block.size() - sent);
      if (n <= 0) {
        state.SkipWithError("write failed");
        break;
      }
      sent += static_cast<std::size_t>(n);
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(block.size()));
  ::close(fd);
  state.SetLabel(kNames[how]);
}
BENCHMARK(BM_Bulk)->Arg(0)->Arg(1)->Arg(2)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
