// The proxy core with real sockets: the HTTP probe program as the upstream service, a
// plain socket client as the caller, rules installed and removed while it runs.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "proxy/proxy.h"
#include "tests/support/test_servers.h"

extern char** environ;

namespace fb::proxy {
namespace {

using namespace std::chrono_literals;

int dial(std::uint16_t port) { return fb::testing::dial_local(port, 5); }

/// Sends `request` and reads until the other side closes.
std::string round_trip(std::uint16_t port, const std::string& request) {
  int fd = dial(port);
  if (fd < 0) return "<connect failed>";
  (void)!::write(fd, request.data(), request.size());
  std::string out;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;) out.append(buffer, n);
  ::close(fd);
  return out;
}

std::string get(std::uint16_t port, const std::string& path) {
  return round_trip(port, "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
}

/// The HTTP probe on a port of its own, stopped with the fixture.
class ProbeService {
 public:
  explicit ProbeService(std::uint16_t port) : port_(port) {
    std::string p = std::to_string(port);
    std::vector<std::string> args{FB_SUT_PROBE, "http", p};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::posix_spawn(&pid_, FB_SUT_PROBE, nullptr, nullptr, argv.data(), environ);
    for (int i = 0; i < 500; ++i) {  // until it listens
      int fd = dial(port);
      if (fd >= 0) {
        ::close(fd);
        break;
      }
      std::this_thread::sleep_for(10ms);
    }
  }
  ~ProbeService() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  std::uint16_t port() const { return port_; }

 private:
  std::uint16_t port_;
  pid_t pid_ = -1;
};

Upstream web(std::uint16_t port) { return {"web", "main", "tcp", "127.0.0.1", port}; }

std::vector<runtime::Event> of_type(runtime::EventLog& log, const std::string& type) {
  std::vector<runtime::Event> out;
  for (auto& e : log.snapshot())
    if (e.type == type) out.push_back(e);
  return out;
}

/// Waits until the log has `n` events of `type` (connection events come from the
/// proxy's thread just after the client sees the close).
void await_events(runtime::EventLog& log, const std::string& type, std::size_t n) {
  for (int i = 0; i < 500 && of_type(log, type).size() < n; ++i) std::this_thread::sleep_for(10ms);
}

TEST(Proxy, RelaysBothWaysAndRecordsTheConnection) {
  ProbeService probe(18251);
  runtime::EventLog log;
  Manager proxies(log, 1);
  std::string error;
  auto port = proxies.listen("test", web(probe.port()), error);
  ASSERT_TRUE(port) << error;
  EXPECT_NE(*port, probe.port());
  std::string direct = get(probe.port(), "/health");
  std::string proxied = get(*port, "/health");
  EXPECT_EQ(proxied, direct);
  EXPECT_NE(proxied.find("200 OK"), std::string::npos) << proxied;
  EXPECT_EQ(proxies.listen("test", web(probe.port()), error), port) << "one listener per edge";

  await_events(log, "proxy_conn_close", 1);
  auto opened = of_type(log, "proxy_conn_open");
  auto closed = of_type(log, "proxy_conn_close");
  ASSERT_EQ(opened.size(), 1u);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(opened[0].service, "web");
  EXPECT_EQ(opened[0].text("caller"), "test");
  EXPECT_EQ(opened[0].text("conn_id"), closed[0].text("conn_id"));
  EXPECT_EQ(closed[0].text("bytes_c2s"),
            std::to_string(std::string("GET /health HTTP/1.1\r\nHost: x\r\n\r\n").size()));
  EXPECT_EQ(closed[0].text("bytes_s2c"), std::to_string(direct.size()));
  EXPECT_EQ(closed[0].text("reason"), "server_eof");
}

TEST(Proxy, TcpRulesDecideOnTheFirstBytesOfEachConnection) {
  ProbeService probe(18252);
  runtime::EventLog log;
  Manager proxies(log, 1);
  std::string error;
  auto port = proxies.listen("test", web(probe.port()), error);
  ASSERT_TRUE(port) << error;

  Rule drop;
  drop.action = Rule::Action::kDrop;
  drop.method = "GET /orders";
  drop.text = "drop(method=\"GET /orders\")";
  auto set = proxies.install("web", "main", {drop});
  EXPECT_EQ(get(*port, "/orders/1"), "") << "dropped: closed without an answer";
  EXPECT_NE(get(*port, "/health").find("200 OK"), std::string::npos) << "other requests pass";
  auto counts = proxies.hits(set);
  ASSERT_EQ(counts.size(), 1u);
  EXPECT_EQ(counts[0].matches, 1u);
  EXPECT_EQ(counts[0].fires, 1u);

  // A window inside: respond wins while it is installed, the drop returns after.
  Rule respond;
  respond.action = Rule::Action::kRespond;
  respond.body = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";
  respond.text = "response(status=503)";
  auto inner = proxies.install("web", "main", {respond});
  EXPECT_EQ(get(*port, "/orders/2"), respond.body);
  EXPECT_TRUE(proxies.remove(inner));
  EXPECT_FALSE(proxies.remove(inner));
  EXPECT_EQ(get(*port, "/orders/3"), "");
  EXPECT_EQ(proxies.hits(inner).size(), 1u) << "counters outlive the set";
  EXPECT_TRUE(proxies.remove(set));
  EXPECT_NE(get(*port, "/orders/4").find("200 OK"), std::string::npos) << "pass-through again";

  await_events(log, "proxy_conn_close", 5);
  auto fired = of_type(log, "proxy");
  ASSERT_EQ(fired.size(), 3u);
  EXPECT_EQ(fired[0].text("action"), "drop");
  EXPECT_EQ(fired[0].text("first_bytes"), "GET /orders/1 HTTP/1.1\\x0d\\x0aHost: x\\x0d")
      << "32 bytes at most";
  EXPECT_EQ(fired[1].text("action"), "respond");
  std::vector<std::string> reasons;
  for (const auto& e : of_type(log, "proxy_conn_close")) reasons.push_back(e.text("reason"));
  EXPECT_EQ(reasons[0], "rule_drop");
  EXPECT_EQ(reasons[2], "rule_respond");
}

TEST(Proxy, DelaysHoldTheFirstBytesAndNthSelectsAMatch) {
  ProbeService probe(18253);
  runtime::EventLog log;
  Manager proxies(log, 1);
  std::string error;
  auto port = proxies.listen("test", web(probe.port()), error);
  ASSERT_TRUE(port) << error;
  Rule slow;
  slow.action = Rule::Action::kDelay;
  slow.delay = 300ms;
  slow.nth = 2;
  slow.text = "delay(delay=\"300ms\", nth=2)";
  proxies.install("web", "main", {slow});
  auto timed = [&] {
    auto start = std::chrono::steady_clock::now();
    std::string reply = get(*port, "/health");
    EXPECT_NE(reply.find("200 OK"), std::string::npos);
    return std::chrono::steady_clock::now() - start;
  };
  timed();
  EXPECT_GE(timed(), 300ms) << "the second connection is held";
  await_events(log, "proxy", 1);
  auto fired = of_type(log, "proxy");
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].text("delay_ms"), "300");
}

