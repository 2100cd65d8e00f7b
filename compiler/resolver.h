#pragma once
/// Name resolution and the static checks of the Starlark spec, plus checking calls to
/// builtins against their signatures (the check the reference never made).

#include "grammar/ast.h"
#include "grammar/diagnostic.h"

namespace fb::compiler {

/// Binds every name in `module` to a scope and slot (local, cell, free, global,
/// builtin, universe), fills each function's FunctionInfo and module->globals, and
/// reports: undefined names (with did-you-mean and hints for Python-only builtins),
/// `load` outside the top level, `break`/`continue` outside a loop, `return` outside a
/// function, duplicate parameters, unused load() bindings, and bad calls to builtins.
///
/// Dialect: `while`, recursion, top-level if/for/while and rebinding a global are
/// accepted (see docs/compatibility.md).
void resolve(ast::Module& module, grammar::DiagnosticSink& sink);

}  // namespace fb::compiler
