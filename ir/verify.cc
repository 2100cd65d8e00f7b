#include <algorithm>
#include <string>
#include <vector>

#include "ir/module.h"

namespace fb::ir {
namespace {

/// Checks one function: operands in range, and a consistent stack depth at every pc
/// over all paths (no underflow, every path ends in RETURN).
class FunctionVerifier {
 public:
  FunctionVerifier(const Module& module, std::uint32_t index, std::vector<std::string>& problems)
      : module_(module), fn_(module.functions[index]), index_(index), problems_(problems) {}

  /// The deepest stack any path reaches (valid after run() found no problem).
  std::uint32_t max_depth() const { return max_depth_; }
  bool check_declared_max = true;

  void run() {
    if (fn_.code.empty()) return problem(0, "empty code");
    if (fn_.params.size() > fn_.num_locals) problem(0, "more parameters than locals");
    if (fn_.free_sources.size() != fn_.freevars.size())
      problem(0, "free variable sources do not match");
    for (std::uint32_t c : fn_.cells) {
      if (c >= fn_.num_locals) problem(0, "cell slot out of range");
    }
    for (std::uint32_t pc = 0; pc < fn_.code.size(); ++pc) check_operand(pc);
    if (!problems_.empty()) return;
    flow();
  }

 private:
  void problem(std::uint32_t pc, const std::string& what) {
    problems_.push_back("function " + std::to_string(index_) + " (" + fn_.name + ") pc " +
                        std::to_string(pc) + ": " + what);
  }

  void check_operand(std::uint32_t pc) {
    Instr instr = fn_.code[pc];
    if (static_cast<std::size_t>(opcode(instr)) >= op_count()) return problem(pc, "unknown opcode");
    std::uint32_t n = operand(instr);
    auto within = [&](std::size_t size, const char* what) {
      if (n >= size) problem(pc, std::string(what) + " " + std::to_string(n) + " out of range");
    };
    Op op = opcode(instr);
    if (op == Op::CELL || op == Op::SET_CELL || op == Op::LOCAL || op == Op::SET_LOCAL) {
      // Cell slots are reached only through CELL/SET_CELL, and the others never.
      bool is_cell = std::find(fn_.cells.begin(), fn_.cells.end(), n) != fn_.cells.end();
      if (is_cell != (op == Op::CELL || op == Op::SET_CELL))
        return problem(pc, "local " + std::to_string(n) + " accessed as the wrong kind of slot");
    }
    if (op == Op::MAKE_FUNC && n < module_.functions.size())
      check_captures(pc, module_.functions[n]);
    // Only JUMP may go backwards: the VM charges its step budget there, so every loop
    // in valid code pays for itself.
    bool conditional = op == Op::JUMP_IF_FALSE || op == Op::JUMP_IF_TRUE || op == Op::AND_JUMP ||
                       op == Op::OR_JUMP || op == Op::ITER_NEXT;
    if (conditional && n <= pc) return problem(pc, "conditional jump backwards");
    switch (op_info(op).operand) {
      case OperandKind::kConstant: return within(module_.constants.size(), "constant");
      case OperandKind::kLocal: return within(fn_.num_locals, "local");
      case OperandKind::kFree: return within(fn_.freevars.size(), "free variable");
      case OperandKind::kGlobal: return within(module_.globals.size(), "global");
      case OperandKind::kName: return within(module_.names.size(), "name");
      case OperandKind::kTarget: return within(fn_.code.size(), "jump target");
      case OperandKind::kFunction:
        if (n == 0) return problem(pc, "MAKE_FUNC of the top level");
        return within(module_.functions.size(), "function");
      case OperandKind::kCallSite: return within(module_.calls.size(), "call site");
      case OperandKind::kLoad: return within(module_.loads.size(), "load");
      default: return;
    }
  }

