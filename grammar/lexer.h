#pragma once
/// The Starlark lexer: a hand-written scanner producing the tokens of grammar/tokens.def.
///
/// It handles what a token grammar does badly: INDENT/DEDENT with Python's
/// tabs-vs-spaces rules, implicit line joining inside brackets, backslash continuation,
/// every string and number form with precise errors, and Python habits (f-strings,
/// reserved words, `!`, `&&`) with a hint. It never stops at the first error: a bad
/// literal still yields a token, so the parser sees a plausible stream.

#include <cstdint>
#include <string>
#include <vector>

#include "grammar/diagnostic.h"
#include "grammar/source.h"

namespace fb::grammar {

enum class Tok : std::uint16_t {
  kEof = 0,
#define FB_TOKEN(name, text) name,
#define FB_KEYWORD(name, text) name,
#define FB_PUNCT(name, text) name,
#include "grammar/tokens.def"
#undef FB_TOKEN
#undef FB_KEYWORD
#undef FB_PUNCT
};

/// "'('", "keyword 'def'", "a name", "end of line": how messages name a token type.
std::string describe(Tok type);
/// The spelling of keywords and punctuation ("def", "("); empty for other tokens.
std::string_view spelling(Tok type);

struct Token {
  Tok type = Tok::kEof;
  std::uint32_t offset = 0;
  std::uint32_t length = 0;
  /// For STRING/BYTES: index into LexResult::strings; INT: into ints; FLOAT: into floats.
  std::uint32_t value = 0;
};

/// An integer literal. Starlark ints are unbounded: a literal that does not fit in 63
/// bits keeps its digits (decimal) for the VM's big-integer path.
struct IntLiteral {
  std::int64_t small = 0;
  bool big = false;
  std::string decimal;  // set when big
};

struct LexResult {
  std::vector<Token> tokens;  // ends with kEof
  std::vector<std::string> strings;
  std::vector<IntLiteral> ints;
  std::vector<double> floats;
};

/// Limits that keep hostile input from exhausting the stack of later recursive passes.
inline constexpr std::size_t kMaxBracketDepth = 200;
/// The largest int literal, in bits: the VM's largest int (vm/bigint.h kMaxIntBits).
inline constexpr std::size_t kMaxIntLiteralBits = std::size_t{1} << 16;
inline constexpr std::size_t kMaxIndentDepth = 100;

/// Lexes a whole file. Errors go to `sink`; the result is always usable.
LexResult lex(const SourceFile& file, DiagnosticSink& sink);

}  // namespace fb::grammar
