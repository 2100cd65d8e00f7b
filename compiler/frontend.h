#pragma once
/// The frontend in one call: what `faultbox check`, `compile`, editors and tests run.

#include <memory>

#include "grammar/ast.h"
#include "grammar/diagnostic.h"
#include "grammar/source.h"

namespace fb::compiler {

/// Parses `file` and, when it has no syntax error, resolves names and checks builtin
/// calls. Name errors in a file that does not parse would mostly be fallout of the
/// syntax error, so they are not looked for then. Never executes anything.
std::unique_ptr<ast::Module> analyze(const grammar::SourceFile& file,
                                     grammar::DiagnosticSink& sink);

}  // namespace fb::compiler
