#pragma once
/// Source files and spans.
///
/// Every location in faultbox is a `Span {file, offset, length}` into a `SourceFile` held
/// by a `SourceMap`. Lines and columns are computed only when something is printed, so
/// the lexer and parser carry three integers per token and nothing else.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fb::grammar {

using FileId = std::uint32_t;

/// A byte range in one source file. `length` may be 0 (a point, e.g. end of file).
struct Span {
  FileId file = 0;
  std::uint32_t offset = 0;
  std::uint32_t length = 0;

  std::uint32_t end() const { return offset + length; }
  /// The smallest span covering both (same file assumed).
  Span to(const Span& other) const;
  friend bool operator==(const Span&, const Span&) = default;
};

/// A 1-based line and column. Columns count Unicode code points, not bytes, so a
/// position after "é" is column 2 as an editor shows it.
struct LineCol {
  std::uint32_t line = 1;
  std::uint32_t col = 1;
  friend bool operator==(const LineCol&, const LineCol&) = default;
};

class SourceFile {
 public:
  SourceFile(FileId id, std::string path, std::string text);

  FileId id() const { return id_; }
  const std::string& path() const { return path_; }
  std::string_view text() const { return text_; }

  /// Line and column of a byte offset. An offset at or past the end maps to the end of
  /// the last line (so "unexpected end of file" points at visible text, not a phantom
  /// empty line after the final newline).
  LineCol line_col(std::uint32_t offset) const;
  /// The text of 1-based line `line`, without its line terminator.
  std::string_view line_text(std::uint32_t line) const;
  /// Byte offset where 1-based line `line` starts.
  std::uint32_t line_start(std::uint32_t line) const;
  std::uint32_t line_count() const;

 private:
  void index_lines() const;
  std::uint32_t clamp_offset(std::uint32_t offset) const;

  FileId id_;
  std::string path_;
  std::string text_;
  mutable std::vector<std::uint32_t> line_starts_;  // built on first use
};

/// Owns every source file of a compilation. File ids are dense indices.
class SourceMap {
 public:
  FileId add(std::string path, std::string text);
  /// Reads a file from disk. On failure returns nullopt and sets `error` to the reason
  /// (strerror text).
  std::optional<FileId> load(const std::string& path, std::string& error);

  const SourceFile& file(FileId id) const { return *files_.at(id); }
  std::size_t size() const { return files_.size(); }

 private:
  std::vector<std::unique_ptr<SourceFile>> files_;
};

/// Number of code points in a UTF-8 byte string: every byte that is not a continuation
/// byte (10xxxxxx) starts one.
std::uint32_t utf8_length(std::string_view text);

/// Decodes the UTF-8 sequence starting at byte `at` into `out`; returns its length in
/// bytes, or 0 when the bytes there are not a well-formed sequence.
std::size_t decode_utf8(std::string_view text, std::size_t at, char32_t& out);

}  // namespace fb::grammar
