#include "compiler/lower.h"

#include "ir/arith.h"

#include <map>
#include <optional>
#include <set>
#include <stdexcept>

namespace fb::compiler {
namespace {

using ir::floor_div;
using ir::floor_mod;

using ast::Expr;
using ast::ExprKind;
using ast::Stmt;
using ast::StmtKind;
using ir::Op;

/// Builtins whose calls the planner needs to see before anything runs.
const std::set<std::string, std::less<>> kFactBuiltins = {
    "choose",   "parallel",       "fault",       "fault_start", "fault_all", "fault_assumption",
    "trace",    "trace_start",    "op",          "deny",        "delay",     "test",
    "scenario", "fault_scenario", "fault_matrix"};

ir::Span to_ir(const grammar::Span& s) { return ir::Span{0, s.offset, s.length}; }

// ---- constant folding -------------------------------------------------------------------

std::optional<ir::Constant> int_constant(std::int64_t v) {
  ir::Constant c;
  c.kind = ir::Constant::Kind::kInt;
  c.int_value = v;
  return c;
}

std::optional<ir::Constant> fold(const Expr& e);

std::optional<ir::Constant> fold_int_binary(ast::BinaryOp op, std::int64_t a, std::int64_t b) {
  std::int64_t r = 0;
  switch (op) {
    case ast::BinaryOp::kAdd:
      return __builtin_add_overflow(a, b, &r) ? std::nullopt : int_constant(r);
    case ast::BinaryOp::kSub:
      return __builtin_sub_overflow(a, b, &r) ? std::nullopt : int_constant(r);
    case ast::BinaryOp::kMul:
      return __builtin_mul_overflow(a, b, &r) ? std::nullopt : int_constant(r);
    case ast::BinaryOp::kFloorDiv:
      if (b == 0 || (a == INT64_MIN && b == -1)) return std::nullopt;
      return int_constant(floor_div(a, b));
    case ast::BinaryOp::kMod:
      if (b == 0 || (a == INT64_MIN && b == -1)) return std::nullopt;
      return int_constant(floor_mod(a, b));
    case ast::BinaryOp::kBitAnd: return int_constant(a & b);
    case ast::BinaryOp::kBitOr: return int_constant(a | b);
    case ast::BinaryOp::kBitXor: return int_constant(a ^ b);
    case ast::BinaryOp::kShl:
      if (b < 0 || b >= 62 || a < 0 || a > (INT64_MAX >> b)) return std::nullopt;
      return int_constant(a << b);
    case ast::BinaryOp::kShr:
      if (b < 0) return std::nullopt;
      return int_constant(b >= 63 ? (a < 0 ? -1 : 0) : a >> b);
    default: return std::nullopt;  // comparisons, / (float result) and the rest run at run time
  }
}

std::optional<ir::Constant> fold(const Expr& e) {
  switch (e.kind) {
    case ExprKind::kInt: {
      const auto& v = e.as<ast::IntLit>().value;
      if (!v.big) return int_constant(v.small);
      ir::Constant c;
      c.kind = ir::Constant::Kind::kBigInt;
      c.text = v.decimal;
      return c;
    }
    case ExprKind::kFloat: {
      ir::Constant c;
      c.kind = ir::Constant::Kind::kFloat;
      c.float_value = e.as<ast::FloatLit>().value;
      return c;
    }
    case ExprKind::kString:
    case ExprKind::kBytes: {
      ir::Constant c;
      c.kind =
          e.kind == ExprKind::kString ? ir::Constant::Kind::kString : ir::Constant::Kind::kBytes;
      c.text = e.as<ast::StringLit>().value;
      return c;
    }
    case ExprKind::kUnary: {
      const auto& u = e.as<ast::Unary>();
      auto x = fold(*u.operand);
      if (!x) return std::nullopt;
      if (x->kind == ir::Constant::Kind::kInt) {
        if (u.op == ast::UnaryOp::kMinus && x->int_value != INT64_MIN)
          return int_constant(-x->int_value);
        if (u.op == ast::UnaryOp::kPlus) return x;
        if (u.op == ast::UnaryOp::kInvert) return int_constant(~x->int_value);
      }
      if (x->kind == ir::Constant::Kind::kFloat && u.op == ast::UnaryOp::kMinus) {
        x->float_value = -x->float_value;
        return x;
      }
      return std::nullopt;
    }
    case ExprKind::kBinary: {
      const auto& b = e.as<ast::Binary>();
      auto l = fold(*b.left);
      if (!l) return std::nullopt;
      auto r = fold(*b.right);
      if (!r) return std::nullopt;
      if (l->kind == ir::Constant::Kind::kInt && r->kind == ir::Constant::Kind::kInt) {
        return fold_int_binary(b.op, l->int_value, r->int_value);
      }
      if (b.op == ast::BinaryOp::kAdd && l->kind == r->kind &&
          (l->kind == ir::Constant::Kind::kString || l->kind == ir::Constant::Kind::kBytes)) {
        l->text += r->text;
        return l;
      }
      return std::nullopt;
    }
    default: return std::nullopt;
  }
}

// ---- lowering ---------------------------------------------------------------------------

class Lowering {
 public:
  Lowering(const ast::Module& module, const grammar::SourceFile& file)
      : ast_(module), file_(file) {}

