#include "grammar/diagnostic.h"

#include <algorithm>
#include <array>

namespace fb::grammar {
namespace {

struct CodeInfo {
  std::string_view name;
  Level level;
  std::string_view summary;
};

constexpr std::array kCodes = {
#define FB_DIAG(code, level, summary) CodeInfo{#code, Level::k##level, summary},
#include "grammar/diagnostics.def"
#undef FB_DIAG
};

const CodeInfo& info(Code code) { return kCodes[static_cast<std::size_t>(code)]; }

}  // namespace

std::string_view code_name(Code code) { return info(code).name; }
Level code_level(Code code) { return info(code).level; }
std::string_view code_summary(Code code) { return info(code).summary; }

std::vector<Code> all_codes() {
  std::vector<Code> codes;
  for (std::size_t i = 0; i < kCodes.size(); ++i) codes.push_back(static_cast<Code>(i));
  return codes;
}

std::string_view level_name(Level level) {
  switch (level) {
    case Level::kError: return "error";
    case Level::kWarning: return "warning";
    case Level::kNote: return "note";
  }
  return "error";
}

Diagnostic Diagnostic::make(Code code, Span span, std::string message) {
  Diagnostic d;
  d.level = code_level(code);
  d.code = code;
  d.span = span;
  d.message = std::move(message);
  return d;
}

Diagnostic& Diagnostic::note(std::string text) {
  notes.push_back(Note{std::nullopt, std::move(text)});
  return *this;
}

Diagnostic& Diagnostic::note(Span where, std::string text) {
  notes.push_back(Note{where, std::move(text)});
  return *this;
}

Diagnostic& Diagnostic::suggest(std::string text) {
  suggestion = std::move(text);
  return *this;
}

void DiagnosticList::report(Diagnostic diagnostic) {
  if (diagnostic.level == Level::kError) ++errors_;
  if (diagnostic.level == Level::kWarning) ++warnings_;
  items_.push_back(std::move(diagnostic));
}

void DiagnosticList::sort_by_location() {
  std::stable_sort(items_.begin(), items_.end(), [](const Diagnostic& a, const Diagnostic& b) {
    if (a.span.file != b.span.file) return a.span.file < b.span.file;
    return a.span.offset < b.span.offset;
  });
}

}  // namespace fb::grammar
