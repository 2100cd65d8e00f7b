#pragma once
/// Parsing a spec file into an AST, reporting every syntax error it can recover from.

#include <memory>
#include <string>

#include "grammar/ast.h"
#include "grammar/diagnostic.h"
#include "grammar/lexer.h"
#include "grammar/source.h"

namespace fb::grammar {

/// At most this many syntax errors are reported per file; the rest are summarised.
inline constexpr std::size_t kMaxSyntaxErrors = 30;

/// Lexes and parses `file`. Top-level statements are parsed one at a time (memory stays
/// proportional to the largest statement). The parser runs in SLL mode and falls back
/// to full LL only when SLL fails. After a syntax error it replaces the broken logical
/// line (keeping the block under a broken header) and parses again, so independent
/// errors on other lines are reported too, but never a cascade from the same line.
std::unique_ptr<ast::Module> parse(const SourceFile& file, DiagnosticSink& sink);

/// One line per token, "LINE:COL TYPE text", for golden tests.
std::string dump_tokens(const SourceFile& file, const LexResult& lexed);

}  // namespace fb::grammar
