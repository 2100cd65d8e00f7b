#pragma once
/// A readable dump of the AST (`faultbox compile --emit=ast`), used by golden tests.

#include <string>
#include <string_view>

#include "grammar/ast.h"

namespace fb::ast {

/// One node per line, indented two spaces per level, each with its start LINE:COL.
/// When the resolver has run, names show their scope and slot (`x [local 0]`).
std::string dump(const Module& module, const grammar::SourceFile& file);

/// A double-quoted, escaped rendering of a string value ("a\nb" -> "\"a\\nb\"").
std::string quote(std::string_view value);

}  // namespace fb::ast
