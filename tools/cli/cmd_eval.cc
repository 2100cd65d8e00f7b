#include <iostream>
#include <ostream>

#include "compiler/frontend.h"
#include "compiler/lower.h"
#include "ir/module.h"
#include "stdlib/builtins.h"
#include "tools/cli/command.h"
#include "tools/cli/loader.h"
#include "tools/cli/spec_input.h"
#include "vm/thread.h"

namespace fb::cli {
namespace {

int run_eval(const Context& context, const ParsedArgs& args) {
  if (args.positionals.empty()) return usage_error(context, "eval", "expects a FILE to run");
  auto input = SpecInput::load(context, "eval", args.positionals[0]);
  if (!input) return kExitUsage;
  grammar::DiagnosticList diagnostics;
  auto module = compiler::analyze(input->file(), diagnostics);
  if (diagnostics.has_errors()) {
    input->print(context, diagnostics);
    return kExitUsage;
  }
  ir::Module code = compiler::lower(*module, input->file());
  if (auto problems = ir::verify(code); !problems.empty()) {
    context.err << "faultbox eval: internal error: invalid bytecode: " << problems.front() << "\n";
    return 70;
  }
  vm::Thread thread;
  if (auto steps = args.value("max-steps")) {
    try {
      thread.max_steps = std::stoull(*steps);
    } catch (const std::exception&) {
      return usage_error(context, "eval", "--max-steps wants a number, got '" + *steps + "'");
    }
  }
  thread.print = [&](std::string_view line) { context.out << line << '\n'; };
  thread.predeclared = stdlib::lookup;
  ModuleLoader loader(args.positionals[0]);
  loader.attach(thread);
  auto program = vm::load_program(std::move(code));
  bool ok = loader.run(thread, args.positionals[0], program);
  context.out.flush();
  if (!ok) {
    context.err << vm::format_error(thread);
    return kExitUsage;
  }
  return kExitOk;
}

}  // namespace

const Command& command_eval() {
  static const Command command{
      .name = "eval",
      .summary = "Run a Starlark file and print what it prints",
      .usage = "faultbox eval FILE [--max-steps N] [-- ARGS...]",
      .details =
          "Compiles FILE and runs its top level. print() writes to stdout. A runtime error\n"
          "stops the run with a backtrace (file:line:col of each call) on stderr and exit\n"
          "status 1; compile errors are reported like 'faultbox check' does.",
      .flags = {{"max-steps", FlagKind::kValue, "N",
                 "stop with an error after N bytecode instructions"}},
      .run = run_eval,
  };
  return command;
}

}  // namespace fb::cli