TEST(Proxy, SourceLimitsARuleToOneCallersEdge) {
  ProbeService probe(18254);
  runtime::EventLog log;
  Manager proxies(log, 1);
  std::string error;
  auto from_test = proxies.listen("test", web(probe.port()), error);
  auto from_api = proxies.listen("api", web(probe.port()), error);
  ASSERT_TRUE(from_test && from_api) << error;
  EXPECT_NE(*from_test, *from_api);
  Rule drop;
  drop.action = Rule::Action::kDrop;
  drop.source = "api";
  drop.text = "drop()";
  proxies.install("web", "main", {drop});
  EXPECT_EQ(get(*from_api, "/x"), "");
  EXPECT_NE(get(*from_test, "/x").find("200 OK"), std::string::npos);
}

TEST(Proxy, AServiceThatIsDownClosesTheCallersConnectionOnly) {
  runtime::EventLog log;
  Manager proxies(log, 1);
  std::string error;
  auto port = proxies.listen("test", web(18255), error);  // nothing listens there
  ASSERT_TRUE(port) << error;
  EXPECT_EQ(get(*port, "/"), "");
  await_events(log, "proxy_conn_close", 1);
  auto closed = of_type(log, "proxy_conn_close");
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_TRUE(closed[0].text("reason").starts_with("connect_error")) << closed[0].text("reason");
  // The proxy still serves once the service is up.
  ProbeService probe(18255);
  EXPECT_NE(get(*port, "/health").find("200 OK"), std::string::npos);
}

