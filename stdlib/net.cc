#include "stdlib/net.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

namespace fb::stdlib {

using Clock = std::chrono::steady_clock;

namespace {

int millis_left(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(std::min<std::int64_t>(left.count(), 1 << 30));
}

thread_local const std::atomic<bool>* t_cancel = nullptr;

/// Waits for `events` on fd until the deadline; false (and `error`) when time ran out
/// or the thread's CancelScope was cancelled (checked every 50 ms).
bool wait_for(int fd, short events, Clock::time_point deadline, std::string& error) {
  for (;;) {
    if (CancelScope::cancelled()) return error = "cancelled", false;
    pollfd p{fd, events, 0};
    int slice = t_cancel ? std::min(millis_left(deadline), 50) : millis_left(deadline);
    int n = ::poll(&p, 1, slice);
    if (n > 0) return true;
    if (n == 0 && millis_left(deadline) == 0) return error = "timed out", false;
    if (n < 0 && errno != EINTR) return error = std::strerror(errno), false;
  }
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

CancelScope::CancelScope(const std::atomic<bool>* flag) : previous_(t_cancel) { t_cancel = flag; }
CancelScope::~CancelScope() { t_cancel = previous_; }
bool CancelScope::cancelled() { return t_cancel && t_cancel->load(); }

bool split_host_port(const std::string& addr, std::string& host, int& port) {
  std::size_t colon = addr.rfind(':');
  if (colon == std::string::npos || colon + 1 == addr.size()) return false;
  host = addr.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  char* end = nullptr;
  long value = std::strtol(addr.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || value < 1 || value > 65535 || host.empty()) return false;
  port = static_cast<int>(value);
  return true;
}

runtime::UniqueFd dial(const std::string& host, int port, std::chrono::milliseconds timeout,
                       std::string& error) {
  auto deadline = Clock::now() + timeout;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  std::string service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    error = "cannot resolve " + host + ": " + ::gai_strerror(rc);
    return runtime::UniqueFd();
  }
  error = "no address for " + host;
  for (addrinfo* a = found; a; a = a->ai_next) {
    runtime::UniqueFd fd(
        ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol));
    if (!fd) continue;
    if (::connect(fd.get(), a->ai_addr, a->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        error = std::strerror(errno);
        continue;
      }
      if (!wait_for(fd.get(), POLLOUT, deadline, error)) continue;
      int so_error = 0;
      socklen_t size = sizeof so_error;
      ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &size);
      if (so_error != 0) {
        error = std::strerror(so_error);
        continue;
      }
    }
    ::freeaddrinfo(found);
    error.clear();
    return fd;
  }
  ::freeaddrinfo(found);
  return runtime::UniqueFd();
}

HttpResponse http_request(const std::string& method, const std::string& url,
                          const std::string& body,
                          const std::vector<std::pair<std::string, std::string>>& headers,
                          std::chrono::milliseconds timeout) {
  HttpResponse response;
  auto deadline = Clock::now() + timeout;
  if (!url.starts_with("http://")) {
    response.error = "only http:// URLs are supported, got " + url;
    return response;
  }
  std::string rest = url.substr(7);
  std::size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  std::string path = slash == std::string::npos ? "/" : rest.substr(slash);
  std::string host;
  int port = 80;
  if (authority.find(':') != std::string::npos) {
    if (!split_host_port(authority, host, port)) {
      response.error = "bad address in " + url;
      return response;
    }
  } else {
    host = authority;
  }
  runtime::UniqueFd fd = dial(host, port, timeout, response.error);
  if (!fd) return response;
  std::string request = method + " " + path + " HTTP/1.1\r\nHost: " + authority +
                        "\r\nConnection: close\r\nUser-Agent: faultbox\r\n";
  bool has_length = false;
  for (const auto& [k, v] : headers) {
    request += k + ": " + v + "\r\n";
    if (lower(k) == "content-length") has_length = true;
  }
  if (!body.empty() && !has_length)
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  request += "\r\n" + body;
  for (std::size_t sent = 0; sent < request.size();) {
    if (!wait_for(fd.get(), POLLOUT, deadline, response.error)) return response;
    ssize_t n = ::send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      response.error = std::strerror(errno);
      return response;
    }
    if (n > 0) sent += static_cast<std::size_t>(n);
  }
  // Read until the server closes (we asked it to), bounded by the deadline and size.
  std::string raw;
  char buffer[16384];
  for (;;) {
    if (!wait_for(fd.get(), POLLIN, deadline, response.error)) return response;
    ssize_t n = ::recv(fd.get(), buffer, sizeof buffer, 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      if (errno == ECONNRESET && !raw.empty()) break;
      response.error = std::strerror(errno);
      return response;
    }
    raw.append(buffer, static_cast<std::size_t>(n));
    if (raw.size() > (64u << 20)) {
      response.error = "response larger than 64 MiB";
      return response;
    }
    // Stop early once a Content-Length body is complete (servers may keep the socket).
    std::size_t end = raw.find("\r\n\r\n");
    if (end != std::string::npos) {
      std::string head = lower(raw.substr(0, end));
      if (auto at = head.find("\r\ncontent-length:"); at != std::string::npos) {
        std::size_t length = std::strtoul(head.c_str() + at + 17, nullptr, 10);
        if (raw.size() >= end + 4 + length) break;
      }
    }
  }
  std::size_t head_end = raw.find("\r\n\r\n");
  if (!raw.starts_with("HTTP/1.") || head_end == std::string::npos) {
    response.error = "malformed HTTP response";
    return response;
  }
  std::size_t line_end = raw.find("\r\n");
  std::string status_line = raw.substr(0, line_end);
  std::size_t space = status_line.find(' ');
  response.status = space == std::string::npos ? 0 : std::atoi(status_line.c_str() + space + 1);
  if (response.status < 100 || response.status > 999) {
    response.status = 0;
    response.error = "malformed HTTP status line: " + status_line;
    return response;
  }
  bool chunked = false;
  long length = -1;
  for (std::size_t at = line_end + 2; at < head_end;) {
    std::size_t next = raw.find("\r\n", at);
    std::string line = raw.substr(at, next - at);
    std::size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string key = line.substr(0, colon), value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      if (lower(key) == "transfer-encoding" && lower(value).find("chunked") != std::string::npos)
        chunked = true;
      if (lower(key) == "content-length") length = std::atol(value.c_str());
      response.headers.emplace_back(key, value);
    }
    at = next + 2;
  }
  std::string payload = raw.substr(head_end + 4);
  if (chunked) {
    std::string decoded;
    std::size_t at = 0;
    for (;;) {
      std::size_t eol = payload.find("\r\n", at);
      if (eol == std::string::npos) break;
      std::size_t size = std::strtoul(payload.c_str() + at, nullptr, 16);
      if (size == 0) break;
      if (eol + 2 + size > payload.size()) {
        response.error = "truncated chunked body";
        break;
      }
      decoded += payload.substr(eol + 2, size);
      at = eol + 2 + size + 2;
    }
    payload = std::move(decoded);
  } else if (length >= 0 && static_cast<std::size_t>(length) < payload.size()) {
    payload.resize(static_cast<std::size_t>(length));
  }
  response.body = std::move(payload);
  return response;
}

}  // namespace fb::stdlib
