#include "ir/module.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <sstream>

namespace fb::ir {
namespace {

constexpr std::array kOps = {
#define FB_OP(name, operand, stack, summary) OpInfo{#name, OperandKind::operand, stack, summary},
#include "ir/opcodes.def"
#undef FB_OP
};

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

}  // namespace

const OpInfo& op_info(Op op) { return kOps[static_cast<std::size_t>(op)]; }
std::size_t op_count() { return kOps.size(); }

Span Function::span_at(std::uint32_t pc) const {
  auto it = std::upper_bound(pc_spans.begin(), pc_spans.end(), pc,
                             [](std::uint32_t p, const auto& entry) { return p < entry.first; });
  if (it == pc_spans.begin()) return span;
  return std::prev(it)->second;
}

StackUse stack_use(const Module& module, Instr instr) {
  std::uint32_t n = operand(instr);
  Op op = opcode(instr);
  switch (op) {
    case Op::MAKE_LIST:
    case Op::MAKE_TUPLE: return {n, 1};
    case Op::MAKE_DICT: return {2 * n, 1};
    case Op::UNPACK: return {1, n};
    case Op::LIST_APPEND: return {n + 1, n};  // touches the list n below the value
    case Op::DICT_SET: return {n + 2, n};
    case Op::AND_JUMP:
    case Op::OR_JUMP: return {1, 0};    // on the fall-through path
    case Op::ITER_NEXT: return {1, 2};  // on the fall-through path
    case Op::MAKE_FUNC: {
      if (n >= module.functions.size()) return {0, 1};
      const auto& params = module.functions[n].params;
      auto defaults = static_cast<std::uint32_t>(std::count_if(
          params.begin(), params.end(), [](const Param& p) { return p.has_default; }));
      return {defaults, 1};
    }
    case Op::METHOD: return {1, 2};
    case Op::CALL:
    case Op::CALL_METHOD: {
      std::uint32_t callee = op == Op::CALL_METHOD ? 2 : 1;
      if (n >= module.calls.size()) return {callee, 1};
      const CallSite& c = module.calls[n];
      return {callee + c.positional + static_cast<std::uint32_t>(c.keywords.size()) +
                  (c.star ? 1 : 0) + (c.star_star ? 1 : 0),
              1};
    }
    case Op::LOAD:
      return {0, n < module.loads.size()
                     ? static_cast<std::uint32_t>(module.loads[n].symbols.size())
                     : 0};
    case Op::INDEX: return {2, 1};
    case Op::SET_INDEX: return {3, 0};
    case Op::SLICE: return {4, 1};
    case Op::ATTR: return {1, 1};
    case Op::SET_ATTR: return {2, 0};
    case Op::DUP: return {1, 2};
    case Op::DUP2: return {2, 4};
    case Op::UPLUS:
    case Op::UMINUS:
    case Op::INVERT:
    case Op::NOT:
    case Op::ITER_START: return {1, 1};
    default: break;
  }
  int effect = op_info(op).stack;
  if (effect >= 0) return {0, static_cast<std::uint32_t>(effect)};
  // Binary operators and the rest pop |effect| + 1 and push 1, except pure pops.
  switch (op) {
    case Op::POP:
    case Op::SET_LOCAL:
    case Op::SET_CELL:
    case Op::SET_GLOBAL:
    case Op::JUMP_IF_FALSE:
    case Op::JUMP_IF_TRUE:
    case Op::ITER_END:
    case Op::RETURN: return {static_cast<std::uint32_t>(-effect), 0};
    default: return {static_cast<std::uint32_t>(1 - effect), 1};
  }
}

std::string describe_operand(const Module& module, const Function& fn, Instr instr) {
  std::uint32_t n = operand(instr);
  auto name_at = [&](const std::vector<std::string>& v) {
    return n < v.size() ? v[n] : std::string("?");
  };
  switch (op_info(opcode(instr)).operand) {
    case OperandKind::kNone: return "";
    case OperandKind::kSigned: return std::to_string(signed_operand(instr));
    case OperandKind::kConstant: {
      if (n >= module.constants.size()) return std::to_string(n) + " ?";
      const Constant& c = module.constants[n];
      switch (c.kind) {
        case Constant::Kind::kInt: return std::to_string(c.int_value);
        case Constant::Kind::kBigInt: return c.text;
        case Constant::Kind::kFloat: {
          char buf[40];
          std::snprintf(buf, sizeof buf, "%.17g", c.float_value);
          return buf;
        }
        case Constant::Kind::kString: return quote(c.text);
        case Constant::Kind::kBytes: return "b" + quote(c.text);
      }
      return "?";
    }
    case OperandKind::kLocal: return std::to_string(n) + " " + name_at(fn.local_names);
    case OperandKind::kFree: return std::to_string(n) + " " + name_at(fn.freevars);
    case OperandKind::kGlobal: return std::to_string(n) + " " + name_at(module.globals);
    case OperandKind::kName: return name_at(module.names);
    case OperandKind::kCount: return std::to_string(n);
    case OperandKind::kTarget: return "-> " + std::to_string(n);
    case OperandKind::kFunction:
      return std::to_string(n) + " " +
             (n < module.functions.size() ? module.functions[n].name : "?");
    case OperandKind::kCallSite: {
      if (n >= module.calls.size()) return "?";
      const CallSite& c = module.calls[n];
      std::string s = "pos=" + std::to_string(c.positional);
      for (std::uint32_t k : c.keywords)
        s += " " + (k < module.names.size() ? module.names[k] : "?") + "=";
      if (c.star) s += " *args";
      if (c.star_star) s += " **kwargs";
      return s;
    }
    case OperandKind::kLoad: {
      if (n >= module.loads.size()) return "?";
      std::string s = quote(module.loads[n].module);
      for (const auto& sym : module.loads[n].symbols) s += " " + sym;
      return s;
    }
  }
  return "";
}

namespace {

std::string location(const Module& module, Span span) {
  if (span.file >= module.files.size()) return "?";
  const std::string& text = module.files[span.file].text;
  std::uint32_t line = 1, col = 1;
  for (std::uint32_t i = 0; i < span.offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      ++col;
    }
  }
  return std::to_string(line) + ":" + std::to_string(col);
}

void disassemble_function(const Module& module, std::uint32_t index, std::ostringstream& out) {
  const Function& fn = module.functions[index];
  out << "function " << index << " " << fn.name << " @" << location(module, fn.span) << "\n";
  out << "  params:";
  for (const Param& p : fn.params) {
    static const char* prefix[] = {"", "kw:", "*", "**"};
    out << " " << prefix[static_cast<int>(p.kind)] << p.name << (p.has_default ? "=" : "");
  }
  out << "\n  locals: " << fn.num_locals;
  if (!fn.cells.empty()) {
    out << "  cells:";
    for (auto c : fn.cells) out << " " << c;
  }
  if (!fn.freevars.empty()) {
    out << "  free:";
    for (std::size_t i = 0; i < fn.freevars.size(); ++i) {
      out << " " << fn.freevars[i] << "<-" << (fn.free_sources[i].from_cell ? "cell " : "free ")
          << fn.free_sources[i].index;
    }
  }
  out << "  max_stack: " << fn.max_stack << "\n";
  std::string last_location;
  for (std::uint32_t pc = 0; pc < fn.code.size(); ++pc) {
    Instr instr = fn.code[pc];
    char head[64];
    std::snprintf(head, sizeof head, "  %5u  %-14s", pc,
                  std::string(op_info(opcode(instr)).name).c_str());
    std::string line = head + describe_operand(module, fn, instr);
    std::string where = location(module, fn.span_at(pc));
    if (where != last_location) {
      line.resize(std::max<std::size_t>(line.size() + 1, 50), ' ');
      line += "; " + where;
      last_location = where;
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  }
}

}  // namespace

std::string disassemble(const Module& module) {
  std::ostringstream out;
  out << "module: " << module.functions.size() << " functions, " << module.constants.size()
      << " constants, " << module.globals.size() << " globals\n";
  for (std::uint32_t i = 0; i < module.functions.size(); ++i) {
    out << "\n";
    disassemble_function(module, i, out);
  }
  if (!module.facts.empty()) {
    out << "\nstatic facts:\n";
    for (const StaticFact& f : module.facts) {
      out << "  " << f.builtin << " @" << location(module, f.span) << " in "
          << module.functions[f.function].name << ":";
      for (const auto& a : f.args) {
        out << " " << (a.keyword.empty() ? "" : a.keyword + "=");
        if (a.literal) {
          Module tmp;
          tmp.constants.push_back(a.value);
          out << describe_operand(tmp, module.functions[0], encode(Op::CONST, 0));
        } else {
          out << "<" << a.shape << ">";
        }
      }
      out << "\n";
    }
  }
  return out.str();
}

}  // namespace fb::ir
