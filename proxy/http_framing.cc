#include "proxy/http_framing.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace fb::proxy::http {

namespace {

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool version_ok(std::string_view v) {
  return v.size() == 8 && v.starts_with("HTTP/") &&
         std::isdigit(static_cast<unsigned char>(v[5])) && v[6] == '.' &&
         std::isdigit(static_cast<unsigned char>(v[7]));
}

}  // namespace

std::optional<std::string> Head::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequal(k, name)) return v;
  return std::nullopt;
}

std::string Head::path() const { return target.substr(0, target.find('?')); }

std::string Head::query() const {
  auto q = target.find('?');
  return q == std::string::npos ? "" : target.substr(q + 1);
}

bool Head::closes() const {
  auto c = header("connection");
  std::string value = c ? *c : "";
  for (char& ch : value) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (value.find("close") != std::string::npos) return true;
  if (version == "HTTP/1.0") return value.find("keep-alive") == std::string::npos;
  return false;
}

Parse parse_head(std::string_view data, bool request, Head& out, std::string& error) {
  std::size_t skip = 0;
  // Empty lines before a request line are allowed (and ignored).
  while (request && data.substr(skip).starts_with("\r\n")) skip += 2;
  std::size_t end = data.find("\r\n\r\n", skip);
  if (end == std::string_view::npos || end + 4 > kMaxHead) {
    if (data.size() >= kMaxHead) {
      error = "the head is longer than 64 KiB";
      return Parse::kMalformed;
    }
    // A line that cannot start a head fails early, not after 64 KiB of garbage.
    std::string_view first = data.substr(skip, std::min<std::size_t>(data.size() - skip, 16));
    for (char c : first)
      if (c != '\r' && c != '\n' && c != ' ' && c != '\t' &&
          !std::isprint(static_cast<unsigned char>(c))) {
        error = "the head holds a control byte";
        return Parse::kMalformed;
      }
    return Parse::kIncomplete;
  }
  Head head;
  head.request = request;
  head.size = end + 4;
  std::string_view text = data.substr(skip, end - skip);
  std::size_t line_end = text.find("\r\n");
  std::string_view first = text.substr(0, line_end);
  std::string_view rest = line_end == std::string_view::npos ? "" : text.substr(line_end + 2);
  auto sp1 = first.find(' ');
  auto sp2 = sp1 == std::string_view::npos ? sp1 : first.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos) {
    error = "the first line is not \"" +
            std::string(request ? "METHOD TARGET HTTP/x.y" : "HTTP/x.y STATUS REASON") + "\"";
    return Parse::kMalformed;
  }
  if (request) {
    head.method = std::string(first.substr(0, sp1));
    head.target = std::string(first.substr(sp1 + 1, sp2 - sp1 - 1));
    head.version = std::string(first.substr(sp2 + 1));
    if (head.method.empty() || !std::all_of(head.method.begin(), head.method.end(), token_char) ||
        head.target.empty() || !version_ok(head.version)) {
      error = "malformed request line";
      return Parse::kMalformed;
    }
  } else {
    head.version = std::string(first.substr(0, sp1));
    std::string_view code = first.substr(sp1 + 1, sp2 - sp1 - 1);
    if (!version_ok(head.version) || code.size() != 3 ||
        std::from_chars(code.data(), code.data() + 3, head.status).ec != std::errc() ||
        head.status < 100) {
      error = "malformed status line";
      return Parse::kMalformed;
    }
  }
  while (!rest.empty()) {
    std::size_t e = rest.find("\r\n");
    std::string_view line = rest.substr(0, e);
    rest = e == std::string_view::npos ? "" : rest.substr(e + 2);
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0 ||
        !std::all_of(line.begin(), line.begin() + static_cast<std::ptrdiff_t>(colon), token_char)) {
      error = "malformed header line";
      return Parse::kMalformed;
    }
    head.headers.emplace_back(std::string(line.substr(0, colon)),
                              std::string(trim(line.substr(colon + 1))));
  }
  out = std::move(head);
  return Parse::kComplete;
}

