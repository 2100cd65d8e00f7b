#pragma once
/// Lowering a resolved AST to IR bytecode.

#include "grammar/ast.h"
#include "grammar/source.h"
#include "ir/module.h"

namespace fb::compiler {

/// Compiles `module` (parsed and resolved without errors) into an IR module whose
/// function 0 is the file's top level. Literal subexpressions are folded to constants,
/// calls to planning builtins are recorded as static facts, and every function's
/// max_stack is measured. The result passes ir::verify.
ir::Module lower(const ast::Module& module, const grammar::SourceFile& file);

}  // namespace fb::compiler