  ir::Module run() {
    m_.files.push_back(ir::SourceText{file_.path(), std::string(file_.text())});
    m_.globals = ast_.globals;
    ir::Function top;
    top.name = "<toplevel>";
    top.span = ir::Span{0, 0, 0};
    set_locals(top, ast_.toplevel);
    m_.functions.push_back(std::move(top));
    current_ = 0;
    for (const auto& s : ast_.body) statement(*s);
    emit(Op::NONE, 0, last_span());
    emit(Op::RETURN, 0, last_span());
    measure_stacks();
    return std::move(m_);
  }

 private:
  struct Loop {
    bool is_for;
    std::uint32_t continue_pc;
    std::vector<std::uint32_t> breaks;
  };

  ir::Function& fn() { return m_.functions[current_]; }

  static void set_locals(ir::Function& f, const ast::FunctionInfo& info) {
    f.num_locals = static_cast<std::uint32_t>(info.locals.size());
    f.local_names = info.locals;
    f.cells = info.cells;
    f.freevars = info.freevars;
    for (const auto& s : info.free_sources)
      f.free_sources.push_back(ir::FreeSource{s.from_cell, s.index});
  }

  ir::Span last_span() { return fn().pc_spans.empty() ? fn().span : fn().pc_spans.back().second; }

  std::uint32_t emit(Op op, std::uint32_t operand, const ir::Span& span) {
    if (operand > ir::kMaxOperand) throw std::length_error("operand too large for the bytecode");
    auto pc = static_cast<std::uint32_t>(fn().code.size());
    if (fn().pc_spans.empty() || !(fn().pc_spans.back().second == span))
      fn().pc_spans.emplace_back(pc, span);
    fn().code.push_back(ir::encode(op, operand));
    return pc;
  }
  std::uint32_t emit(Op op, std::uint32_t operand, const grammar::Span& span) {
    return emit(op, operand, to_ir(span));
  }

  std::uint32_t here() { return static_cast<std::uint32_t>(fn().code.size()); }
  void patch(std::uint32_t pc, std::uint32_t target) {
    fn().code[pc] = ir::encode(ir::opcode(fn().code[pc]), target);
  }

  std::uint32_t name_index(const std::string& name) {
    auto [it, added] = names_.emplace(name, static_cast<std::uint32_t>(m_.names.size()));
    if (added) m_.names.push_back(name);
    return it->second;
  }

  std::uint32_t constant_index(const ir::Constant& c) {
    for (std::uint32_t i = 0; i < m_.constants.size(); ++i) {
      if (m_.constants[i] == c) return i;
    }
    m_.constants.push_back(c);
    return static_cast<std::uint32_t>(m_.constants.size() - 1);
  }

  void emit_constant(const ir::Constant& c, const grammar::Span& span) {
    if (c.kind == ir::Constant::Kind::kInt && c.int_value >= ir::kMinSmallInt &&
        c.int_value <= ir::kMaxSmallInt) {
      emit(Op::SMALL_INT, static_cast<std::uint32_t>(c.int_value) & ir::kMaxOperand, span);
      return;
    }
    emit(Op::CONST, constant_index(c), span);
  }

  std::uint32_t temp() {
    std::uint32_t slot = fn().num_locals++;
    fn().local_names.push_back("$tmp" + std::to_string(slot));
    return slot;
  }

  // ---- statements -------------------------------------------------------------------------

