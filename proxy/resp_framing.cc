#include "proxy/resp_framing.h"

#include <cctype>
#include <charconv>
#include <cstdint>
#include <vector>

namespace fb::proxy::resp {

namespace {

constexpr std::int64_t kMaxBulk = 512LL * 1024 * 1024;  // Redis's own proto-max-bulk-len
constexpr std::int64_t kMaxElements = 1 << 20;
constexpr int kMaxDepth = 64;
constexpr std::size_t kMaxLine = 64 * 1024;

/// The line at `at` (without its CRLF): false when it has not arrived yet.
bool line_at(std::string_view data, std::size_t at, std::string_view& line, Parse& state,
             std::string& error) {
  std::size_t end = data.find("\r\n", at);
  if (end == std::string_view::npos) {
    if (data.size() - at > kMaxLine) {
      error = "a line longer than 64 KiB";
      state = Parse::kMalformed;
    } else {
      state = Parse::kIncomplete;
    }
    return false;
  }
  line = data.substr(at, end - at);
  return true;
}

bool number(std::string_view text, std::int64_t& out) {
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && p == text.data() + text.size() && !text.empty();
}

/// One value at `at`; on success `at` moves past it.
Parse value(std::string_view data, std::size_t& at, int depth, std::string& error) {
  if (depth > kMaxDepth) {
    error = "values nested more than 64 deep";
    return Parse::kMalformed;
  }
  if (at >= data.size()) return Parse::kIncomplete;
  char type = data[at];
  std::string_view line;
  Parse state = Parse::kComplete;
  if (!line_at(data, at + 1, line, state, error)) return state;
  std::size_t next = at + 1 + line.size() + 2;
  switch (type) {
    case '+':
    case '-':
    case ':':
    case '_':
    case ',':
    case '#':
    case '(': at = next; return Parse::kComplete;
    case '$':
    case '!':
    case '=': {
      std::int64_t n = 0;
      if (!number(line, n) || n < -1 || n > kMaxBulk) {
        error = "bad bulk length \"" + std::string(line) + "\"";
        return Parse::kMalformed;
      }
      if (n == -1) {
        at = next;
        return Parse::kComplete;
      }
      if (data.size() < next + static_cast<std::size_t>(n) + 2) return Parse::kIncomplete;
      if (data.substr(next + static_cast<std::size_t>(n), 2) != "\r\n") {
        error = "a bulk string does not end with CRLF";
        return Parse::kMalformed;
      }
      at = next + static_cast<std::size_t>(n) + 2;
      return Parse::kComplete;
    }
    case '*':
    case '~':
    case '>':
    case '%':
    case '|': {
      std::int64_t n = 0;
      if (!number(line, n) || n < -1 || n > kMaxElements) {
        error = "bad element count \"" + std::string(line) + "\"";
        return Parse::kMalformed;
      }
      std::int64_t elements = (type == '%' || type == '|') ? n * 2 : n;
      std::size_t cursor = next;
      for (std::int64_t i = 0; i < elements; ++i) {
        Parse p = value(data, cursor, depth + 1, error);
        if (p != Parse::kComplete) return p;
      }
      if (type == '|') {  // an attribute comes before the value it describes
        Parse p = value(data, cursor, depth + 1, error);
        if (p != Parse::kComplete) return p;
      }
      at = cursor;
      return Parse::kComplete;
    }
    default: error = "unknown RESP type byte"; return Parse::kMalformed;
  }
}

}  // namespace

Parse value_size(std::string_view data, std::size_t& size, std::string& error) {
  if (data.empty()) return Parse::kIncomplete;
  std::string_view types = "+-:$*_,#(!=%~>|";
  if (types.find(data[0]) == std::string_view::npos) {
    // An inline command: one line of words.
    std::size_t end = data.find("\r\n");
    if (end == std::string_view::npos) {
      if (data.size() > kMaxLine) {
        error = "an inline command longer than 64 KiB";
        return Parse::kMalformed;
      }
      for (char c : data)
        if (c != '\n' && c != '\r' && c != '\t' && !std::isprint(static_cast<unsigned char>(c))) {
          error = "an inline command holds a control byte";
          return Parse::kMalformed;
        }
      return Parse::kIncomplete;
    }
    size = end + 2;
    return Parse::kComplete;
  }
  std::size_t at = 0;
  Parse p = value(data, at, 0, error);
  if (p == Parse::kComplete) size = at;
  return p;
}

void command_of(std::string_view request, std::string& command, std::string& key) {
  command.clear();
  key.clear();
  std::vector<std::string> args;
  if (!request.empty() && request[0] == '*') {
    std::size_t at = request.find("\r\n");
    while (at != std::string_view::npos && args.size() < 2) {
      at += 2;
      if (at >= request.size() || request[at] != '$') break;
      std::size_t end = request.find("\r\n", at);
      std::int64_t n = 0;
      if (end == std::string_view::npos || !number(request.substr(at + 1, end - at - 1), n) ||
          n < 0)
        break;
      args.emplace_back(request.substr(end + 2, static_cast<std::size_t>(n)));
      at = end + 2 + static_cast<std::size_t>(n);
    }
  } else {
    std::string_view line = request.substr(0, request.find("\r\n"));
    std::size_t i = 0;
    while (i < line.size() && args.size() < 2) {
      while (i < line.size() && line[i] == ' ') ++i;
      std::size_t j = line.find(' ', i);
      if (j == std::string_view::npos) j = line.size();
      if (j > i) args.emplace_back(line.substr(i, j - i));
      i = j;
    }
  }
  if (!args.empty()) {
    command = args[0];
    for (char& c : command) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  if (args.size() > 1) key = args[1];
}

}  // namespace fb::proxy::resp
