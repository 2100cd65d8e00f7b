// The quickstart's key-value store: a TCP server speaking one line per request.
//   SET key value   -> OK          (appended to the write-ahead log, write + fsync, first)
//   GET key         -> VALUE value | NOTFOUND
//   PING            -> PONG
// A SET whose log write or fsync fails answers "ERR wal: <errno name>" and changes
// nothing: durability first. Listens on 127.0.0.1:$PORT; the log is $WAL.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

namespace {

std::string handle(const std::string& line, std::map<std::string, std::string>& data, int wal) {
  if (line == "PING") return "PONG";
  if (line.rfind("GET ", 0) == 0) {
    auto it = data.find(line.substr(4));
    return it == data.end() ? "NOTFOUND" : "VALUE " + it->second;
  }
  if (line.rfind("SET ", 0) == 0) {
    std::string rest = line.substr(4);
    std::size_t space = rest.find(' ');
    if (space == std::string::npos) return "ERR usage: SET key value";
    std::string record = rest + "\n";
    if (::write(wal, record.data(), record.size()) != static_cast<ssize_t>(record.size()) ||
        ::fsync(wal) != 0)
      return std::string("ERR wal: ") + strerrorname_np(errno);
    data[rest.substr(0, space)] = rest.substr(space + 1);
    return "OK";
  }
  return "ERR unknown command";
}

}  // namespace

int main() {
  // A client that goes away before its reply is written (a proxy's connection cut when a
  // test ends, a timed-out caller) must cost that reply, not the server: without this,
  // the write raises SIGPIPE and the process dies.
  std::signal(SIGPIPE, SIG_IGN);
  const char* port = std::getenv("PORT");
  const char* wal_path = std::getenv("WAL");
  if (!port || !wal_path) {
    std::fprintf(stderr, "kvstore: set PORT and WAL\n");
    return 2;
  }
  int wal = ::open(wal_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (wal < 0) {
    std::fprintf(stderr, "kvstore: cannot open %s: %s\n", wal_path, std::strerror(errno));
    return 1;
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
    std::fprintf(stderr, "kvstore: cannot listen on %s: %s\n", port, std::strerror(errno));
    return 1;
  }
  std::map<std::string, std::string> data;
  for (;;) {
    int client = ::accept4(server, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    std::string buffer;
    char chunk[4096];
    for (;;) {
      ssize_t n = ::read(client, chunk, sizeof chunk);
      if (n <= 0) break;
      buffer.append(chunk, static_cast<std::size_t>(n));
      std::size_t eol;
      while ((eol = buffer.find('\n')) != std::string::npos) {
        std::string line = buffer.substr(0, eol);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        buffer.erase(0, eol + 1);
        std::string reply = handle(line, data, wal) + "\n";
        (void)!::write(client, reply.data(), reply.size());
      }
    }
    ::close(client);
  }
}