  void block(const std::vector<ast::StmtPtr>& body) {
    for (const auto& s : body) statement(*s);
  }

  void statement(const Stmt& s) {
    switch (s.kind) {
      case StmtKind::kExpr:
        expr(*s.as<ast::ExprStmt>().expr);
        emit(Op::POP, 0, s.span);
        return;
      case StmtKind::kAssign: return assign(s.as<ast::Assign>());
      case StmtKind::kDef: {
        const auto& d = s.as<ast::Def>();
        function(*d.function, d.span);
        return store(*d.name);
      }
      case StmtKind::kIf: return if_stmt(s.as<ast::If>());
      case StmtKind::kFor: return for_stmt(s.as<ast::For>());
      case StmtKind::kWhile: return while_stmt(s.as<ast::While>());
      case StmtKind::kReturn: {
        const auto& r = s.as<ast::Return>();
        if (r.value) {
          expr(*r.value);
        } else {
          emit(Op::NONE, 0, s.span);
        }
        emit(Op::RETURN, 0, s.span);
        return;
      }
      case StmtKind::kBreak: {
        Loop& loop = loops_.back();
        if (loop.is_for) emit(Op::ITER_END, 0, s.span);
        loop.breaks.push_back(emit(Op::JUMP, 0, s.span));
        return;
      }
      case StmtKind::kContinue: emit(Op::JUMP, loops_.back().continue_pc, s.span); return;
      case StmtKind::kPass: return;
      case StmtKind::kLoad: return load(s.as<ast::Load>());
    }
  }

  void assign(const ast::Assign& a) {
    if (!a.augmented) {
      expr(*a.value);
      return store(*a.target);
    }
    Op op = binary_op(a.op, /*augmented=*/true);
    const Expr& t = *a.target;
    if (t.kind == ExprKind::kName) {
      expr(t);
      expr(*a.value);
      emit(op, 0, a.op_span);
      return store(t);
    }
    if (t.kind == ExprKind::kDot) {
      // x.f += v: evaluate x once.
      const auto& d = t.as<ast::Dot>();
      std::uint32_t obj = temp();
      expr(*d.object);
      emit(Op::SET_LOCAL, obj, d.span);
      emit(Op::LOCAL, obj, d.span);
      emit(Op::ATTR, name_index(d.attr), d.attr_span);
      expr(*a.value);
      emit(op, 0, a.op_span);
      emit(Op::LOCAL, obj, d.span);
      emit(Op::SET_ATTR, name_index(d.attr), d.attr_span);
      return;
    }
    // x[i] += v: evaluate x and i once.
    const auto& ix = t.as<ast::Index>();
    std::uint32_t obj = temp(), key = temp();
    expr(*ix.object);
    emit(Op::SET_LOCAL, obj, ix.span);
    expr(*ix.index);
    emit(Op::SET_LOCAL, key, ix.span);
    emit(Op::LOCAL, obj, ix.span);
    emit(Op::LOCAL, key, ix.span);
    emit(Op::INDEX, 0, ix.span);
    expr(*a.value);
    emit(op, 0, a.op_span);
    emit(Op::LOCAL, obj, ix.span);
    emit(Op::LOCAL, key, ix.span);
    emit(Op::SET_INDEX, 0, ix.span);
  }

  /// Pops TOS into an assignment target.
  void store(const Expr& t) {
    switch (t.kind) {
      case ExprKind::kName: {
        const auto& n = t.as<ast::Name>();
        switch (n.scope) {
          case ast::Scope::kLocal: emit(Op::SET_LOCAL, n.index, n.span); return;
          case ast::Scope::kCell: emit(Op::SET_CELL, n.index, n.span); return;
          case ast::Scope::kGlobal: emit(Op::SET_GLOBAL, n.index, n.span); return;
          default: throw std::logic_error("store to an unassignable name '" + n.id + "'");
        }
      }
      case ExprKind::kTuple:
      case ExprKind::kList: {
        const auto& items = t.as<ast::Sequence>().items;
        emit(Op::UNPACK, static_cast<std::uint32_t>(items.size()), t.span);
        for (const auto& item : items) store(*item);
        return;
      }
      case ExprKind::kDot: {
        const auto& d = t.as<ast::Dot>();
        expr(*d.object);
        emit(Op::SET_ATTR, name_index(d.attr), d.attr_span);
        return;
      }
      case ExprKind::kIndex: {
        const auto& ix = t.as<ast::Index>();
        expr(*ix.object);
        expr(*ix.index);
        emit(Op::SET_INDEX, 0, ix.span);
        return;
      }
      default: throw std::logic_error("store to an invalid target");
    }
  }