bool Body::start(const Head& head, std::string_view request_method, std::string& error) {
  mode_ = Mode::kNone;
  chunk_ = Chunk::kSize;
  remaining_ = 0;
  line_.clear();
  if (!head.request && (iequal(request_method, "HEAD") || head.status < 200 || head.status == 204 ||
                        head.status == 304))
    return true;
  auto te = head.header("transfer-encoding");
  std::optional<std::uint64_t> length;
  for (const auto& [k, v] : head.headers) {
    if (!iequal(k, "content-length")) continue;
    std::uint64_t n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || p != v.data() + v.size()) {
      error = "Content-Length \"" + v + "\" is not a number";
      return false;
    }
    if (length && *length != n) {
      error = "two different Content-Length values";
      return false;
    }
    length = n;
  }
  if (te) {
    if (length) {
      // Either could frame the message: a way to smuggle a request past a proxy.
      error = "both Transfer-Encoding and Content-Length";
      return false;
    }
    std::string codings = *te;
    for (char& c : codings) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string_view last = codings;
    if (auto comma = last.rfind(','); comma != std::string_view::npos)
      last = last.substr(comma + 1);
    if (trim(last) == "chunked") {
      mode_ = Mode::kChunked;
      return true;
    }
    if (head.request) {
      error = "a request's Transfer-Encoding must end in chunked";
      return false;
    }
    mode_ = Mode::kUntilClose;
    return true;
  }
  if (length) {
    mode_ = *length ? Mode::kLength : Mode::kNone;
    remaining_ = *length;
    return true;
  }
  if (!head.request) mode_ = Mode::kUntilClose;
  return true;
}

bool Body::consume(std::string_view data, std::size_t& used, bool& done, std::string& error) {
  used = 0;
  done = false;
  switch (mode_) {
    case Mode::kNone: done = true; return true;
    case Mode::kUntilClose: used = data.size(); return true;
    case Mode::kLength: {
      auto take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, data.size()));
      used = take;
      remaining_ -= take;
      done = remaining_ == 0;
      return true;
    }
    case Mode::kChunked: break;
  }
  while (used < data.size() && !done) {
    char c = data[used];
    switch (chunk_) {
      case Chunk::kSize:
      case Chunk::kSizeLine:
      case Chunk::kTrailer:
        ++used;
        line_ += c;
        if (line_.size() > 4096) {
          error = "a chunk-size or trailer line is longer than 4 KiB";
          return false;
        }
        if (!line_.ends_with("\r\n")) break;
        if (chunk_ == Chunk::kTrailer) {
          done = line_ == "\r\n";  // the empty line that ends the trailers
          line_.clear();
          break;
        }
        {
          std::string_view hex = std::string_view(line_).substr(0, line_.size() - 2);
          hex = hex.substr(0, hex.find(';'));
          hex = trim(hex);
          std::uint64_t size = 0;
          auto [p, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), size, 16);
          if (hex.empty() || ec != std::errc() || p != hex.data() + hex.size()) {
            error = "malformed chunk size \"" + std::string(hex) + "\"";
            return false;
          }
          line_.clear();
          if (size == 0) {
            chunk_ = Chunk::kTrailer;
          } else {
            remaining_ = size;
            chunk_ = Chunk::kData;
          }
        }
        break;
      case Chunk::kData: {
        auto take =
            static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, data.size() - used));
        used += take;
        remaining_ -= take;
        if (remaining_ == 0) chunk_ = Chunk::kDataEnd;
        break;
      }
      case Chunk::kDataEnd:
        ++used;
        line_ += c;
        if (line_.size() < 2) break;
        if (line_ != "\r\n") {
          error = "a chunk's data does not end with CRLF";
          return false;
        }
        line_.clear();
        chunk_ = Chunk::kSize;
        break;
    }
  }
  return true;
}

}  // namespace fb::proxy::http