TEST(Proxy, ServerSpeaksFirstAndHalfClosesPassThrough) {
  // A server that greets before the client says anything, then echoes until EOF.
  int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(server, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ::listen(server, 4);
  socklen_t len = sizeof a;
  ::getsockname(server, reinterpret_cast<sockaddr*>(&a), &len);
  std::uint16_t server_port = ntohs(a.sin_port);
  std::thread echo([server] {
    int c = ::accept(server, nullptr, nullptr);
    (void)!::write(c, "HELLO\n", 6);
    char buffer[256];
    for (ssize_t n; (n = ::read(c, buffer, sizeof buffer)) > 0;) (void)!::write(c, buffer, n);
    (void)!::write(c, "BYE\n", 4);  // after the client's EOF: the half-close went through
    ::close(c);
  });
  runtime::EventLog log;
  Manager proxies(log, 1);
  std::string error;
  auto port = proxies.listen("test", {"greeter", "main", "tcp", "127.0.0.1", server_port}, error);
  ASSERT_TRUE(port) << error;
  int fd = dial(*port);
  ASSERT_GE(fd, 0);
  char greeting[6] = {};
  ASSERT_EQ(::read(fd, greeting, sizeof greeting), 6) << "the greeting needs no client bytes";
  EXPECT_EQ(std::string(greeting, 6), "HELLO\n");
  (void)!::write(fd, "ping\n", 5);
  ::shutdown(fd, SHUT_WR);
  std::string rest;
  char buffer[256];
  for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;) rest.append(buffer, n);
  EXPECT_EQ(rest, "ping\nBYE\n");
  ::close(fd);
  echo.join();
  ::close(server);
}

TEST(Proxy, ManyConcurrentConnectionsAndClosingAService) {
  ProbeService probe(18256);
  runtime::EventLog log;
  Manager proxies(log, 1);
  std::string error;
  auto port = proxies.listen("test", web(probe.port()), error);
  ASSERT_TRUE(port) << error;
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int i = 0; i < 40; ++i)
    clients.emplace_back([&] {
      if (get(*port, "/health").find("200 OK") != std::string::npos) ++ok;
    });
  for (auto& c : clients) c.join();
  EXPECT_EQ(ok.load(), 40);
  // A held connection is cut when its service's proxies close, and the port is freed.
  int held = dial(*port);
  ASSERT_GE(held, 0);
  proxies.close_service("web");
  char byte;
  EXPECT_LE(::read(held, &byte, 1), 0);
  ::close(held);
  EXPECT_EQ(dial(*port), -1) << "nothing listens there any more";
  auto again = proxies.listen("test", web(probe.port()), error);
  ASSERT_TRUE(again) << error;
  EXPECT_NE(get(*again, "/health").find("200 OK"), std::string::npos);
}

constexpr std::string_view kSwitched = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\n\r\n";

