#include <fstream>
#include <ostream>
#include <sstream>

#include "compiler/frontend.h"
#include "compiler/lower.h"
#include "ir/module.h"
#include "ir/serialize.h"
#include "stdlib/builtins.h"
#include "tools/cli/command.h"
#include "tools/cli/loader.h"
#include "tools/cli/spec_input.h"
#include "vm/thread.h"

namespace fb::cli {
namespace {

/// Compiles a source file, or reads a .fbc file (recognised by its magic bytes).
std::optional<ir::Module> load_code(const Context& context, const std::string& path, int& status) {
  status = kExitUsage;
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in && bytes.str().starts_with("FBC\n")) {
    std::string error;
    auto code = ir::deserialize(bytes.str(), error);
    if (!code) context.err << "faultbox eval: cannot run '" << path << "': " << error << "\n";
    return code;
  }
  auto input = SpecInput::load(context, "eval", path);
  if (!input) return std::nullopt;
  grammar::DiagnosticList diagnostics;
  auto module = compiler::analyze(input->file(), diagnostics);
  if (diagnostics.has_errors()) {
    input->print(context, diagnostics);
    return std::nullopt;
  }
  ir::Module code = compiler::lower(*module, input->file());
  if (auto problems = ir::verify(code); !problems.empty()) {
    context.err << "faultbox eval: internal error: invalid bytecode: " << problems.front() << "\n";
    status = 70;
    return std::nullopt;
  }
  return code;
}

int run_eval(const Context& context, const ParsedArgs& args) {
  if (args.positionals.empty()) return usage_error(context, "eval", "expects a FILE to run");
  vm::Thread thread;
  if (auto steps = args.value("max-steps")) {
    try {
      thread.max_steps = std::stoull(*steps);
    } catch (const std::exception&) {
      return usage_error(context, "eval", "--max-steps wants a number, got '" + *steps + "'");
    }
  }
  std::string why;
  auto memory = max_memory(args, why);
  if (!memory) return usage_error(context, "eval", why);
  thread.memory->limit = *memory;
  int status = kExitOk;
  auto code = load_code(context, args.positionals[0], status);
  if (!code) return status;
  // Relative loads resolve against the source's directory, also when running a .fbc.
  std::string root = code->files.front().path;
  thread.print = [&](std::string_view line) { context.out << line << '\n'; };
  thread.predeclared = stdlib::lookup;
  ModuleLoader loader(root);
  loader.attach(thread);
  auto program = vm::load_program(std::move(*code));
  bool ok = loader.run(thread, root, program);
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
      .summary = "Run a Starlark file (or compiled .fbc) and print what it prints",
      .usage = "faultbox eval FILE [--max-steps N] [--max-memory SIZE]",
      .details =
          "Compiles FILE (or reads bytecode written by 'faultbox compile -o') and runs its top\n"
          "level. print() writes to stdout. A runtime error stops the run with a backtrace\n"
          "(file:line:col of each call, the source line and a caret) on stderr and exit\n"
          "status 1; compile errors are reported like 'faultbox check' does.",
      .flags = {{"max-steps", FlagKind::kValue, "N",
                 "stop with an error after N steps (loop iterations, jumps, calls)"},
                kMaxMemoryFlag},
      .run = run_eval,
  };
  return command;
}

}  // namespace fb::cli