  void if_stmt(const ast::If& s) {
    expr(*s.cond);
    std::uint32_t to_else = emit(Op::JUMP_IF_FALSE, 0, s.span);
    block(s.then_body);
    if (s.else_body.empty()) return patch(to_else, here());
    std::uint32_t to_end = emit(Op::JUMP, 0, s.span);
    patch(to_else, here());
    block(s.else_body);
    patch(to_end, here());
  }

  void for_stmt(const ast::For& s) {
    expr(*s.iterable);
    emit(Op::ITER_START, 0, s.span);
    std::uint32_t next = emit(Op::ITER_NEXT, 0, s.span);
    store(*s.target);
    loops_.push_back(Loop{true, next, {}});
    block(s.body);
    emit(Op::JUMP, next, s.span);
    finish_loop(next);
  }

  void while_stmt(const ast::While& s) {
    std::uint32_t top = here();
    expr(*s.cond);
    std::uint32_t exit = emit(Op::JUMP_IF_FALSE, 0, s.span);
    loops_.push_back(Loop{false, top, {}});
    block(s.body);
    emit(Op::JUMP, top, s.span);
    finish_loop(exit);
  }

  /// Points the loop's exit jump and every break at the first instruction after it.
  void finish_loop(std::uint32_t exit) {
    patch(exit, here());
    for (std::uint32_t b : loops_.back().breaks) patch(b, here());
    loops_.pop_back();
  }

  void load(const ast::Load& l) {
    ir::LoadSite site;
    site.module = l.module;
    site.span = to_ir(l.span);
    for (const auto& b : l.bindings) site.symbols.push_back(b.symbol);
    m_.loads.push_back(std::move(site));
    emit(Op::LOAD, static_cast<std::uint32_t>(m_.loads.size() - 1), l.span);
    // The symbols are pushed in order, so the last is on top.
    for (auto it = l.bindings.rbegin(); it != l.bindings.rend(); ++it) store(*it->local);
  }

  // ---- functions --------------------------------------------------------------------------

  /// Evaluates the defaults, then MAKE_FUNC; leaves the closure on the stack.
  void function(const ast::Function& f, const grammar::Span& span) {
    ir::Function out;
    out.name = f.name;
    out.span = to_ir(f.span);
    using K = ast::Parameter::Kind;
    for (K pass : {K::kRequired, K::kVarargs, K::kKwargs}) {
      bool keyword_only = false;
      for (const auto& p : f.params) {
        if (p.kind == K::kStarMarker || p.kind == K::kVarargs) keyword_only = true;
        bool named = p.kind == K::kRequired || p.kind == K::kOptional;
        if (pass == K::kRequired ? !named : p.kind != pass) continue;
        ir::Param param;
        param.name = p.name;
        param.has_default = p.kind == K::kOptional;
        param.kind = pass == K::kVarargs  ? ir::Param::Kind::kVarargs
                     : pass == K::kKwargs ? ir::Param::Kind::kKwargs
                     : keyword_only       ? ir::Param::Kind::kKeywordOnly
                                          : ir::Param::Kind::kPositional;
        out.params.push_back(std::move(param));
      }
    }
    // Defaults, in parameter (slot) order, evaluated in the creating scope. Keyword-only
    // parameters follow the positional ones in the source too, so source order is slot order.
    for (const auto& p : f.params) {
      if (p.kind == K::kOptional) expr(*p.default_value);
    }
    set_locals(out, f.info);
    auto index = static_cast<std::uint32_t>(m_.functions.size());
    m_.functions.push_back(std::move(out));
    std::uint32_t saved = current_;
    std::vector<Loop> saved_loops = std::move(loops_);
    loops_.clear();
    current_ = index;
    block(f.body);
    emit(Op::NONE, 0, last_span());
    emit(Op::RETURN, 0, last_span());
    current_ = saved;
    loops_ = std::move(saved_loops);
    emit(Op::MAKE_FUNC, index, span);
  }

  // ---- expressions ------------------------------------------------------------------------