/// A keep-alive HTTP/1.1 server on a thread: answers each request with 200 and
/// "<METHOD> <path> <body bytes>", honours Expect: 100-continue, switches to an echo
/// after a request for /upgrade, and notes every request line it saw.
class KeepAliveServer {
 public:
  std::uint16_t port() const { return loop_.port(); }
  std::vector<std::string> seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }

 private:
  void serve(int c) {
    std::string buf;
    char chunk[4096];
    auto fill = [&] {
      ssize_t n = ::read(c, chunk, sizeof chunk);
      if (n <= 0) return false;
      buf.append(chunk, static_cast<std::size_t>(n));
      return true;
    };
    for (;;) {
      std::size_t end;
      while ((end = buf.find("\r\n\r\n")) == std::string::npos)
        if (!fill()) return;
      std::string head = buf.substr(0, end);
      buf.erase(0, end + 4);
      std::string line = head.substr(0, head.find("\r\n"));
      {
        std::lock_guard lock(mutex_);
        seen_.push_back(line);
      }
      std::string method = line.substr(0, line.find(' '));
      std::string path = line.substr(method.size() + 1, line.rfind(' ') - method.size() - 1);
      std::size_t length = 0;
      if (auto at = head.find("Content-Length: "); at != std::string::npos)
        length = std::stoul(head.substr(at + 16));
      if (head.find("Expect: 100-continue") != std::string::npos)
        (void)!::write(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
      std::size_t body = 0;
      if (head.find("Transfer-Encoding: chunked") != std::string::npos) {
        // Sizes only: enough for a test's well-formed chunks.
        for (;;) {
          std::size_t eol;
          while ((eol = buf.find("\r\n")) == std::string::npos)
            if (!fill()) return;
          std::size_t size = std::stoul(buf.substr(0, eol), nullptr, 16);
          buf.erase(0, eol + 2);
          while (buf.size() < size + 2)
            if (!fill()) return;
          buf.erase(0, size + 2);
          body += size;
          if (size == 0) break;
        }
      } else {
        while (buf.size() < length)
          if (!fill()) return;
        buf.erase(0, length);
        body = length;
      }
      if (path == "/upgrade") {
        (void)!::write(c, kSwitched.data(), kSwitched.size());
        if (!buf.empty()) (void)!::write(c, buf.data(), buf.size());
        for (ssize_t n; (n = ::read(c, chunk, sizeof chunk)) > 0;) (void)!::write(c, chunk, n);
        return;
      }
      std::string text = method + " " + path + " " + std::to_string(body);
      std::string answer =
          "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(text.size()) + "\r\n\r\n" + text;
      (void)!::write(c, answer.data(), answer.size());
    }
  }

  std::mutex mutex_;
  std::vector<std::string> seen_;
  // One connection at a time; last, so that it stops before the rest goes.
  fb::testing::AcceptLoop loop_{[this](int c) {
                                  serve(c);
                                  ::close(c);
                                },
                                false};
};

/// Reads from `fd` until `count` answers (each ending with its Content-Length body) or
/// the end of the connection.
std::string read_answers(int fd, int count) {
  std::string out;
  char buffer[4096];
  int complete = 0;
  while (complete < count) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) break;
    out.append(buffer, static_cast<std::size_t>(n));
    complete = 0;
    for (std::size_t at = 0; (at = out.find("Content-Length: ", at)) != std::string::npos;) {
      std::size_t length = std::stoul(out.substr(at + 16));
      std::size_t body = out.find("\r\n\r\n", at);
      if (body == std::string::npos || out.size() < body + 4 + length) break;
      ++complete;
      at = body + 4 + length;
    }
  }
  return out;
}

Upstream http_upstream(std::uint16_t port) { return {"api", "http", "http", "127.0.0.1", port}; }

Rule http_rule(Rule::Action action, std::string path, std::string text) {
  Rule r;
  r.action = action;
  r.path = std::move(path);
  r.text = std::move(text);
  return r;
}

TEST(ProxyHttp, PipelinedAnswersStayInOrderWhenARuleAnswersOne) {
  KeepAliveServer server;
  runtime::EventLog log;
  Manager proxies(log, 1);
  std::string error;
  auto port = proxies.listen("test", http_upstream(server.port()), error);
  ASSERT_TRUE(port) << error;
  Rule fail = http_rule(Rule::Action::kError, "/orders/*", "error(status=503)");
  fail.status = 503;
  fail.method = "POST";
  proxies.install("api", "http", {fail});
  int fd = dial(*port);
  ASSERT_GE(fd, 0);
  std::string three =
      "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /orders/7 HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody"
      "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
  (void)!::write(fd, three.data(), three.size());
  std::string answers = read_answers(fd, 3);
  ::close(fd);
  auto a = answers.find("GET /a 0");
  auto b = answers.find("HTTP/1.1 503 Service Unavailable");
  auto c = answers.find("POST /c 3");
  ASSERT_NE(a, std::string::npos) << answers;
  ASSERT_NE(b, std::string::npos) << answers;
  ASSERT_NE(c, std::string::npos) << answers;
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_NE(answers.find("{\"error\":\"injected fault\"}"), std::string::npos) << answers;
  EXPECT_EQ(server.seen(), (std::vector<std::string>{"GET /a HTTP/1.1", "POST /c HTTP/1.1"}))
      << "the answered request never reached the service; the chunked one did, whole";
  await_events(log, "proxy", 1);
  auto fired = of_type(log, "proxy");
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].text("path"), "/orders/7");
  EXPECT_EQ(fired[0].text("status"), "503");
}

