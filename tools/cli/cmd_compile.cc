#include <fstream>
#include <ostream>

#include "compiler/frontend.h"
#include "compiler/lower.h"
#include "grammar/ast_dump.h"
#include "grammar/parser.h"
#include "grammar/render.h"
#include "ir/module.h"
#include "ir/serialize.h"
#include "tools/cli/command.h"
#include "tools/cli/spec_input.h"

namespace fb::cli {
namespace {

int write_bytecode(const Context& context, const ir::Module& code, const std::string& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  std::string bytes = ir::serialize(code);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) return usage_error(context, "compile", "cannot write '" + path + "'");
  return kExitOk;
}

int run_compile(const Context& context, const ParsedArgs& args) {
  if (args.positionals.size() != 1)
    return usage_error(context, "compile", "expects exactly one SPEC file");
  auto output = args.value("o");
  if (!output) output = args.value("output");
  std::string emit = args.value("emit").value_or(output ? "" : "ast");
  if (emit != "" && emit != "tokens" && emit != "ast" && emit != "ir") {
    return usage_error(context, "compile", "unknown --emit '" + emit + "' (use tokens, ast or ir)");
  }
  auto input = SpecInput::load(context, "compile", args.positionals[0]);
  if (!input) return kExitUsage;
  const grammar::SourceFile& file = input->file();
  grammar::DiagnosticList diagnostics;
  if (emit == "tokens") {
    context.out << grammar::dump_tokens(file, grammar::lex(file, diagnostics));
    input->print(context, diagnostics);
    return diagnostics.has_errors() ? kExitFindings : kExitOk;
  }
  auto module = compiler::analyze(file, diagnostics);
  input->print(context, diagnostics);
  if (emit == "ast" && module->syntax_ok) context.out << ast::dump(*module, file);
  if (diagnostics.has_errors()) return kExitFindings;
  ir::Module code = compiler::lower(*module, file);
  if (emit == "ir") context.out << ir::disassemble(code);
  return output ? write_bytecode(context, code, *output) : kExitOk;
}

}  // namespace

const Command& command_compile() {
  static const Command command{
      .name = "compile",
      .summary = "Compile a spec to bytecode, or show the tokens, syntax tree or bytecode",
      .usage = "faultbox compile SPEC [--emit tokens|ast|ir] [-o FILE.fbc]",
      .details =
          "--emit prints the token stream, the resolved syntax tree (one node per line with\n"
          "its line:col) or the disassembled bytecode with its static facts. -o writes the\n"
          "compiled module to FILE.fbc, which 'faultbox eval FILE.fbc' runs without the\n"
          "source; a file from another bytecode version is refused with a clear error.",
      .flags = {{"emit", FlagKind::kValue, "tokens|ast|ir",
                 "what to print (default ast, or nothing with -o)"},
                {"o", FlagKind::kValue, "FILE", "write the compiled module to FILE (.fbc)"},
                {"output", FlagKind::kValue, "FILE", "same as -o"}},
      .run = run_compile,
  };
  return command;
}

}  // namespace fb::cli
