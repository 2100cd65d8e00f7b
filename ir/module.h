#pragma once
/// The IR: a compiled spec as plain data. A Module holds the bytecode of every function
/// (index 0 is the file's top level), the constant and name pools, call-site shapes,
/// load statements, the source text for error excerpts, and the static facts the
/// planner reads. It depends on nothing: the compiler fills it, the VM runs it, the
/// serializer writes it to disk.

#include <climits>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fb::ir {

enum class Op : std::uint8_t {
#define FB_OP(name, operand, stack, summary) name,
#include "ir/opcodes.def"
#undef FB_OP
};

/// What an instruction's operand refers to.
enum class OperandKind : std::uint8_t {
  kNone,
  kConstant,
  kSigned,
  kLocal,
  kFree,
  kGlobal,
  kName,
  kCount,
  kTarget,
  kFunction,
  kCallSite,
  kLoad,
};

/// Stack effect of opcodes whose effect depends on the operand.
inline constexpr int kVariable = INT_MIN;

struct OpInfo {
  std::string_view name;
  OperandKind operand;
  int stack;
  std::string_view summary;
};

const OpInfo& op_info(Op op);
std::size_t op_count();

/// 32-bit instructions: 8-bit opcode, 24-bit operand.
using Instr = std::uint32_t;
inline constexpr std::uint32_t kMaxOperand = (1u << 24) - 1;
inline constexpr std::int32_t kMinSmallInt = -(1 << 23);
inline constexpr std::int32_t kMaxSmallInt = (1 << 23) - 1;

inline Instr encode(Op op, std::uint32_t operand) {
  return static_cast<std::uint32_t>(op) | (operand << 8);
}
inline Op opcode(Instr instr) { return static_cast<Op>(instr & 0xFF); }
inline std::uint32_t operand(Instr instr) { return instr >> 8; }
inline std::int32_t signed_operand(Instr instr) { return static_cast<std::int32_t>(instr) >> 8; }

/// A source location: a file of Module::files and a byte range.
struct Span {
  std::uint32_t file = 0;
  std::uint32_t offset = 0;
  std::uint32_t length = 0;
  friend bool operator==(const Span&, const Span&) = default;
};

struct SourceText {
  std::string path;
  std::string text;
  friend bool operator==(const SourceText&, const SourceText&) = default;
};

struct Constant {
  enum class Kind : std::uint8_t { kInt, kBigInt, kFloat, kString, kBytes } kind = Kind::kInt;
  std::int64_t int_value = 0;
  double float_value = 0;
  std::string text;  // kString, kBytes, and kBigInt (decimal digits, optional '-')
  friend bool operator==(const Constant&, const Constant&) = default;
};

/// The argument shape of one call: positionals, then keywords (names), then optional
/// *args and **kwargs values, all on the stack above the callee in that order.
struct CallSite {
  std::uint32_t positional = 0;
  std::vector<std::uint32_t> keywords;  // indices into Module::names
  bool star = false;
  bool star_star = false;
  friend bool operator==(const CallSite&, const CallSite&) = default;
};

struct LoadSite {
  std::string module;
  std::vector<std::string> symbols;  // names exported by the module, in push order
  Span span;
  friend bool operator==(const LoadSite&, const LoadSite&) = default;
};

struct Param {
  enum class Kind : std::uint8_t { kPositional, kKeywordOnly, kVarargs, kKwargs } kind;
  std::string name;
  bool has_default = false;
  friend bool operator==(const Param&, const Param&) = default;
};

/// Where MAKE_FUNC finds a captured variable in the creating frame.
struct FreeSource {
  bool from_cell = true;  // a cell local of the creator; else one of its own free vars
  std::uint32_t index = 0;
  friend bool operator==(const FreeSource&, const FreeSource&) = default;
};

struct Function {
  std::string name;
  Span span;
  /// Parameters in slot order: positional, keyword-only, *args, **kwargs. Parameter i
  /// lives in local slot i. MAKE_FUNC pops one default per parameter with has_default,
  /// in parameter order.
  std::vector<Param> params;
  std::uint32_t num_locals = 0;
  std::vector<std::string> local_names;  // for backtraces and the disassembler
  std::vector<std::uint32_t> cells;      // local slots that live in cells
  std::vector<std::string> freevars;
  std::vector<FreeSource> free_sources;
  std::vector<Instr> code;
  /// (pc, span) pairs sorted by pc: the span of pc is the last entry at or before it.
  std::vector<std::pair<std::uint32_t, Span>> pc_spans;
  std::uint32_t max_stack = 0;
  friend bool operator==(const Function&, const Function&) = default;

  Span span_at(std::uint32_t pc) const;
};

/// A call to a planning-relevant builtin (choose, parallel, fault, deny, ...), with
/// each argument's value when the compiler could fold it to a literal.
struct StaticFact {
  struct Arg {
    std::string keyword;  // empty for a positional argument
    bool literal = false;
    Constant value;     // when literal (strings, numbers); lists of literals as text
    std::string shape;  // "list[3]", "lambda", "name db", "call deny" ... when not
    friend bool operator==(const Arg&, const Arg&) = default;
  };
  std::string builtin;
  Span span;
  std::uint32_t function = 0;  // the function holding the call
  std::vector<Arg> args;
  friend bool operator==(const StaticFact&, const StaticFact&) = default;
};

inline constexpr std::uint32_t kFormatVersion = 1;

struct Module {
  std::vector<SourceText> files;
  std::vector<Constant> constants;
  std::vector<std::string> names;
  std::vector<CallSite> calls;
  std::vector<LoadSite> loads;
  std::vector<Function> functions;  // [0] is the top level
  std::vector<std::string> globals;
  std::vector<StaticFact> facts;
  friend bool operator==(const Module&, const Module&) = default;
};

/// What an instruction pops and pushes on its fall-through path. Jumps differ on the
/// taken path: AND_JUMP/OR_JUMP keep TOS, ITER_NEXT pops the iterator.
struct StackUse {
  std::uint32_t pops;
  std::uint32_t pushes;
};
StackUse stack_use(const Module& module, Instr instr);

/// The operand as the disassembler shows it ("3 x", "\"text\"", "-> 12").
std::string describe_operand(const Module& module, const Function& fn, Instr instr);

/// Human-readable listing of every function (`faultbox compile --emit=ir`).
std::string disassemble(const Module& module);

/// Checks operand ranges, jump targets and stack depth along every path. Returns the
/// problems found (empty when the module is well formed). The VM runs only verified code.
std::vector<std::string> verify(const Module& module);

/// The deepest stack function `function` reaches on any path (what the compiler
/// records as max_stack). Problems found on the way are appended to `problems`.
std::uint32_t max_stack_depth(const Module& module, std::uint32_t function,
                              std::vector<std::string>& problems);

}  // namespace fb::ir
