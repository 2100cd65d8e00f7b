#pragma once
/// Turns the ANTLR parse tree into the AST. The only code that sees parse-tree types.

#include <memory>
#include <vector>

#include "grammar/ast.h"
#include "grammar/diagnostic.h"
#include "grammar/lexer.h"

// Internal to fb_grammar: the generated parser header is not on other targets' paths.
#include "StarlarkParser.h"

namespace fb::grammar {

/// Appends the statements of a successful parse of `tokens` to `out`. Reports the
/// constructs the grammar accepts only to explain them (power operator, set literals,
/// `is`, for-else, chained comparisons, invalid assignment targets, argument and
/// parameter order) and returns false when it reported any.
bool build_statements(gen::StarlarkParser::File_Context* tree, const std::vector<Token>& tokens,
                      const LexResult& lexed, const SourceFile& file, DiagnosticSink& sink,
                      std::vector<ast::StmtPtr>& out);

}  // namespace fb::grammar
