#include "tests/fuzz/http_fuzz_body.h"

#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/http_framing.h"

namespace fb::fuzz {

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

/// Where each message of `stream` ends, feeding the body `step` bytes at a time (0: all
/// at once), up to the first malformed message or the end of the bytes.
std::vector<std::size_t> boundaries(std::string_view stream, bool request, std::size_t step) {
  std::vector<std::size_t> ends;
  std::size_t at = 0;
  // A response needs the method of the request it answers: cycle through a few.
  const char* methods[] = {"GET", "HEAD", "POST"};
  std::size_t message = 0;
  while (at < stream.size()) {
    proxy::http::Head head;
    std::string error;
    auto parsed = proxy::http::parse_head(stream.substr(at), request, head, error);
    if (parsed != proxy::http::Parse::kComplete) break;
    check(head.size > 0 && head.size <= stream.size() - at);
    at += head.size;
    proxy::http::Body body;
    if (!body.start(head, methods[message++ % 3], error)) break;
    if (body.until_close()) {
      ends.push_back(stream.size());
      return ends;
    }
    bool done = body.empty();
    while (!done && at < stream.size()) {
      std::size_t n = step ? std::min(step, stream.size() - at) : stream.size() - at;
      std::size_t used = 0;
      if (!body.consume(stream.substr(at, n), used, done, error)) return ends;
      check(used <= n);
      check(done || used == n);  // a body takes everything it is given until it ends
      at += used;
    }
    if (!done) break;
    ends.push_back(at);
  }
  return ends;
}

}  // namespace

void run_http_framing(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return;
  bool request = (data[0] & 1) == 0;
  std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  check(boundaries(stream, request, 0) == boundaries(stream, request, 1));
}

}  // namespace fb::fuzz