  /// A closure made here takes its captured variables from this function's cells or
  /// its own captured variables.
  void check_captures(std::uint32_t pc, const Function& child) {
    for (const FreeSource& s : child.free_sources) {
      bool ok = s.from_cell
                    ? std::find(fn_.cells.begin(), fn_.cells.end(), s.index) != fn_.cells.end()
                    : s.index < fn_.freevars.size();
      if (!ok)
        problem(pc, "closure " + child.name + " captures a variable this function does not have");
    }
  }

  void flow() {
    std::vector<int> depth(fn_.code.size(), -1);
    std::vector<std::uint32_t> work{0};
    depth[0] = 0;
    std::uint32_t max = 0;
    auto reach = [&](std::uint32_t from, std::uint32_t to, int d) {
      if (to >= fn_.code.size()) return problem(from, "falls off the end of the code");
      if (depth[to] == -1) {
        depth[to] = d;
        work.push_back(to);
      } else if (depth[to] != d) {
        problem(to, "stack depth " + std::to_string(depth[to]) + " and " + std::to_string(d) +
                        " meet here");
      }
    };
    while (!work.empty() && problems_.size() < 20) {
      std::uint32_t pc = work.back();
      work.pop_back();
      Instr instr = fn_.code[pc];
      Op op = opcode(instr);
      StackUse use = stack_use(module_, instr);
      int d = depth[pc];
      if (d < static_cast<int>(use.pops)) {
        problem(pc, "stack underflow");
        continue;
      }
      int after = d - static_cast<int>(use.pops) + static_cast<int>(use.pushes);
      max = std::max<std::uint32_t>(max, static_cast<std::uint32_t>(std::max(after, d)));
      std::uint32_t target = operand(instr);
      switch (op) {
        case Op::RETURN: break;
        case Op::JUMP: reach(pc, target, d); break;
        case Op::JUMP_IF_FALSE:
        case Op::JUMP_IF_TRUE:
          reach(pc, target, after);
          reach(pc, pc + 1, after);
          break;
        case Op::AND_JUMP:
        case Op::OR_JUMP:
          reach(pc, target, d);
          reach(pc, pc + 1, after);
          break;
        case Op::ITER_NEXT:
          reach(pc, target, d - 1);
          reach(pc, pc + 1, d + 1);
          break;
        default: reach(pc, pc + 1, after);
      }
    }
    max_depth_ = max;
    if (check_declared_max && problems_.empty() && max > fn_.max_stack) {
      problem(0, "max_stack " + std::to_string(fn_.max_stack) + " is below the real depth " +
                     std::to_string(max));
    }
  }

  const Module& module_;
  const Function& fn_;
  std::uint32_t index_;
  std::vector<std::string>& problems_;
  std::uint32_t max_depth_ = 0;
};

}  // namespace

std::uint32_t max_stack_depth(const Module& module, std::uint32_t function,
                              std::vector<std::string>& problems) {
  FunctionVerifier verifier(module, function, problems);
  verifier.check_declared_max = false;
  verifier.run();
  return verifier.max_depth();
}

std::vector<std::string> verify(const Module& module) {
  std::vector<std::string> problems;
  if (module.functions.empty()) problems.push_back("module has no top-level function");
  for (std::uint32_t i = 0; i < module.functions.size(); ++i)
    FunctionVerifier(module, i, problems).run();
  for (const StaticFact& f : module.facts) {
    if (f.function >= module.functions.size())
      problems.push_back("static fact in a function that does not exist");
  }
  // Every location must name a source file the module carries (backtraces read them).
  auto check_span = [&](const Span& s, const std::string& where) {
    if (s.file >= module.files.size()) {
      problems.push_back(where + " refers to source file " + std::to_string(s.file) +
                         ", which the module does not have");
    }
  };
  for (const Function& fn : module.functions) {
    check_span(fn.span, "function " + fn.name);
    for (const auto& [pc, span] : fn.pc_spans)
      check_span(span, "function " + fn.name + " pc " + std::to_string(pc));
  }
  for (const LoadSite& l : module.loads) check_span(l.span, "load of " + l.module);
  return problems;
}

}  // namespace fb::ir
