// The quickstart's HTTP API in front of the key-value store (one request at a time):
//   PUT /kv/<key>  body = value  -> 201 "stored", or 503 when the store cannot be reached
//   GET /kv/<key>                -> 200 value | 404
//   GET /health                  -> 200 "ok"
// It finds the store at $FAULTBOX_KV_MAIN_ADDR (host:port), which faultbox sets. It has
// a planted bug for the quickstart to catch: when the store answers "ERR ..." to a SET,
// the API still says 201 "stored".
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

/// One request line to the store, one reply line back; "" when the store is unreachable.
std::string ask_store(const std::string& request) {
  const char* addr = std::getenv("FAULTBOX_KV_MAIN_ADDR");
  if (!addr) return "";
  std::string text = addr;
  std::size_t colon = text.rfind(':');
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (colon == std::string::npos ||
      ::getaddrinfo(text.substr(0, colon).c_str(), text.substr(colon + 1).c_str(), &hints,
                    &found) != 0)
    return "";
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  bool connected = ::connect(fd, found->ai_addr, found->ai_addrlen) == 0;
  ::freeaddrinfo(found);
  std::string reply;
  if (connected) {
    std::string line = request + "\n";
    (void)!::write(fd, line.data(), line.size());
    char c;
    while (::read(fd, &c, 1) == 1 && c != '\n') reply += c;
  }
  ::close(fd);
  return reply;
}

void answer(int client, int status, const std::string& body) {
  const char* reason = status == 200   ? "OK"
                       : status == 201 ? "Created"
                       : status == 404 ? "Not Found"
                                       : "Service Unavailable";
  std::string response =
      "HTTP/1.1 " + std::to_string(status) + " " + reason +
      "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nConnection: close\r\n\r\n" + body;
  (void)!::write(client, response.data(), response.size());
}

void serve(int client) {
  std::string request;
  char chunk[4096];
  std::size_t head_end;
  while ((head_end = request.find("\r\n\r\n")) == std::string::npos) {
    ssize_t n = ::read(client, chunk, sizeof chunk);
    if (n <= 0) return;
    request.append(chunk, static_cast<std::size_t>(n));
  }
  std::string method = request.substr(0, request.find(' '));
  std::size_t path_start = method.size() + 1;
  std::string path = request.substr(path_start, request.find(' ', path_start) - path_start);
  std::size_t length = 0;
  if (auto at = request.find("Content-Length: "); at != std::string::npos)
    length = std::strtoul(request.c_str() + at + 16, nullptr, 10);
  std::string body = request.substr(head_end + 4);
  while (body.size() < length) {
    ssize_t n = ::read(client, chunk, sizeof chunk);
    if (n <= 0) break;
    body.append(chunk, static_cast<std::size_t>(n));
  }
  if (path == "/health") return answer(client, 200, "ok");
  if (path.rfind("/kv/", 0) != 0) return answer(client, 404, "no such route");
  std::string key = path.substr(4);
  if (method == "PUT") {
    std::string reply = ask_store("SET " + key + " " + body);
    if (reply.empty()) return answer(client, 503, "store unreachable");
    // The planted bug: "ERR ..." from the store is not checked.
    return answer(client, 201, "stored");
  }
  std::string reply = ask_store("GET " + key);
  if (reply.empty()) return answer(client, 503, "store unreachable");
  if (reply.rfind("VALUE ", 0) == 0) return answer(client, 200, reply.substr(6));
  return answer(client, 404, "not found");
}

}  // namespace

int main() {
  // A client that goes away before its reply is written (a proxy's connection cut when a
  // test ends, a timed-out caller) must cost that reply, not the server: without this,
  // the write raises SIGPIPE and the process dies.
  std::signal(SIGPIPE, SIG_IGN);
  const char* port = std::getenv("PORT");
  if (!port) {
    std::fprintf(stderr, "api: set PORT\n");
    return 2;
  }
  int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(std::atoi(port)));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(server, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(server, 16) != 0) {
    std::fprintf(stderr, "api: cannot listen on %s\n", port);
    return 1;
  }
  for (;;) {
    int client = ::accept4(server, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    serve(client);
    ::close(client);
  }
}
