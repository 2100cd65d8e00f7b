#pragma once
/// Diagnostics: what every layer reports about a spec, and where.
///
/// A `Diagnostic` is plain data (level, stable code, span, message, notes, suggestion).
/// Producers hand them to a `DiagnosticSink`; rendering to text or JSON happens once,
/// at the edge (`grammar/render.h`), with lines and columns computed only then.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "grammar/source.h"

namespace fb::grammar {

enum class Level { kError, kWarning, kNote };

/// Stable diagnostic codes, one per line of grammar/diagnostics.def.
enum class Code {
#define FB_DIAG(code, level, summary) code,
#include "grammar/diagnostics.def"
#undef FB_DIAG
};

/// "SPEC_SYNTAX" for Code::SPEC_SYNTAX.
std::string_view code_name(Code code);
/// The default level the table assigns to a code.
Level code_level(Code code);
/// The one-line summary from the table.
std::string_view code_summary(Code code);
/// All codes in table order (for docs and `faultbox help codes`).
std::vector<Code> all_codes();
/// "error", "warning" or "note".
std::string_view level_name(Level level);

/// A secondary location or remark attached to a diagnostic ("'(' opened here").
struct Note {
  std::optional<Span> span;
  std::string message;
};

struct Diagnostic {
  Level level = Level::kError;
  Code code = Code::SPEC_SYNTAX;
  Span span;
  std::string message;
  std::vector<Note> notes;
  /// A concrete fix in the user's terms ("did you mean 'service'?"); empty when none.
  std::string suggestion;

  /// A diagnostic at the code's default level.
  static Diagnostic make(Code code, Span span, std::string message);
  Diagnostic& note(std::string text);
  Diagnostic& note(Span where, std::string text);
  Diagnostic& suggest(std::string text);
};

/// Receives diagnostics. Producers never print; they report.
class DiagnosticSink {
 public:
  virtual ~DiagnosticSink() = default;
  virtual void report(Diagnostic diagnostic) = 0;
};

/// Keeps every diagnostic in the order reported, with counts per level.
class DiagnosticList final : public DiagnosticSink {
 public:
  void report(Diagnostic diagnostic) override;

  const std::vector<Diagnostic>& items() const { return items_; }
  std::size_t errors() const { return errors_; }
  std::size_t warnings() const { return warnings_; }
  bool has_errors() const { return errors_ > 0; }
  /// Stable order for output: by file, then offset, then report order.
  void sort_by_location();

 private:
  std::vector<Diagnostic> items_;
  std::size_t errors_ = 0;
  std::size_t warnings_ = 0;
};

}  // namespace fb::grammar
