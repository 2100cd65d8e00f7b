#pragma once
/// Checks one call against a builtin's signature.

#include "compiler/builtins.h"
#include "grammar/ast.h"
#include "grammar/diagnostic.h"

namespace fb::compiler {

/// Reports unknown keywords (with did-you-mean and the valid list), keywords given to
/// positional-only parameters, repeated or doubly-given arguments, too many
/// positionals and missing required arguments. Calls that unpack *args or **kwargs are
/// checked only for what is certain.
void check_call(const ast::Call& call, const Signature& sig, grammar::DiagnosticSink& sink);

}  // namespace fb::compiler