  void expr(const Expr& e) {
    if (auto folded = fold(e)) return emit_constant(*folded, e.span);
    switch (e.kind) {
      case ExprKind::kName: return name(e.as<ast::Name>());
      case ExprKind::kList:
      case ExprKind::kTuple: {
        const auto& items = e.as<ast::Sequence>().items;
        for (const auto& item : items) expr(*item);
        emit(e.kind == ExprKind::kList ? Op::MAKE_LIST : Op::MAKE_TUPLE,
             static_cast<std::uint32_t>(items.size()), e.span);
        return;
      }
      case ExprKind::kDict: {
        const auto& entries = e.as<ast::Dict>().entries;
        for (const auto& entry : entries) {
          expr(*entry.key);
          expr(*entry.value);
        }
        emit(Op::MAKE_DICT, static_cast<std::uint32_t>(entries.size()), e.span);
        return;
      }
      case ExprKind::kComprehension: return comprehension(e.as<ast::Comprehension>());
      case ExprKind::kUnary: {
        const auto& u = e.as<ast::Unary>();
        expr(*u.operand);
        static constexpr Op kOps[] = {Op::UPLUS, Op::UMINUS, Op::INVERT, Op::NOT};
        emit(kOps[static_cast<int>(u.op)], 0, e.span);
        return;
      }
      case ExprKind::kBinary: return binary(e.as<ast::Binary>());
      case ExprKind::kConditional: {
        const auto& c = e.as<ast::Conditional>();
        expr(*c.cond);
        std::uint32_t to_else = emit(Op::JUMP_IF_FALSE, 0, e.span);
        expr(*c.then_expr);
        std::uint32_t to_end = emit(Op::JUMP, 0, e.span);
        patch(to_else, here());
        expr(*c.else_expr);
        patch(to_end, here());
        return;
      }
      case ExprKind::kLambda: return function(*e.as<ast::Lambda>().function, e.span);
      case ExprKind::kCall: return call(e.as<ast::Call>());
      case ExprKind::kDot: {
        const auto& d = e.as<ast::Dot>();
        expr(*d.object);
        emit(Op::ATTR, name_index(d.attr), d.attr_span);
        return;
      }
      case ExprKind::kIndex: {
        const auto& ix = e.as<ast::Index>();
        expr(*ix.object);
        expr(*ix.index);
        emit(Op::INDEX, 0, e.span);
        return;
      }
      case ExprKind::kSlice: {
        const auto& s = e.as<ast::Slice>();
        expr(*s.object);
        for (const auto* part : {&s.lo, &s.hi, &s.step}) {
          if (*part) {
            expr(**part);
          } else {
            emit(Op::NONE, 0, e.span);
          }
        }
        emit(Op::SLICE, 0, e.span);
        return;
      }
      default: throw std::logic_error("literal not folded");
    }
  }

  void name(const ast::Name& n) {
    switch (n.scope) {
      case ast::Scope::kLocal: emit(Op::LOCAL, n.index, n.span); return;
      case ast::Scope::kCell: emit(Op::CELL, n.index, n.span); return;
      case ast::Scope::kFree: emit(Op::FREE, n.index, n.span); return;
      case ast::Scope::kGlobal: emit(Op::GLOBAL, n.index, n.span); return;
      case ast::Scope::kPredeclared: emit(Op::PREDECLARED, name_index(n.id), n.span); return;
      case ast::Scope::kUniverse:
        if (n.id == "None") return (void)emit(Op::NONE, 0, n.span);
        if (n.id == "True") return (void)emit(Op::TRUE, 0, n.span);
        if (n.id == "False") return (void)emit(Op::FALSE, 0, n.span);
        emit(Op::UNIVERSE, name_index(n.id), n.span);
        return;
      case ast::Scope::kUnresolved: throw std::logic_error("unresolved name '" + n.id + "'");
    }
  }

