// The interpreter: frames, calls, and the dispatch loop. The loop is one long switch
// over ir/opcodes.def (the exception to the small-function habit); each case stays
// short by calling the operations of vm/ops.h, which report errors through the thread.
#include <algorithm>
#include <optional>
#include <sstream>

#include "vm/bigint.h"
#include "vm/methods.h"
#include "vm/ops.h"
#include "vm/thread.h"

namespace fb::vm {

using ir::Op;

const ir::Function& Function::code() const { return program->module.functions[index]; }

bool Thread::fail(std::string message) {
  if (error_.empty()) error_ = std::move(message);
  if (error_.empty()) error_ = "error";
  return false;
}

std::string Thread::call_site() const {
  if (!site_program || !site_code) return "";
  ir::Span span = site_code->span_at(site_pc);
  const auto& files = site_program->module.files;
  if (span.file >= files.size()) return "";
  const std::string& text = files[span.file].text;
  std::uint32_t line = 1, col = 1;
  for (std::uint32_t i = 0; i < span.offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return files[span.file].path + ":" + std::to_string(line) + ":" + std::to_string(col);
}

bool Thread::fail_limit(std::string message) {
  if (error_.empty()) limit_ = true;
  return fail(std::move(message));
}

void Thread::clear_error() {
  limit_ = false;
  error_.clear();
  backtrace_.clear();
}

Value* ValueArena::allocate(std::size_t n) {
  if (chunks_.empty() || top_ + n > sizes_[chunk_]) {
    // Move to the next chunk that fits (chunks are kept for reuse once allocated).
    std::size_t next = chunks_.empty() ? 0 : chunk_ + 1;
    while (next < chunks_.size() && sizes_[next] < n) ++next;
    if (next == chunks_.size()) {
      std::size_t size = std::max(kChunk, n);
      chunks_.push_back(std::make_unique<Value[]>(size));
      sizes_.push_back(size);
    }
    chunk_ = next;
    top_ = 0;
  }
  Value* p = chunks_[chunk_].get() + top_;
  top_ += n;
  return p;
}

void ValueArena::release(Mark m) {
  // Reset everything above the mark, chunk by chunk, back down to it.
  for (;;) {
    std::size_t from = chunk_ == m.chunk ? m.top : 0;
    Value* base = chunks_.empty() ? nullptr : chunks_[chunk_].get();
    for (std::size_t i = from; i < top_; ++i) base[i] = Value();
    if (chunk_ == m.chunk || chunks_.empty()) break;
    --chunk_;
    top_ = sizes_[chunk_];
    // Values below a chunk switch were never allocated in the skipped tail; clearing them
    // is harmless because they are already None.
  }
  chunk_ = m.chunk;
  top_ = m.top;
}

std::shared_ptr<Program> load_program(ir::Module module) {
  auto program = std::make_shared<Program>();
  program->module = std::move(module);
  for (const ir::Constant& c : program->module.constants) {
    switch (c.kind) {
      case ir::Constant::Kind::kInt:
        program->constants.push_back(Value::integer(c.int_value));
        break;
      case ir::Constant::Kind::kFloat:
        program->constants.push_back(Value::floating(c.float_value));
        break;
      case ir::Constant::Kind::kString: program->constants.push_back(make_string(c.text)); break;
      case ir::Constant::Kind::kBytes: program->constants.push_back(make_bytes(c.text)); break;
      case ir::Constant::Kind::kBigInt: {
        Int v;
        bool negative = c.text.starts_with("-");
        int_parse(std::string_view(c.text).substr(negative ? 1 : 0), 10, v);
        program->constants.push_back(make_int(negative ? int_neg(v) : v));
        break;
      }
    }
    if (program->constants.back().is_heap()) program->constants.back().object()->frozen = true;
  }
  program->globals.resize(program->module.globals.size());
  program->builtins.resize(program->module.names.size());
  program->assigned.assign(program->module.globals.size(), false);
  return program;
}

namespace {

/// A keyword argument on its way into a call.
struct KeywordRef {
  std::string_view name;
  Value* value;
};

/// Binds arguments to a Starlark function's parameter slots, with the errors Starlark
/// specifies. Argument values are moved from.
bool bind(Thread& thread, const Function& fn, Value* positional, std::size_t n,
          const KeywordRef* keywords, std::size_t nkw, Value* locals) {
  const ir::Function& code = fn.code();
  const auto& params = code.params;
  std::size_t positional_params = 0, named_params = 0;
  int varargs = -1, kwargs = -1;
  for (std::size_t i = 0; i < params.size(); ++i) {
    switch (params[i].kind) {
      case ir::Param::Kind::kPositional:
        ++positional_params;
        ++named_params;
        break;
      case ir::Param::Kind::kKeywordOnly: ++named_params; break;
      case ir::Param::Kind::kVarargs: varargs = static_cast<int>(i); break;
      case ir::Param::Kind::kKwargs: kwargs = static_cast<int>(i); break;
    }
  }
  if (n > positional_params && varargs < 0) {
    return thread.fail(code.name + "() accepts no more than " + std::to_string(positional_params) +
                       " positional argument" + (positional_params == 1 ? "" : "s") + " but got " +
                       std::to_string(n));
  }
  // A slot is set when it is no longer the None placeholder; track it explicitly since
  // None is a legitimate argument.
  std::uint64_t set_mask =
      0;  // functions with more than 64 named parameters use the slow check below
  std::vector<bool> set_big;
  if (named_params > 64) set_big.assign(named_params, false);
  auto is_set = [&](std::size_t k) {
    return named_params > 64 ? static_cast<bool>(set_big[k]) : ((set_mask >> k) & 1) != 0;
  };
  auto mark = [&](std::size_t k) {
    if (named_params > 64) {
      set_big[k] = true;
    } else {
      set_mask |= 1ULL << k;
    }
  };
  std::size_t direct = std::min(n, positional_params);
  for (std::size_t i = 0; i < direct; ++i) {
    locals[i] = std::move(positional[i]);
    mark(i);
  }
  if (varargs >= 0) {
    std::vector<Value> extra;
    for (std::size_t i = positional_params; i < n; ++i) extra.push_back(std::move(positional[i]));
    locals[static_cast<std::size_t>(varargs)] = make_tuple(std::move(extra));
  }
  Dict* extra_kw = nullptr;
  if (kwargs >= 0) {
    extra_kw = new Dict();
    locals[static_cast<std::size_t>(kwargs)] = Value::adopt(extra_kw);
  }
  for (std::size_t j = 0; j < nkw; ++j) {
    std::string_view name = keywords[j].name;
    std::size_t k = 0;
    while (k < named_params && params[k].name != name) ++k;
    if (k < named_params) {
      if (is_set(k))
        return thread.fail(code.name + "() got multiple values for parameter '" +
                           std::string(name) + "'");
      locals[k] = std::move(*keywords[j].value);
      mark(k);
      continue;
    }
    if (!extra_kw)
      return thread.fail(code.name + "() got an unexpected keyword argument '" + std::string(name) +
                         "'");
    bool error = false;
    Value key = make_string(std::string(name));
    if (dict_find(thread, *extra_kw, key, error)) {
      return thread.fail(code.name + "() got multiple values for keyword argument '" +
                         std::string(name) + "'");
    }
    dict_set(thread, *extra_kw, std::move(key), std::move(*keywords[j].value));
  }
  std::size_t next_default = 0;
  for (std::size_t k = 0; k < named_params; ++k) {
    if (params[k].has_default) {
      if (!is_set(k)) locals[k] = fn.defaults[next_default];
      ++next_default;
      continue;
    }
    if (!is_set(k)) return thread.fail(code.name + "() missing argument for " + params[k].name);
  }
  return true;
}

bool bind_arguments(Thread& thread, const Function& fn, Args& args, Value* locals) {
  std::vector<KeywordRef> keywords;
  keywords.reserve(args.keywords.size());
  for (auto& [name, value] : args.keywords) keywords.push_back(KeywordRef{name, &value});
  return bind(thread, fn, args.positional.data(), args.positional.size(), keywords.data(),
              keywords.size(), locals);
}

/// Collects the arguments of call site `site` from the stack top (callee below them).
bool collect_arguments(Thread& thread, const ir::Module& module, const ir::CallSite& site,
                       Value* top, Args& args) {
  std::size_t count =
      site.positional + site.keywords.size() + (site.star ? 1 : 0) + (site.star_star ? 1 : 0);
  Value* p = top - count;
  args.positional.reserve(site.positional);
  for (std::uint32_t i = 0; i < site.positional; ++i) args.positional.push_back(std::move(*p++));
  for (std::uint32_t k : site.keywords)
    args.keywords.emplace_back(module.names[k], std::move(*p++));
  if (site.star) {
    std::vector<Value> extra;
    if (!to_vector(thread, *p, extra))
      return thread.fail("argument after * must be iterable, not " + std::string(type_of(*p)));
    ++p;
    for (auto& v : extra) args.positional.push_back(std::move(v));
  }
  if (site.star_star) {
    if (!p->is(Type::kDict))
      return thread.fail("argument after ** must be a dict, not " + std::string(type_of(*p)));
    for (const auto& e : p->as<Dict>()->entries) {
      if (!e.key.is(Type::kString))
        return thread.fail("keywords must be strings, not " + std::string(type_of(e.key)));
      args.keywords.emplace_back(e.key.as<String>()->text, e.value);
    }
  }
  return true;
}

/// Integer arithmetic that cannot fail; anything else (overflow, division by zero,
/// shifts) returns false and takes the general path, which reports errors.
inline bool int_fast(Op op, Value& left, const Value& right) {
  std::int64_t a = left.as_int(), b = right.as_int(), r = 0;
  switch (op) {
    case Op::ADD:
    case Op::INPLACE_ADD:
      if (__builtin_add_overflow(a, b, &r)) return false;
      break;
    case Op::SUB:
      if (__builtin_sub_overflow(a, b, &r)) return false;
      break;
    case Op::MUL:
      if (__builtin_mul_overflow(a, b, &r)) return false;
      break;
    case Op::MOD:
      if (b <= 0 || a < 0) return false;  // the common case; signs need floor semantics
      r = a % b;
      break;
    case Op::FLOORDIV:
      if (b <= 0 || a < 0) return false;
      r = a / b;
      break;
    case Op::BITAND: r = a & b; break;
    case Op::BITOR: r = a | b; break;
    case Op::BITXOR: r = a ^ b; break;
    default: return false;
  }
  left.set_int(r);
  return true;
}

bool call_function_from_stack(Thread& thread, const Function& fn, const ir::Module& module,
                              const ir::CallSite& site, Value* args, Value& result);

/// Comparison of two int64s by comparison opcode.
inline bool int_compare_op(Op op, std::int64_t a, std::int64_t b) {
  switch (op) {
    case Op::EQ: return a == b;
    case Op::NE: return a != b;
    case Op::LT: return a < b;
    case Op::GT: return a > b;
    case Op::LE: return a <= b;
    default: return a >= b;
  }
}

class Frame {
 public:
  Frame(Thread& thread, const Function* fn, Program& program, std::uint32_t index)
      : thread_(thread),
        fn_(fn),
        program_(program),
        code_(program_.module.functions[index]),
        mark_(thread.arena.mark()),
        locals_(thread.arena.allocate(code_.num_locals + code_.max_stack + 1)),
        stack_(locals_ + code_.num_locals) {
    // Parameters are bound before the frame runs; every other local starts unassigned.
    for (std::size_t i = code_.params.size(); i < code_.num_locals; ++i)
      locals_[i] = Value::unbound();
  }
  ~Frame() { thread_.arena.release(mark_); }
  Frame(const Frame&) = delete;
  Frame& operator=(const Frame&) = delete;

  Value* locals() { return locals_; }

  /// Moves parameters that closures capture into cells, then runs.
  bool run(Value& result) {
    for (std::uint32_t slot : code_.cells) {
      auto* cell = new Cell();
      cell->value = std::move(locals_[slot]);
      locals_[slot] = Value::adopt(cell);
    }
    bool ok = loop(result);
    if (!ok)
      thread_.add_frame(TraceFrame{program_.shared_from_this(), code_.name, code_.span_at(pc_)});
    return ok;
  }

 private:
  bool loop(Value& result);
  /// The verifier checks operands and stack depth but not stack types; the few
  /// instructions that assume a type check it, so forged bytecode fails cleanly.
  static std::size_t site_width(const ir::CallSite& site) {
    return site.positional + site.keywords.size() + (site.star ? 1 : 0) + (site.star_star ? 1 : 0);
  }

  /// Calls `*callee` with the arguments above it (up to `top`). A `receiver` is passed
  /// to unbound built-in methods (CALL_METHOD); other callees ignore it.
  bool invoke(const ir::Module& module, const ir::CallSite& site, Value* callee,
              const Value* receiver, Value* top, Value& out) {
    if (receiver && callee->is(Type::kBuiltin) && callee->as<Builtin>()->unbound_method) {
      Args args;
      return collect_arguments(thread_, module, site, top, args) &&
             callee->as<Builtin>()->fn(thread_, *receiver, args, out);
    }
    if (callee->is(Type::kFunction) && !site.star && !site.star_star) {
      return call_function_from_stack(thread_, *callee->as<Function>(), module, site, callee + 1,
                                      out);
    }
    Args args;
    return collect_arguments(thread_, module, site, top, args) && call(thread_, *callee, args, out);
  }

  /// Charges one step; fails on an exhausted budget or a cancellation request.
  bool tick(std::uint64_t& steps, std::uint64_t max_steps) {
    if (++steps > max_steps) {
      thread_.steps = steps;
      return thread_.fail_limit("step budget of " + std::to_string(max_steps) + " exceeded");
    }
    if ((steps & 0xFF) == 0 && thread_.cancelled.load(std::memory_order_relaxed))
      return thread_.fail("cancelled");
    return true;
  }
  /// Called when the allocator flagged the budget: fails if the program still holds
  /// more than its limit (it may have freed enough since).
  bool within_budget() {
    MemoryBudget& budget = *thread_.memory;
    if (budget.used <= budget.limit) {
      budget.exceeded = false;
      return true;
    }
    return memory_exceeded(thread_);
  }
  bool corrupt() { return thread_.fail("corrupt bytecode: operand of the wrong type"); }
  bool unbound(const std::string& name) {
    return thread_.fail("local variable " + name + " referenced before assignment");
  }

  Thread& thread_;
  const Function* fn_;
  Program& program_;
  const ir::Function& code_;
  ValueArena::Mark mark_;
  Value* locals_;
  Value* stack_;
  std::uint32_t pc_ = 0;
};

bool too_deep(Thread& thread) {
  return thread.fail_limit("call stack is too deep (more than " +
                           std::to_string(Thread::kMaxDepth) + " calls)");
}

bool call_function(Thread& thread, const Function& fn, Args& args, Value& result) {
  if (thread.depth >= Thread::kMaxDepth) return too_deep(thread);
  Frame frame(thread, &fn, *fn.program, fn.index);
  if (!bind_arguments(thread, fn, args, frame.locals())) return false;
  ++thread.depth;
  bool ok = frame.run(result);
  --thread.depth;
  return ok;
}

/// The common call: a Starlark function called without *args/**kwargs, arguments bound
/// straight from the caller's operand stack.
bool call_function_from_stack(Thread& thread, const Function& fn, const ir::Module& module,
                              const ir::CallSite& site, Value* args, Value& result) {
  if (thread.depth >= Thread::kMaxDepth) return too_deep(thread);
  constexpr std::size_t kInline = 16;
  KeywordRef inline_keywords[kInline];
  std::vector<KeywordRef> many;
  KeywordRef* keywords = inline_keywords;
  std::size_t nkw = site.keywords.size();
  if (nkw > kInline) {
    many.resize(nkw);
    keywords = many.data();
  }
  for (std::size_t j = 0; j < nkw; ++j) {
    keywords[j] = KeywordRef{module.names[site.keywords[j]], args + site.positional + j};
  }
  Frame frame(thread, &fn, *fn.program, fn.index);
  if (!bind(thread, fn, args, site.positional, keywords, nkw, frame.locals())) return false;
  ++thread.depth;
  bool ok = frame.run(result);
  --thread.depth;
  return ok;
}

// Labels as values (a GNU extension that g++ and clang++ share) make threaded dispatch.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
bool Frame::loop(Value& result) {
  const ir::Instr* code = code_.code.data();
  Value* sp = stack_;  // next free slot
  const ir::Module& module = program_.module;
  Program& program = program_;
  // The step counter lives in a register; it is written back to the thread around
  // calls (the callee counts on) and when this frame returns.
  std::uint64_t steps = thread_.steps;
  const std::uint64_t max_steps = thread_.max_steps;
  // The program counter too; the guard stores it for the backtrace however we leave.
  std::uint32_t pc = pc_;
  // Set by the allocator when the program's memory passes its budget (vm/memory.h);
  // checked after every instruction that may allocate, so the error names its line.
  const bool& over_budget = thread_.memory->exceeded;
  struct StorePc {
    std::uint32_t& to;
    const std::uint32_t& from;
    ~StorePc() { to = from; }
  } store_pc{pc_, pc};
  // Threaded dispatch: every handler ends by jumping straight to the next one, so the
  // branch predictor sees one indirect jump per handler instead of a single shared one.
  static void* const kHandlers[] = {
#define FB_OP(name, operand, stack, summary) &&op_##name,
#include "ir/opcodes.def"
#undef FB_OP
  };
  ir::Instr instr;
  std::uint32_t arg;
#define FB_DISPATCH()                                             \
  do {                                                            \
    instr = code[pc];                                             \
    arg = ir::operand(instr);                                     \
    goto* kHandlers[static_cast<std::size_t>(ir::opcode(instr))]; \
  } while (0)
#define FB_NEXT()  \
  do {             \
    ++pc;          \
    FB_DISPATCH(); \
  } while (0)
  FB_DISPATCH();
  {
    {
    op_CONST:
      (sp++)->fill(program.constants[arg]);
      FB_NEXT();
    op_NONE:
      *sp++ = Value();
      FB_NEXT();
    op_TRUE:
      *sp++ = Value::boolean(true);
      FB_NEXT();
    op_FALSE:
      *sp++ = Value::boolean(false);
      FB_NEXT();
    op_SMALL_INT:
      *sp++ = Value::integer(ir::signed_operand(instr));
      FB_NEXT();
    op_LOCAL:
      if (locals_[arg].is(Type::kUnbound)) return unbound(code_.local_names[arg]);
      (sp++)->fill(locals_[arg]);
      FB_NEXT();
    op_SET_LOCAL:
      locals_[arg] = std::move(*--sp);
      FB_NEXT();
    op_CELL:
      if (locals_[arg].as<Cell>()->value.is(Type::kUnbound)) return unbound(code_.local_names[arg]);
      *sp++ = locals_[arg].as<Cell>()->value;
      FB_NEXT();
    op_SET_CELL:
      locals_[arg].as<Cell>()->value = std::move(*--sp);
      FB_NEXT();
    op_FREE:
      if (fn_->freevars[arg].as<Cell>()->value.is(Type::kUnbound))
        return unbound(code_.freevars[arg]);
      *sp++ = fn_->freevars[arg].as<Cell>()->value;
      FB_NEXT();
    op_GLOBAL:
      if (!program.assigned[arg])
        return thread_.fail("global variable " + module.globals[arg] +
                            " referenced before assignment");
      *sp++ = program.globals[arg];
      FB_NEXT();
    op_SET_GLOBAL:
      program.globals[arg] = std::move(*--sp);
      program.assigned[arg] = true;
      FB_NEXT();
    op_PREDECLARED:
    op_UNIVERSE : {
      Value& cached = program.builtins[arg];
      if (cached.is(Type::kNone)) {
        // The embedder's table first (faultbox builtins); the VM's own universe after.
        const std::string& name = module.names[arg];
        if (ir::opcode(instr) == Op::PREDECLARED && thread_.predeclared)
          cached = thread_.predeclared(name);
        if (cached.is(Type::kNone)) cached = universe_value(name);
        if (cached.is(Type::kNone)) return thread_.fail(name + "() is not available here yet");
      }
      *sp++ = cached;
      FB_NEXT();
    }
    op_POP:
      *--sp = Value();
      FB_NEXT();
    op_DUP:
      sp[0] = sp[-1];
      ++sp;
      FB_NEXT();
    op_DUP2:
      sp[0] = sp[-2];
      sp[1] = sp[-1];
      sp += 2;
      FB_NEXT();
    op_UPLUS:
    op_UMINUS:
    op_INVERT:
    op_NOT : {
      Value out;
      if (!unary(thread_, ir::opcode(instr), sp[-1], out)) return false;
      sp[-1] = std::move(out);
      goto next_instruction;
    }
    op_ADD:
    op_SUB:
    op_MUL:
    op_FLOORDIV:
    op_MOD:
    op_BITAND:
    op_BITOR:
    op_BITXOR:
    op_DIV:
    op_SHL:
    op_SHR:
    op_IN:
    op_NOT_IN:
    op_INPLACE_ADD : {
      if (sp[-2].is(Type::kInt) && sp[-1].is(Type::kInt) &&
          int_fast(ir::opcode(instr), sp[-2], sp[-1])) {
        --sp;  // the popped operand is an int: nothing to release
        FB_NEXT();
      }
      Value out;
      if (!binary(thread_, ir::opcode(instr), sp[-2], sp[-1], out)) return false;
      --sp;
      *sp = Value();
      sp[-1] = std::move(out);
      goto next_instruction;
    }
    op_EQ:
    op_NE:
    op_LT:
    op_GT:
    op_LE:
    op_GE : {
      if (sp[-2].is(Type::kInt) && sp[-1].is(Type::kInt)) {
        std::int64_t a = sp[-2].as_int(), b = sp[-1].as_int();
        bool r = int_compare_op(ir::opcode(instr), a, b);
        --sp;
        sp[-1].set_bool(r);
        FB_NEXT();
      }
      Value out;
      if (!compare(thread_, ir::opcode(instr), sp[-2], sp[-1], out)) return false;
      --sp;
      *sp = Value();
      sp[-1] = std::move(out);
      goto next_instruction;
    }
    op_MAKE_LIST:
    op_MAKE_TUPLE : {
      std::vector<Value> items(std::make_move_iterator(sp - arg), std::make_move_iterator(sp));
      sp -= arg;
      *sp++ = ir::opcode(instr) == Op::MAKE_LIST ? make_list(std::move(items))
                                                 : make_tuple(std::move(items));
      goto next_instruction;
    }
    op_MAKE_DICT : {
      auto* d = new Dict();
      Value dict = Value::adopt(d);
      Value* first = sp - 2 * arg;
      for (Value* p = first; p < sp; p += 2) {
        bool error = false;
        if (dict_find(thread_, *d, p[0], error))
          return thread_.fail("duplicate key " + repr(p[0]) + " in dict literal");
        if (error || !dict_set(thread_, *d, std::move(p[0]), std::move(p[1]))) return false;
      }
      sp = first;
      *sp++ = std::move(dict);
      goto next_instruction;
    }
    op_LIST_APPEND : {
      Value& list = sp[-2 - static_cast<int>(arg)];
      if (!list.is(Type::kList)) return corrupt();
      list.as<List>()->items.push_back(std::move(*--sp));
      if (over_budget && !within_budget()) return false;
      FB_NEXT();
    }
    op_DICT_SET : {
      Value& dict = sp[-3 - static_cast<int>(arg)];
      if (!dict.is(Type::kDict)) return corrupt();
      Value value = std::move(*--sp);
      Value key = std::move(*--sp);
      if (!dict_set(thread_, *dict.as<Dict>(), std::move(key), std::move(value))) return false;
      goto next_instruction;
    }
    op_INDEX : {
      Value out;
      if (!index(thread_, sp[-2], sp[-1], out)) return false;
      --sp;
      *sp = Value();
      sp[-1] = std::move(out);
      goto next_instruction;
    }
    op_SET_INDEX : {
      if (!set_index(thread_, sp[-2], sp[-1], sp[-3])) return false;
      sp -= 3;
      sp[0] = Value(), sp[1] = Value(), sp[2] = Value();
      goto next_instruction;  // a dict grows: the memory budget is checked there
    }
    op_SLICE : {
      Value out;
      if (!slice(thread_, sp[-4], sp[-3], sp[-2], sp[-1], out)) return false;
      sp -= 3;
      sp[0] = Value(), sp[1] = Value(), sp[2] = Value();
      sp[-1] = std::move(out);
      goto next_instruction;
    }
    op_ATTR : {
      Value out;
      if (!get_attr(thread_, sp[-1], module.names[arg], out)) return false;
      sp[-1] = std::move(out);
      goto next_instruction;
    }
    op_SET_ATTR:
      return thread_.fail(std::string(type_of(sp[-1])) +
                          " value does not support field assignment");
    op_UNPACK : {
      Value seq = std::move(*--sp);
      std::vector<Value> copied;
      const Value* items = nullptr;
      std::size_t n = 0;
      if (seq.is(Type::kTuple) || seq.is(Type::kList)) {  // no copy for the usual case
        items = seq.as<List>()->items.data();
        n = seq.as<List>()->items.size();
      } else {
        if (!to_vector(thread_, seq, copied)) return false;
        items = copied.data();
        n = copied.size();
      }
      if (n != arg) {
        return thread_.fail(std::string(n > arg ? "too many" : "too few") +
                            " values to unpack (got " + std::to_string(n) + ", want " +
                            std::to_string(arg) + ")");
      }
      for (std::size_t k = n; k-- > 0;) (sp++)->fill(items[k]);
      goto next_instruction;
    }
    op_JUMP:
      // Every loop passes through a jump or ITER_NEXT, and every call through CALL:
      // charging steps there bounds any run without a check per instruction.
      if (!tick(steps, max_steps)) return false;
      pc = arg;
      FB_DISPATCH();
    op_JUMP_IF_FALSE:
    op_JUMP_IF_TRUE : {
      bool t = truth(*--sp);
      *sp = Value();
      if (t == (ir::opcode(instr) == Op::JUMP_IF_TRUE)) {
        pc = arg;
        FB_DISPATCH();
      }
      FB_NEXT();
    }
    op_AND_JUMP:
    op_OR_JUMP:
      if (truth(sp[-1]) == (ir::opcode(instr) == Op::OR_JUMP)) {
        pc = arg;
        FB_DISPATCH();
      }
      *--sp = Value();
      FB_NEXT();
    op_ITER_START : {
      Value it;
      if (!iterate(thread_, sp[-1], it)) return false;
      sp[-1] = std::move(it);
      goto next_instruction;
    }
    op_ITER_NEXT : {
      if (!tick(steps, max_steps)) return false;
      if (!sp[-1].is(Type::kIterator)) return corrupt();
      auto* it = sp[-1].as<Iterator>();
      const Value& over = it->iterable;
      if (over.is(Type::kRange)) {  // the common loop, without a call
        if (it->position < it->range_length) {
          (sp++)->set_int(over.as<Range>()->at(it->position++));
          FB_NEXT();
        }
      } else {
        Value item;
        if (next(thread_, *it, item)) {
          *sp++ = std::move(item);
          goto next_instruction;
        }
        if (thread_.failed()) return false;
      }
      *--sp = Value();
      pc = arg;
      FB_DISPATCH();
    }
    op_ITER_END:
      *--sp = Value();
      FB_NEXT();
    op_MAKE_FUNC : {
      const ir::Function& child = module.functions[arg];
      auto* f = new Function(&program_, arg);
      Value fv = Value::adopt(f);
      std::size_t defaults =
          static_cast<std::size_t>(std::count_if(child.params.begin(), child.params.end(),
                                                 [](const ir::Param& p) { return p.has_default; }));
      for (Value* p = sp - defaults; p < sp; ++p) f->defaults.push_back(std::move(*p));
      sp -= defaults;
      for (const ir::FreeSource& src : child.free_sources) {
        f->freevars.push_back(src.from_cell ? locals_[src.index] : fn_->freevars[src.index]);
      }
      *sp++ = std::move(fv);
      goto next_instruction;
    }
    op_METHOD : {
      if (const Value* m = unbound_method(sp[-1].type(), module.names[arg])) {
        (sp++)->fill(*m);
        FB_NEXT();
      }
      Value out;  // a struct field, or the error for an unknown attribute
      if (!get_attr(thread_, sp[-1], module.names[arg], out)) return false;
      *sp++ = std::move(out);
      goto next_instruction;
    }
    op_CALL_METHOD:
    op_CALL : {
      if (!tick(steps, max_steps)) return false;
      bool method = ir::opcode(instr) == Op::CALL_METHOD;
      const ir::CallSite& site = module.calls[arg];
      Value* callee = sp - site_width(site) - 1;
      Value* first = method ? callee - 1 : callee;  // CALL_METHOD's receiver sits below
      Value out;
      thread_.steps = steps;
      thread_.site_program = &program;
      thread_.site_code = &code_;
      thread_.site_pc = pc;
      bool ok = invoke(module, site, callee, method ? first : nullptr, sp, out);
      steps = thread_.steps;
      for (Value* p = first; p < sp; ++p) *p = Value();
      if (!ok) return false;
      sp = first;
      *sp++ = std::move(out);
      goto next_instruction;
    }
    op_RETURN:
      thread_.steps = steps;
      result = std::move(*--sp);
      return true;
    op_LOAD : {
      if (!thread_.load) return thread_.fail("load() is not available here");
      std::vector<Value> symbols;
      thread_.steps = steps;
      if (!thread_.load(thread_, program_, module.loads[arg], symbols)) return false;
      steps = thread_.steps;
      for (Value& v : symbols) *sp++ = std::move(v);
      goto next_instruction;
    }
    }
  }
  // Handlers with objects in scope come here with a plain goto, which runs their
  // destructors (a computed goto would skip them).
next_instruction:
  if (over_budget && !within_budget()) return false;
  ++pc;
  FB_DISPATCH();
#undef FB_NEXT
#undef FB_DISPATCH
}
#pragma GCC diagnostic pop

}  // namespace

bool call(Thread& thread, const Value& callee, Args& args, Value& result) {
  // Entered from outside the VM (an embedder, another OS thread): charge the thread's
  // budget from here on.
  std::optional<MemoryScope> scope;
  if (charged_budget() != thread.memory.get()) scope.emplace(thread.memory.get());
  if (callee.is(Type::kFunction))
    return call_function(thread, *callee.as<Function>(), args, result);
  if (callee.is(Type::kBuiltin)) {
    auto* b = callee.as<Builtin>();
    if (thread.guard && !thread.guard(thread, *b)) return false;
    if (!b->fn(thread, b->self, args, result)) {
      return false;
    }
    return true;
  }
  return thread.fail("invalid call of non-function (" + std::string(type_of(callee)) + ")");
}

void freeze(const Value& v) {
  // An explicit stack: a list nested 300,000 deep freezes without deep recursion.
  std::vector<const Value*> pending{&v};
  while (!pending.empty()) {
    const Value& next = *pending.back();
    pending.pop_back();
    if (!next.is_heap() || next.object()->frozen) continue;
    next.object()->frozen = true;
    switch (next.type()) {
      case Type::kList:
      case Type::kTuple:
        for (const Value& item : next.as<List>()->items) pending.push_back(&item);
        break;
      case Type::kDict:
      case Type::kSet:
        for (const auto& e : next.as<Dict>()->entries) {
          pending.push_back(&e.key);
          pending.push_back(&e.value);
        }
        break;
      case Type::kFunction:
        for (const Value& d : next.as<Function>()->defaults) pending.push_back(&d);
        for (const Value& c : next.as<Function>()->freevars) pending.push_back(&c);
        break;
      case Type::kCell: pending.push_back(&next.as<Cell>()->value); break;
      case Type::kStruct:
        for (const auto& f : next.as<Struct>()->fields) pending.push_back(&f.second);
        break;
      case Type::kBuiltin: pending.push_back(&next.as<Builtin>()->self); break;
      case Type::kHost: next.as<HostObject>()->freeze_values(); break;
      default: break;
    }
  }
}

bool run_program(Thread& thread, const std::shared_ptr<Program>& program) {
  MemoryScope scope(thread.memory.get());
  Frame frame(thread, nullptr, *program, 0);
  Value result;
  ++thread.depth;
  bool ok = frame.run(result);
  --thread.depth;
  if (ok) {
    for (const Value& g : program->globals) freeze(g);
  }
  return ok;
}

std::string format_error(const Thread& thread) {
  std::ostringstream out;
  out << "Traceback (most recent call last):\n";
  const auto& frames = thread.backtrace();
  for (auto it = frames.rbegin(); it != frames.rend(); ++it) {
    const ir::Module& m = it->program->module;
    const std::string& text = m.files[it->span.file].text;
    std::uint32_t line = 1, col = 1, line_start = 0;
    for (std::uint32_t i = 0; i < it->span.offset && i < text.size(); ++i) {
      if (text[i] == '\n') {
        ++line;
        col = 1;
        line_start = i + 1;
      } else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
        ++col;
      }
    }
    auto line_end = text.find('\n', line_start);
    std::string source = text.substr(
        line_start, line_end == std::string::npos ? std::string::npos : line_end - line_start);
    out << "  " << m.files[it->span.file].path << ":" << line << ":" << col << ": in "
        << it->function << "\n";
    std::size_t indent = source.find_first_not_of(" \t");
    if (indent != std::string::npos) {
      out << "    " << source.substr(indent) << "\n";
      if (col - 1 >= indent) out << "    " << std::string(col - 1 - indent, ' ') << "^\n";
    }
  }
  out << "Error: " << thread.error() << "\n";
  return out.str();
}

}  // namespace fb::vm
