#include "grammar/render.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string_view>
#include <vector>

namespace fb::grammar {
namespace {

constexpr std::size_t kTabStop = 4;

/// One displayed character of a source line: the bytes shown and the cells they take.
struct Cell {
  std::string text;
  std::size_t width;
  std::uint32_t byte_offset;  // offset of the source character within the line
};

bool is_wide(char32_t cp) {
  return (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
         (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
         (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
         (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1F64F) ||
         (cp >= 0x1F900 && cp <= 0x1F9FF) || (cp >= 0x20000 && cp <= 0x3FFFD);
}

/// Splits a line into display cells: tabs become spaces up to the next stop, control
/// characters and malformed bytes become '?', so the excerpt never corrupts a terminal.
std::vector<Cell> layout_line(std::string_view line) {
  std::vector<Cell> cells;
  std::size_t column = 0;
  for (std::size_t i = 0; i < line.size();) {
    auto at = static_cast<std::uint32_t>(i);
    char32_t cp = 0;
    std::size_t len = decode_utf8(line, i, cp);
    if (len == 0) {
      cells.push_back(Cell{"?", 1, at});
      column += 1;
      i += 1;
      continue;
    }
    if (cp == '\t') {
      std::size_t width = kTabStop - column % kTabStop;
      cells.push_back(Cell{std::string(width, ' '), width, at});
      column += width;
    } else if (cp < 0x20 || cp == 0x7F) {
      cells.push_back(Cell{"?", 1, at});
      column += 1;
    } else {
      std::size_t width = is_wide(cp) ? 2 : 1;
      cells.push_back(Cell{std::string(line.substr(i, len)), width, at});
      column += width;
    }
    i += len;
  }
  return cells;
}

const char* color_for(Level level) {
  switch (level) {
    case Level::kError: return "\033[1;31m";
    case Level::kWarning: return "\033[1;33m";
    case Level::kNote: return "\033[1;36m";
  }
  return "";
}

struct Paint {
  bool on;
  std::string operator()(std::string_view text, const char* code) const {
    if (!on) return std::string(text);
    return std::string(code) + std::string(text) + "\033[0m";
  }
};

}  // namespace

std::string format_location(const SourceMap& sources, const Span& span) {
  const SourceFile& file = sources.file(span.file);
  LineCol at = file.line_col(span.offset);
  return file.path() + ":" + std::to_string(at.line) + ":" + std::to_string(at.col);
}

std::string render_excerpt(const SourceFile& file, const Span& span, const RenderOptions& options) {
  Paint paint{options.color};
  LineCol start = file.line_col(span.offset);
  std::string_view line = file.line_text(start.line);
  std::uint32_t line_begin = file.line_start(start.line);
  // Byte range of the span within this line; a span past the line is cut at its end.
  std::uint32_t from = std::min<std::uint32_t>(std::max(span.offset, line_begin) - line_begin,
                                               static_cast<std::uint32_t>(line.size()));
  std::uint32_t to = std::min<std::uint32_t>(span.end() > line_begin ? span.end() - line_begin : 0,
                                             static_cast<std::uint32_t>(line.size()));
  if (span.offset >= file.text().size()) from = to = static_cast<std::uint32_t>(line.size());

  std::vector<Cell> cells = layout_line(line);
  // Column (in cells) where each part starts.
  std::size_t caret_begin = 0, caret_end = 0, total = 0;
  bool begun = false;
  for (const Cell& cell : cells) {
    if (!begun && cell.byte_offset >= from) {
      caret_begin = total;
      begun = true;
    }
    if (cell.byte_offset < to) caret_end = total + cell.width;
    total += cell.width;
  }
  if (!begun) caret_begin = total;
  caret_end = std::max(caret_end, caret_begin + 1);  // a point span still gets one caret

  // Window: keep the caret in view on long lines, with "..." marking cut ends.
  std::size_t window_begin = 0;
  std::size_t width = std::max<std::size_t>(options.max_width, 20);
  if (total > width && caret_begin > width / 3) {
    window_begin = std::min(caret_begin - width / 3, total > width ? total - width + 3 : 0);
  }
  std::size_t window_end = std::min(total, window_begin + width);

  std::string shown, under;
  if (window_begin > 0) shown += "...";
  std::size_t column = 0;
  for (const Cell& cell : cells) {
    if (column >= window_begin && column + cell.width <= window_end) shown += cell.text;
    column += cell.width;
  }
  if (window_end < total) shown += "...";
  std::size_t lead = (window_begin > 0 ? 3 : 0);
  std::size_t caret_from = caret_begin - window_begin + lead;
  std::size_t caret_len = std::min(caret_end, window_end + 1) - caret_begin;
  under = std::string(caret_from, ' ') +
          paint(std::string(std::max<std::size_t>(caret_len, 1), '^'), "\033[1;32m");

  std::string number = std::to_string(start.line);
  std::string gutter(number.size(), ' ');
  std::ostringstream out;
  out << ' ' << paint(number, "\033[1;34m") << " | " << shown << '\n';
  out << ' ' << gutter << " | " << under << '\n';
  return out.str();
}

std::string render_text(const SourceMap& sources, const Diagnostic& d,
                        const RenderOptions& options) {
  Paint paint{options.color};
  const SourceFile& file = sources.file(d.span.file);
  std::ostringstream out;
  std::string heading =
      std::string(level_name(d.level)) + "[" + std::string(code_name(d.code)) + "]";
  out << format_location(sources, d.span) << ": " << paint(heading, color_for(d.level)) << ": "
      << d.message << '\n';
  out << render_excerpt(file, d.span, options);
  for (const Note& note : d.notes) {
    if (note.span) {
      out << format_location(sources, *note.span) << ": " << paint("note", color_for(Level::kNote))
          << ": " << note.message << '\n';
      out << render_excerpt(sources.file(note.span->file), *note.span, options);
    } else {
      out << "   = note: " << note.message << '\n';
    }
  }
  if (!d.suggestion.empty()) out << "   = help: " << d.suggestion << '\n';
  return out.str();
}

nlohmann::json render_json(const SourceMap& sources, const Diagnostic& d) {
  const SourceFile& file = sources.file(d.span.file);
  LineCol start = file.line_col(d.span.offset);
  LineCol end = file.line_col(d.span.end());
  if (d.span.length == 0) end = start;
  nlohmann::json notes = nlohmann::json::array();
  for (const Note& note : d.notes) {
    nlohmann::json n = {{"message", note.message}};
    if (note.span) {
      const SourceFile& nf = sources.file(note.span->file);
      LineCol at = nf.line_col(note.span->offset);
      n["file"] = nf.path();
      n["line"] = at.line;
      n["col"] = at.col;
    }
    notes.push_back(std::move(n));
  }
  return nlohmann::json{{"level", level_name(d.level)}, {"code", code_name(d.code)},
                        {"message", d.message},         {"file", file.path()},
                        {"line", start.line},           {"col", start.col},
                        {"end_line", end.line},         {"end_col", end.col},
                        {"suggestion", d.suggestion},   {"notes", std::move(notes)}};
}

}  // namespace fb::grammar