TEST(ProxyHttp, DropDelayAndExpectContinue) {
  KeepAliveServer server;
  runtime::EventLog log;
  Manager proxies(log, 1);
  std::string error;
  auto port = proxies.listen("test", http_upstream(server.port()), error);
  ASSERT_TRUE(port) << error;
  Rule slow = http_rule(Rule::Action::kDelay, "/slow", "delay(delay=\"200ms\")");
  slow.delay = 200ms;
  proxies.install("api", "http",
                  {http_rule(Rule::Action::kDrop, "/gone", "drop(path=\"/gone\")"), slow});
  EXPECT_EQ(round_trip(*port, "GET /gone HTTP/1.1\r\nHost: x\r\n\r\n"), "");
  auto start = std::chrono::steady_clock::now();
  int fd = dial(*port);
  std::string req = "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n";
  (void)!::write(fd, req.data(), req.size());
  EXPECT_NE(read_answers(fd, 1).find("GET /slow 0"), std::string::npos);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 200ms);
  // Expect: 100-continue: the interim answer comes through, then the body goes on.
  std::string head =
      "PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n";
  (void)!::write(fd, head.data(), head.size());
  char interim[25] = {};
  ASSERT_EQ(::read(fd, interim, sizeof interim), 25);
  EXPECT_EQ(std::string(interim, 25), "HTTP/1.1 100 Continue\r\n\r\n");
  (void)!::write(fd, "hello", 5);
  EXPECT_NE(read_answers(fd, 1).find("PUT /up 5"), std::string::npos);
  ::close(fd);
}

TEST(ProxyHttp, MalformedBytesCloseThatConnectionOnly) {
  KeepAliveServer server;
  runtime::EventLog log;
  Manager proxies(log, 1);
  std::string error;
  auto port = proxies.listen("test", http_upstream(server.port()), error);
  ASSERT_TRUE(port) << error;
  EXPECT_EQ(round_trip(*port, "NOT HTTP AT ALL\r\n\r\n"), "");
  EXPECT_EQ(round_trip(*port,
                       "POST / HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: "
                       "chunked\r\n\r\n"),
            "")
      << "a smuggling-shaped request is refused";
  int fd = dial(*port);
  std::string ok = "GET /fine HTTP/1.1\r\nHost: x\r\n\r\n";
  (void)!::write(fd, ok.data(), ok.size());
  EXPECT_NE(read_answers(fd, 1).find("GET /fine 0"), std::string::npos);
  ::close(fd);
  await_events(log, "proxy_malformed", 2);
  auto bad = of_type(log, "proxy_malformed");
  ASSERT_EQ(bad.size(), 2u);
  EXPECT_EQ(bad[0].text("direction"), "request");
  EXPECT_EQ(bad[1].text("error"), "both Transfer-Encoding and Content-Length");
}

TEST(ProxyHttp, AnUpgradedConnectionCarriesPlainBytes) {
  KeepAliveServer server;
  runtime::EventLog log;
  Manager proxies(log, 1);
  std::string error;
  auto port = proxies.listen("test", http_upstream(server.port()), error);
  ASSERT_TRUE(port) << error;
  int fd = dial(*port);
  std::string req = "GET /upgrade HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\n\r\n";
  (void)!::write(fd, req.data(), req.size());
  std::string switched(kSwitched.size(), '\0');
  ASSERT_EQ(::read(fd, switched.data(), switched.size()), static_cast<ssize_t>(kSwitched.size()));
  EXPECT_EQ(switched, kSwitched);
  (void)!::write(fd, "\x01\x02raw", 5);
  char echoed[5] = {};
  ASSERT_EQ(::read(fd, echoed, sizeof echoed), 5);
  EXPECT_EQ(std::string(echoed, 5), "\x01\x02raw");
  ::close(fd);
}

