#include "grammar/source.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fb::grammar {

Span Span::to(const Span& other) const {
  std::uint32_t begin = std::min(offset, other.offset);
  std::uint32_t finish = std::max(end(), other.end());
  return Span{file, begin, finish - begin};
}

SourceFile::SourceFile(FileId id, std::string path, std::string text)
    : id_(id), path_(std::move(path)), text_(std::move(text)) {}

void SourceFile::index_lines() const {
  if (!line_starts_.empty()) return;
  line_starts_.push_back(0);
  for (std::uint32_t i = 0; i < text_.size(); ++i) {
    // "\r\n" and "\n" end a line; a lone "\r" does too (old Mac files) so columns
    // never run across what an editor shows as two lines.
    char c = text_[i];
    if (c == '\n' || (c == '\r' && (i + 1 >= text_.size() || text_[i + 1] != '\n'))) {
      line_starts_.push_back(i + 1);
    }
  }
}

std::uint32_t SourceFile::clamp_offset(std::uint32_t offset) const {
  auto size = static_cast<std::uint32_t>(text_.size());
  if (offset < size) return offset;
  if (size == 0) return 0;
  // Past the end: step back over the final line terminator so the position lands at the
  // end of the last visible line.
  std::uint32_t at = size;
  if (text_[at - 1] == '\n') --at;
  if (at > 0 && text_[at - 1] == '\r') --at;
  return at;
}

LineCol SourceFile::line_col(std::uint32_t offset) const {
  index_lines();
  offset = clamp_offset(offset);
  auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
  auto line = static_cast<std::uint32_t>(it - line_starts_.begin());
  std::uint32_t start = line_starts_[line - 1];
  std::string_view prefix(text_.data() + start, offset - start);
  return LineCol{line, utf8_length(prefix) + 1};
}

std::uint32_t SourceFile::line_count() const {
  index_lines();
  auto n = static_cast<std::uint32_t>(line_starts_.size());
  // A final terminator does not start a visible line.
  if (n > 1 && line_starts_.back() == text_.size()) --n;
  return n;
}

std::uint32_t SourceFile::line_start(std::uint32_t line) const {
  index_lines();
  if (line == 0 || line > line_starts_.size()) return static_cast<std::uint32_t>(text_.size());
  return line_starts_[line - 1];
}

std::string_view SourceFile::line_text(std::uint32_t line) const {
  index_lines();
  if (line == 0 || line > line_starts_.size()) return {};
  std::uint32_t start = line_starts_[line - 1];
  std::uint32_t finish =
      line < line_starts_.size() ? line_starts_[line] : static_cast<std::uint32_t>(text_.size());
  std::string_view view(text_.data() + start, finish - start);
  while (!view.empty() && (view.back() == '\n' || view.back() == '\r')) view.remove_suffix(1);
  return view;
}

FileId SourceMap::add(std::string path, std::string text) {
  auto id = static_cast<FileId>(files_.size());
  files_.push_back(std::make_unique<SourceFile>(id, std::move(path), std::move(text)));
  return id;
}

std::optional<FileId> SourceMap::load(const std::string& path, std::string& error) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    error = "is a directory";
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = std::strerror(errno);
    return std::nullopt;
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) {
    error = std::strerror(errno);
    return std::nullopt;
  }
  return add(path, std::move(buffer).str());
}

std::uint32_t utf8_length(std::string_view text) {
  std::uint32_t count = 0;
  for (unsigned char c : text) {
    // Continuation bytes (10xxxxxx) do not start a code point.
    if ((c & 0xC0) != 0x80) ++count;
  }
  return count;
}

std::size_t decode_utf8(std::string_view text, std::size_t at, char32_t& out) {
  auto b = static_cast<unsigned char>(text[at]);
  std::size_t len = b < 0x80           ? 1
                    : (b >> 5) == 0x6  ? 2
                    : (b >> 4) == 0xE  ? 3
                    : (b >> 3) == 0x1E ? 4
                                       : 0;
  if (len == 0 || at + len > text.size()) return 0;
  char32_t cp = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
  for (std::size_t k = 1; k < len; ++k) {
    auto c = static_cast<unsigned char>(text[at + k]);
    if ((c & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (c & 0x3F);
  }
  out = cp;
  return len;
}

}  // namespace fb::grammar
