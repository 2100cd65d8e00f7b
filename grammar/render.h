#pragma once
/// Rendering diagnostics for people (text with a source excerpt) and for tools (JSON).

#include <string>

#include <nlohmann/json_fwd.hpp>

#include "grammar/diagnostic.h"
#include "grammar/source.h"

namespace fb::grammar {

struct RenderOptions {
  bool color = false;
  /// Excerpts wider than this many columns are cut to a window around the span.
  std::size_t max_width = 100;
};

/// Renders one diagnostic:
///
///     spec.star:3:14: error[SPEC_SYNTAX]: expected ')' to close '(' at 3:8
///        3 | x = f(a, b
///          |              ^
///        = help: add ')'
///
/// Tabs are expanded to 4-column stops, columns count code points (wide East Asian
/// characters take two cells), and a span running past its first line is underlined to
/// the end of that line.
std::string render_text(const SourceMap& sources, const Diagnostic& diagnostic,
                        const RenderOptions& options = {});

/// The excerpt part alone (line number gutter, source line, underline).
std::string render_excerpt(const SourceFile& file, const Span& span, const RenderOptions& options);

/// `file:line:col` of a span's start.
std::string format_location(const SourceMap& sources, const Span& span);

/// {level, code, message, file, line, col, end_line, end_col, suggestion, notes[]}.
/// Lines and columns are 1-based; the end position is exclusive.
nlohmann::json render_json(const SourceMap& sources, const Diagnostic& diagnostic);

}  // namespace fb::grammar