  static Op binary_op(ast::BinaryOp op, bool augmented) {
    switch (op) {
      case ast::BinaryOp::kAdd: return augmented ? Op::INPLACE_ADD : Op::ADD;
      case ast::BinaryOp::kSub: return Op::SUB;
      case ast::BinaryOp::kMul: return Op::MUL;
      case ast::BinaryOp::kDiv: return Op::DIV;
      case ast::BinaryOp::kFloorDiv: return Op::FLOORDIV;
      case ast::BinaryOp::kMod: return Op::MOD;
      case ast::BinaryOp::kBitAnd: return Op::BITAND;
      case ast::BinaryOp::kBitOr: return Op::BITOR;
      case ast::BinaryOp::kBitXor: return Op::BITXOR;
      case ast::BinaryOp::kShl: return Op::SHL;
      case ast::BinaryOp::kShr: return Op::SHR;
      case ast::BinaryOp::kEq: return Op::EQ;
      case ast::BinaryOp::kNe: return Op::NE;
      case ast::BinaryOp::kLt: return Op::LT;
      case ast::BinaryOp::kGt: return Op::GT;
      case ast::BinaryOp::kLe: return Op::LE;
      case ast::BinaryOp::kGe: return Op::GE;
      case ast::BinaryOp::kIn: return Op::IN;
      case ast::BinaryOp::kNotIn: return Op::NOT_IN;
      default: throw std::logic_error("and/or are not binary opcodes");
    }
  }

  void binary(const ast::Binary& b) {
    expr(*b.left);
    if (b.op == ast::BinaryOp::kAnd || b.op == ast::BinaryOp::kOr) {
      std::uint32_t jump =
          emit(b.op == ast::BinaryOp::kAnd ? Op::AND_JUMP : Op::OR_JUMP, 0, b.op_span);
      expr(*b.right);
      patch(jump, here());
      return;
    }
    expr(*b.right);
    emit(binary_op(b.op, false), 0, b.op_span);
  }

  /// The accumulator stays below the iterators; LIST_APPEND/DICT_SET reach it by depth.
  void comprehension(const ast::Comprehension& c) {
    emit(c.is_dict ? Op::MAKE_DICT : Op::MAKE_LIST, 0, c.span);
    std::vector<std::uint32_t> nexts;  // ITER_NEXT of each for clause
    std::uint32_t depth = 0;           // iterators above the accumulator
    // Failed if-clauses: (jump pc, number of loops open at the if).
    std::vector<std::pair<std::uint32_t, std::size_t>> pending_skips;
    for (const auto& clause : c.clauses) {
      if (clause.kind == ast::CompClause::Kind::kFor) {
        expr(*clause.expr);
        emit(Op::ITER_START, 0, clause.span);
        nexts.push_back(emit(Op::ITER_NEXT, 0, clause.span));
        ++depth;
        store(*clause.target);
      } else {
        expr(*clause.expr);
        pending_skips.emplace_back(emit(Op::JUMP_IF_FALSE, 0, clause.span), nexts.size());
      }
    }
    expr(*c.body);
    if (c.is_dict) {
      expr(*c.value);
      emit(Op::DICT_SET, depth, c.span);
    } else {
      emit(Op::LIST_APPEND, depth, c.span);
    }
    // Close the loops innermost first; a failed if goes to its loop's next item (or, for
    // an if before any for, past the whole comprehension).
    std::vector<std::uint32_t> loop_ends(nexts.size() + 1, 0);
    for (std::size_t k = nexts.size(); k-- > 0;) {
      loop_ends[k + 1] = here();
      emit(Op::JUMP, nexts[k], c.span);
      patch(nexts[k], here());
    }
    loop_ends[0] = here();
    for (auto [pc, loops] : pending_skips) patch(pc, loop_ends[loops]);
  }

  /// x.f(args) compiles to METHOD + CALL_METHOD, which call built-in methods without
  /// allocating a bound method; any other callee to a plain CALL.
  void call(const ast::Call& c) {
    bool method = c.callee->kind == ExprKind::kDot;
    if (method) {
      const auto& d = c.callee->as<ast::Dot>();
      expr(*d.object);
      emit(Op::METHOD, name_index(d.attr), d.attr_span);
    } else {
      expr(*c.callee);
    }
    ir::CallSite site;
    for (const auto& a : c.args) {
      expr(*a.value);
      switch (a.kind) {
        case ast::Argument::Kind::kPositional: ++site.positional; break;
        case ast::Argument::Kind::kKeyword: site.keywords.push_back(name_index(a.name)); break;
        case ast::Argument::Kind::kStar: site.star = true; break;
        case ast::Argument::Kind::kStarStar: site.star_star = true; break;
      }
    }
    std::uint32_t index = call_site_index(site);
    emit(method ? Op::CALL_METHOD : Op::CALL, index, c.lparen);
    record_fact(c);
  }