/// A real redis-server on `port`, without persistence, stopped with the object.
class RedisServer {
 public:
  explicit RedisServer(std::uint16_t port)
      : port_(port),
        process_(
            {"redis-server", "--port", std::to_string(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--protected-mode", "no"},
            [port] {
              int fd = dial(port);
              if (fd >= 0) ::close(fd);
              return fd >= 0;
            },
            500, 10ms) {}
  bool ready() const { return process_.ready(); }
  std::uint16_t port() const { return port_; }

 private:
  std::uint16_t port_;
  fb::testing::ServerProcess process_;
};

/// A RESP command as an array of bulk strings.
std::string command(std::initializer_list<std::string> words) {
  std::string out = "*" + std::to_string(words.size()) + "\r\n";
  for (const auto& w : words) out += "$" + std::to_string(w.size()) + "\r\n" + w + "\r\n";
  return out;
}

/// Reads from `fd` until `want` bytes have arrived (or the connection ends).
std::string read_exactly(int fd, std::size_t want) {
  std::string out;
  char buffer[4096];
  while (out.size() < want) {
    ssize_t n = ::read(fd, buffer, std::min(sizeof buffer, want - out.size()));
    if (n <= 0) break;
    out.append(buffer, static_cast<std::size_t>(n));
  }
  return out;
}

Upstream redis_upstream(std::uint16_t port) {
  return {"cache", "main", "redis", "127.0.0.1", port};
}

TEST(ProxyRedis, RulesAnswerCommandsInOrderAndTheRestReachesRedis) {
  RedisServer redis(18271);
  ASSERT_TRUE(redis.ready()) << "redis-server (tools/bootstrap installs it) did not start";
  runtime::EventLog log;
  Manager proxies(log, 1);
  std::string error;
  auto port = proxies.listen("test", redis_upstream(redis.port()), error);
  ASSERT_TRUE(port) << error;
  Rule oom;
  oom.action = Rule::Action::kError;
  oom.command = "SET";
  oom.key = "orders:*";
  oom.message = "OOM command not allowed when used memory > 'maxmemory'.";
  oom.text = "error(command=\"SET\", key=\"orders:*\")";
  Rule miss;
  miss.action = Rule::Action::kRespond;
  miss.command = "GET";
  miss.key = "cached";
  miss.text = "response(command=\"GET\", key=\"cached\")";
  auto set = proxies.install("cache", "main", {oom, miss});
  int fd = dial(*port);
  ASSERT_GE(fd, 0);
  // Pipelined: the server's answers and the rules' answers come back in order.
  std::string batch = command({"SET", "orders:1", "x"}) + command({"SET", "users:1", "ann"}) +
                      command({"GET", "cached"}) + command({"GET", "users:1"}) + "PING\r\n";
  (void)!::write(fd, batch.data(), batch.size());
  std::string want =
      "-OOM command not allowed when used memory > 'maxmemory'.\r\n+OK\r\n$-1\r\n"
      "$3\r\nann\r\n+PONG\r\n";
  EXPECT_EQ(read_exactly(fd, want.size()), want);
  proxies.remove(set);
  std::string get = command({"GET", "orders:1"});
  (void)!::write(fd, get.data(), get.size());
  EXPECT_EQ(read_exactly(fd, 5), "$-1\r\n") << "the refused SET never reached redis";
  ::close(fd);
  auto counts = proxies.hits(set);
  ASSERT_EQ(counts.size(), 2u);
  EXPECT_EQ(counts[0].fires, 1u);
  EXPECT_EQ(counts[1].fires, 1u);
  await_events(log, "proxy", 2);
  auto fired = of_type(log, "proxy");
  ASSERT_EQ(fired.size(), 2u);
  EXPECT_EQ(fired[0].text("command"), "SET");
  EXPECT_EQ(fired[0].text("key"), "orders:1");
}

TEST(ProxyRedis, PubSubPassesThroughAndMalformedClosesOneConnection) {
  RedisServer redis(18272);
  ASSERT_TRUE(redis.ready()) << "redis-server (tools/bootstrap installs it) did not start";
  runtime::EventLog log;
  Manager proxies(log, 1);
  std::string error;
  auto port = proxies.listen("test", redis_upstream(redis.port()), error);
  ASSERT_TRUE(port) << error;
  int sub = dial(*port);
  std::string subscribe = command({"SUBSCRIBE", "news"});
  (void)!::write(sub, subscribe.data(), subscribe.size());
  std::string confirmed = "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n";
  EXPECT_EQ(read_exactly(sub, confirmed.size()), confirmed);
  int pub = dial(*port);
  std::string publish = command({"PUBLISH", "news", "hello"});
  (void)!::write(pub, publish.data(), publish.size());
  EXPECT_EQ(read_exactly(pub, 4), ":1\r\n");
  std::string message = "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n";
  EXPECT_EQ(read_exactly(sub, message.size()), message);
  ::close(sub);
  EXPECT_EQ(round_trip(*port, "*x\r\n"), "") << "not RESP: closed";
  (void)!::write(pub, "PING\r\n", 6);
  EXPECT_EQ(read_exactly(pub, 7), "+PONG\r\n") << "other connections go on";
  ::close(pub);
  await_events(log, "proxy_malformed", 1);
  EXPECT_EQ(of_type(log, "proxy_malformed").size(), 1u);
}

TEST(ProxyHttp, AHeadThatNeverCompletesIsClosedButAnIdleConnectionIsNot) {
  ProbeService probe(18277);
  runtime::EventLog log;
  Manager proxies(log, 1);
  std::string error;
  Upstream upstream{"web", "main", "http", "127.0.0.1", probe.port(), 300ms};
  auto port = proxies.listen("test", upstream, error);
  ASSERT_TRUE(port) << error;
  // A slowloris client: a head begun and never finished.
  int slow = dial(*port);
  int idle = dial(*port);
  ASSERT_GE(slow, 0);
  ASSERT_GE(idle, 0);
  std::string part = "GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ";
  ASSERT_EQ(::write(slow, part.data(), part.size()), static_cast<ssize_t>(part.size()));
  auto started = std::chrono::steady_clock::now();
  char byte;
  EXPECT_EQ(::read(slow, &byte, 1), 0) << "closed";
  auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_GE(waited, 250ms);
  EXPECT_LT(waited, 10s);
  ::close(slow);
  await_events(log, "proxy_conn_close", 1);
  auto closed = of_type(log, "proxy_conn_close");
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].text("reason"), "head_timeout");
  // The connection that sent nothing is still open, and still works.
  std::string request = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::write(idle, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  std::string reply;
  char buffer[256];
  for (ssize_t n; (n = ::read(idle, buffer, sizeof buffer)) > 0;) reply.append(buffer, n);
  ::close(idle);
  EXPECT_NE(reply.find("200 OK"), std::string::npos) << reply;
}

TEST(ProxyGlob, FollowsTheReferenceSemantics) {
  EXPECT_TRUE(glob_match("", "anything"));
  EXPECT_TRUE(glob_match("GET", "get")) << "no '*': case-insensitive exact";
  EXPECT_FALSE(glob_match("GET", "GETS"));
  EXPECT_TRUE(glob_match("/api/*", "/api/v1")) << "one segment";
  EXPECT_TRUE(glob_match("/api/*", "/api/v1/orders")) << "a trailing '*' also tests a prefix";
  EXPECT_TRUE(glob_match("*", "/a/b"));
  EXPECT_TRUE(glob_match("*.wal", "/data/x.wal")) << "a leading '*' also tests a suffix";
  EXPECT_TRUE(glob_match("INSERT*", "INSERT INTO t VALUES (1)"));
  EXPECT_FALSE(glob_match("insert*", "INSERT INTO t")) << "with '*': case-sensitive";
  EXPECT_FALSE(glob_match("/o?ders", "/orders")) << "without '*', '?' is itself";
  EXPECT_TRUE(glob_match("/o?ders*", "/orders"));
  EXPECT_FALSE(glob_match("/o?ders*", "/orders/1")) << "the prefix fallback is literal";
  EXPECT_FALSE(glob_match("/a?b*", "/a/b")) << "'?' does not match '/'";
  EXPECT_TRUE(glob_match("/v[0-9]/*", "/v2/x"));
  EXPECT_FALSE(glob_match("/v[^0-9]/x*", "/v2/x"));
  EXPECT_TRUE(glob_match("/api/**", "/api/v1")) << "'**' is '*' here, as in the reference";
  EXPECT_FALSE(glob_match("/x/[a-*", "/x/b")) << "a malformed class matches nothing exactly";
  EXPECT_TRUE(glob_match("/x/[a-*", "/x/[a-zz")) << "but still tests as a prefix";
}

}  // namespace
}  // namespace fb::proxy
