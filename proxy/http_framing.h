#pragma once
/// HTTP/1.1 message framing for the proxy: where a request's or response's head ends,
/// what it says, and how long its body is, without buffering the body. Pure functions
/// and a small state machine, so that they can be tested and fuzzed alone.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fb::proxy::http {

/// The largest head accepted: longer is malformed (a proxy must not buffer forever).
inline constexpr std::size_t kMaxHead = 64 * 1024;

struct Head {
  bool request = true;
  std::string method;   // requests
  std::string target;   // requests: "/path?query"
  int status = 0;       // responses
  std::string version;  // "HTTP/1.1"
  std::vector<std::pair<std::string, std::string>> headers;
  std::size_t size = 0;  // bytes of the head, up to and including the blank line

  /// The first value of a header, by case-insensitive name.
  std::optional<std::string> header(std::string_view name) const;
  std::string path() const;   // the target without its query
  std::string query() const;  // after '?', or ""
  /// Whether the connection ends after this message (Connection: close, or HTTP/1.0
  /// without keep-alive).
  bool closes() const;
};

enum class Parse { kComplete, kIncomplete, kMalformed };

/// Parses a head at the start of `data`. kIncomplete until the blank line arrives (or
/// kMalformed past kMaxHead); `error` says what is wrong with a malformed one.
Parse parse_head(std::string_view data, bool request, Head& out, std::string& error);

/// Tracks one message's body as its bytes go by.
class Body {
 public:
  /// The body that follows `head`. `request_method` is the method of the request a
  /// response answers (a response to HEAD has no body). False with `error` when the
  /// framing headers are contradictory or malformed.
  bool start(const Head& head, std::string_view request_method, std::string& error);
  /// How many bytes of `data` belong to the body (all of them until it ends). Sets
  /// `done` when the body is complete; false with `error` for malformed chunking.
  bool consume(std::string_view data, std::size_t& used, bool& done, std::string& error);
  /// A body that lasts until the connection closes (a response without a length).
  bool until_close() const { return mode_ == Mode::kUntilClose; }
  /// Whether the body is already complete (no body at all).
  bool empty() const { return mode_ == Mode::kNone; }

 private:
  enum class Mode { kNone, kLength, kChunked, kUntilClose } mode_ = Mode::kNone;
  enum class Chunk { kSize, kSizeLine, kData, kDataEnd, kTrailer } chunk_ = Chunk::kSize;
  std::uint64_t remaining_ = 0;
  std::string line_;  // a chunk-size line or trailer line being read
};

}  // namespace fb::proxy::http