  std::uint32_t call_site_index(const ir::CallSite& site) {
    for (std::uint32_t i = 0; i < m_.calls.size(); ++i) {
      if (m_.calls[i] == site) return i;
    }
    m_.calls.push_back(site);
    return static_cast<std::uint32_t>(m_.calls.size() - 1);
  }

  void record_fact(const ast::Call& c) {
    if (c.callee->kind != ExprKind::kName) return;
    const auto& callee = c.callee->as<ast::Name>();
    if (callee.scope != ast::Scope::kPredeclared || !kFactBuiltins.count(callee.id)) return;
    ir::StaticFact fact;
    fact.builtin = callee.id;
    fact.span = to_ir(c.span);
    fact.function = current_;
    for (const auto& a : c.args) {
      ir::StaticFact::Arg arg;
      arg.keyword = a.kind == ast::Argument::Kind::kKeyword    ? a.name
                    : a.kind == ast::Argument::Kind::kStar     ? "*"
                    : a.kind == ast::Argument::Kind::kStarStar ? "**"
                                                               : "";
      if (auto folded = fold(*a.value)) {
        arg.literal = true;
        arg.value = *folded;
      } else {
        arg.shape = shape(*a.value);
      }
      fact.args.push_back(std::move(arg));
    }
    m_.facts.push_back(std::move(fact));
  }

  /// How many items range(...) with literal int arguments has: the planner can count
  /// `choose("n", range(3))` without running anything.
  static std::optional<std::int64_t> range_length(const ast::Call& call) {
    if (call.callee->kind != ExprKind::kName || call.callee->as<ast::Name>().id != "range" ||
        call.callee->as<ast::Name>().scope != ast::Scope::kUniverse || call.args.empty() ||
        call.args.size() > 3)
      return std::nullopt;
    std::int64_t v[3] = {0, 0, 1};
    for (std::size_t i = 0; i < call.args.size(); ++i) {
      if (call.args[i].kind != ast::Argument::Kind::kPositional) return std::nullopt;
      auto c = fold(*call.args[i].value);
      if (!c || c->kind != ir::Constant::Kind::kInt) return std::nullopt;
      v[call.args.size() == 1 ? 1 : i] = c->int_value;
    }
    std::int64_t start = v[0], stop = v[1], step = v[2];
    if (step == 0) return std::nullopt;
    if (step > 0) return stop > start ? (stop - start + step - 1) / step : 0;
    return start > stop ? (start - stop - step - 1) / -step : 0;
  }

  static std::string shape(const Expr& e) {
    switch (e.kind) {
      case ExprKind::kName: return "name " + e.as<ast::Name>().id;
      case ExprKind::kList:
        return "list[" + std::to_string(e.as<ast::Sequence>().items.size()) + "]";
      case ExprKind::kTuple:
        return "tuple[" + std::to_string(e.as<ast::Sequence>().items.size()) + "]";
      case ExprKind::kDict: return "dict[" + std::to_string(e.as<ast::Dict>().entries.size()) + "]";
      case ExprKind::kLambda: return "lambda";
      case ExprKind::kDot: return "attr ." + e.as<ast::Dot>().attr;
      case ExprKind::kCall: {
        const auto& call = e.as<ast::Call>();
        const auto& callee = *call.callee;
        if (auto n = range_length(call)) return "range[" + std::to_string(*n) + "]";
        if (callee.kind == ExprKind::kName) return "call " + callee.as<ast::Name>().id;
        if (callee.kind == ExprKind::kDot) return "call ." + callee.as<ast::Dot>().attr;
        return "call";
      }
      default: return "expr";
    }
  }

  void measure_stacks() {
    for (std::uint32_t i = 0; i < m_.functions.size(); ++i) {
      std::vector<std::string> problems;
      m_.functions[i].max_stack = ir::max_stack_depth(m_, i, problems);
      if (!problems.empty())
        throw std::logic_error("compiler produced invalid code: " + problems.front());
    }
  }

  const ast::Module& ast_;
  const grammar::SourceFile& file_;
  ir::Module m_;
  std::map<std::string, std::uint32_t> names_;
  std::uint32_t current_ = 0;
  std::vector<Loop> loops_;
};

}  // namespace

ir::Module lower(const ast::Module& module, const grammar::SourceFile& file) {
  return Lowering(module, file).run();
}

}  // namespace fb::compiler
