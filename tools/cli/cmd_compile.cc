#include <ostream>

#include "compiler/frontend.h"
#include "compiler/lower.h"
#include "grammar/ast_dump.h"
#include "grammar/parser.h"
#include "grammar/render.h"
#include "ir/module.h"
#include "tools/cli/command.h"
#include "tools/cli/spec_input.h"

namespace fb::cli {
namespace {

int run_compile(const Context& context, const ParsedArgs& args) {
  if (args.positionals.size() != 1)
    return usage_error(context, "compile", "expects exactly one SPEC file");
  std::string emit = args.value("emit").value_or("ast");
  if (emit != "tokens" && emit != "ast" && emit != "ir") {
    return usage_error(context, "compile", "unknown --emit '" + emit + "' (use tokens, ast or ir)");
  }
  auto input = SpecInput::load(context, "compile", args.positionals[0]);
  if (!input) return kExitUsage;
  const grammar::SourceFile& file = input->file();
  grammar::DiagnosticList diagnostics;
  if (emit == "tokens") {
    context.out << grammar::dump_tokens(file, grammar::lex(file, diagnostics));
  } else {
    auto module = compiler::analyze(file, diagnostics);
    if (emit == "ast" && module->syntax_ok) context.out << ast::dump(*module, file);
    if (emit == "ir" && !diagnostics.has_errors())
      context.out << ir::disassemble(compiler::lower(*module, file));
  }
  input->print(context, diagnostics);
  return diagnostics.has_errors() ? kExitFindings : kExitOk;
}

}  // namespace

const Command& command_compile() {
  static const Command command{
      .name = "compile",
      .summary = "Show what the compiler makes of a spec (tokens, syntax tree)",
      .usage = "faultbox compile SPEC [--emit tokens|ast]",
      .details =
          "Prints the token stream or the resolved syntax tree, one node per line with its\n"
          "line:col. Meant for debugging the frontend and for golden tests.",
      .flags = {{"emit", FlagKind::kValue, "tokens|ast", "what to print (default ast)"}},
      .run = run_compile,
  };
  return command;
}

}  // namespace fb::cli
