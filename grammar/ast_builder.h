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

/// Builds the module AST from a successful parse of `tokens`. Reports the constructs
/// the grammar accepts only to explain them (power operator, set literals, `is`,
/// for-else, chained comparisons, invalid assignment targets, argument and parameter
/// order) and marks the module `syntax_ok = false` when it does.
std::unique_ptr<ast::Module> build_ast(gen::StarlarkParser::File_Context* tree,
                                       const std::vector<Token>& tokens, const LexResult& lexed,
                                       const SourceFile& file, DiagnosticSink& sink);

}  // namespace fb::grammar
