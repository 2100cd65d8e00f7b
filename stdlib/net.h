#pragma once
/// Blocking network clients for healthchecks and steps: a TCP dial with a deadline and an
/// HTTP/1.1 request. Every wait is bounded; failures come back as text, never throw.

#include <atomic>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "runtime/process.h"

namespace fb::stdlib {

/// While one lives on a thread, that thread's network waits (dial, http_request) end
/// early with the error "cancelled" once `*flag` is set: a test stopped by its timeout
/// does not wait out a step's own, longer timeout.
class CancelScope {
 public:
  explicit CancelScope(const std::atomic<bool>* flag);
  ~CancelScope();
  CancelScope(const CancelScope&) = delete;
  CancelScope& operator=(const CancelScope&) = delete;
  /// Whether the current thread's scope has been cancelled.
  static bool cancelled();

 private:
  const std::atomic<bool>* previous_;
};

/// Connects to host:port before the deadline. An invalid fd and `error` on failure.
runtime::UniqueFd dial(const std::string& host, int port, std::chrono::milliseconds timeout,
                       std::string& error);

/// Splits "host:port" (or "[v6]:port"); false when it is not that.
bool split_host_port(const std::string& addr, std::string& host, int& port);

struct HttpResponse {
  int status = 0;  // 0 when no response came
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // as received
  std::string error;  // why there is no response ("connection refused", "timed out")
};

/// Sends one request to an http:// URL and reads the whole response (Content-Length,
/// chunked, or until the server closes), all within `timeout`.
HttpResponse http_request(const std::string& method, const std::string& url,
                          const std::string& body,
                          const std::vector<std::pair<std::string, std::string>>& headers,
                          std::chrono::milliseconds timeout);

}  // namespace fb::stdlib
