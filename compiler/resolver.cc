#include "compiler/resolver.h"

#include <algorithm>
#include <map>
#include <set>

#include "compiler/builtins.h"
#include "compiler/call_check.h"
#include "grammar/suggest.h"

namespace fb::compiler {
namespace {

using ast::Expr;
using ast::ExprKind;
using ast::Scope;
using ast::Stmt;
using ast::StmtKind;
using grammar::Code;
using grammar::Diagnostic;
using grammar::Span;

/// Hints for names that exist in Python but not in Starlark or faultbox.
const std::map<std::string, std::string, std::less<>> kPythonOnly = {
    {"open",
     "specs cannot open files; read one at load time with load_file(path), load_json(path) or "
     "load_yaml(path)"},
    {"isinstance",
     "compare types with type(x) == \"string\" (or \"int\", \"list\", \"dict\", ...)"},
    {"self", "Starlark has no classes; pass values as function parameters"},
    {"Exception", "Starlark has no exceptions; call fail(\"message\") to stop with an error"},
    {"ValueError", "Starlark has no exceptions; call fail(\"message\") to stop with an error"},
    {"null", "Starlark writes it None"},
    {"nil", "Starlark writes it None"},
    {"true", "Starlark writes it True"},
    {"false", "Starlark writes it False"},
    {"none", "Starlark writes it None"},
    {"time",
     "there is no time module; use duration(\"500ms\") for durations and sleep(...) in test "
     "bodies"},
    {"os", "there is no os module; pass configuration through service(env={...})"},
    {"json",
     "there is no json module; use load_json(path) at load time, or resp.data for a JSON response "
     "body"},
    {"random",
     "there is no random module; use choose(name, options) to explore alternatives "
     "deterministically"},
    {"input", "specs cannot read standard input"},
    {"globals", "Starlark has no globals(); refer to names directly"},
    {"locals", "Starlark has no locals(); refer to names directly"},
    {"exec", "Starlark cannot evaluate code at run time"},
    {"eval", "Starlark cannot evaluate code at run time"},
    {"pow", "Starlark has no pow(); multiply explicitly"},
    {"round", "Starlark has no round(); use int(x + 0.5) for non-negative x"},
    {"sum", "Starlark has no sum(); add in a loop, or use a helper function"},
};

/// One lexical block: the module, a function, or a comprehension.
struct Block {
  enum class Kind { kModule, kFunction, kComprehension };
  Block(Kind k, Block* up, ast::FunctionInfo* frame) : kind(k), parent(up), info(frame) {}

  Kind kind;
  Block* parent;
  ast::FunctionInfo* info;                                  // the frame that owns local slots
  std::map<std::string, std::uint32_t, std::less<>> names;  // bound here -> slot
  std::vector<ast::Name*> local_uses;                       // to mark cells afterwards
  int loop_depth = 0;
};

class Resolver {
 public:
  Resolver(ast::Module& module, grammar::DiagnosticSink& sink)
      : module_(module), sink_(sink), table_(BuiltinTable::get()) {}

  void run() {
    Block top(Block::Kind::kModule, nullptr, &module_.toplevel);
    current_ = &top;
    // Module-level names are visible everywhere in the file, even before their binding.
    for (auto& s : module_.body) collect_bindings(*s, top, /*module_level=*/true);
    for (auto& s : module_.body) statement(*s);
    report_checks_in_named_functions();
    report_unused_loads();
  }

 private:
  // ---- binding collection -----------------------------------------------------------------

  /// Records every name a statement binds in `block` (without entering nested functions).
  void collect_bindings(Stmt& s, Block& block, bool module_level) {
    switch (s.kind) {
      case StmtKind::kAssign: return collect_targets(*s.as<ast::Assign>().target, block);
      case StmtKind::kDef: return bind(block, s.as<ast::Def>().name->id);
      case StmtKind::kFor: {
        auto& f = s.as<ast::For>();
        collect_targets(*f.target, block);
        for (auto& b : f.body) collect_bindings(*b, block, module_level);
        return;
      }
      case StmtKind::kWhile:
        for (auto& b : s.as<ast::While>().body) collect_bindings(*b, block, module_level);
        return;
      case StmtKind::kIf: {
        auto& i = s.as<ast::If>();
        for (auto& b : i.then_body) collect_bindings(*b, block, module_level);
        for (auto& b : i.else_body) collect_bindings(*b, block, module_level);
        return;
      }
      case StmtKind::kLoad:
        if (!module_level) return;
        for (auto& b : s.as<ast::Load>().bindings) {
          bind(block, b.local->id);
          loaded_[b.local->id] = b.local->span;
        }
        return;
      default: return;
    }
  }

  void collect_targets(Expr& target, Block& block) {
    if (target.kind == ExprKind::kName) return bind(block, target.as<ast::Name>().id);
    if (target.kind == ExprKind::kList || target.kind == ExprKind::kTuple) {
      for (auto& item : target.as<ast::Sequence>().items) collect_targets(*item, block);
    }
  }

  void bind(Block& block, const std::string& name) {
    if (block.names.count(name)) return;
    std::uint32_t slot;
    if (block.kind == Block::Kind::kModule) {
      slot = static_cast<std::uint32_t>(module_.globals.size());
      module_.globals.push_back(name);
    } else {
      slot = static_cast<std::uint32_t>(block.info->locals.size());
      block.info->locals.push_back(name);
    }
    block.names[name] = slot;
  }

  // ---- statements ---------------------------------------------------------------------------

  void statements(std::vector<ast::StmtPtr>& body) {
    for (auto& s : body) statement(*s);
  }

  void statement(Stmt& s) {
    switch (s.kind) {
      case StmtKind::kExpr: return expr(*s.as<ast::ExprStmt>().expr);
      case StmtKind::kAssign: {
        auto& a = s.as<ast::Assign>();
        expr(*a.value);
        // An augmented target is read before it is written.
        return a.augmented ? expr(*a.target) : target(*a.target);
      }
      case StmtKind::kDef: {
        auto& d = s.as<ast::Def>();
        use(*d.name, /*binding=*/true);
        // A module-level function may be given to monitor() by name: what it calls is
        // recorded, and judged once the calls that use it have been seen.
        bool top = current_->kind == Block::Kind::kModule && top_def_.empty();
        if (top) top_def_ = d.name->id;
        function(*d.function);
        if (top) top_def_.clear();
        return;
      }
      case StmtKind::kIf: {
        auto& i = s.as<ast::If>();
        expr(*i.cond);
        ++nesting_;
        statements(i.then_body);
        statements(i.else_body);
        --nesting_;
        return;
      }
      case StmtKind::kFor: {
        auto& f = s.as<ast::For>();
        expr(*f.iterable);
        target(*f.target);
        return loop_body(f.body);
      }
      case StmtKind::kWhile: {
        auto& w = s.as<ast::While>();
        expr(*w.cond);
        return loop_body(w.body);
      }
      case StmtKind::kReturn: {
        auto& r = s.as<ast::Return>();
        if (current_->kind == Block::Kind::kModule) {
          report(Code::SPEC_INVALID_STATEMENT, s.span, "'return' outside a function");
        }
        if (r.value) expr(*r.value);
        return;
      }
      case StmtKind::kBreak:
      case StmtKind::kContinue:
        if (current_->loop_depth == 0) {
          report(Code::SPEC_INVALID_STATEMENT, s.span,
                 std::string(s.kind == StmtKind::kBreak ? "'break'" : "'continue'") +
                     " outside a loop");
        }
        return;
      case StmtKind::kPass: return;
      case StmtKind::kLoad: return load(s.as<ast::Load>());
    }
  }

  void loop_body(std::vector<ast::StmtPtr>& body) {
    ++current_->loop_depth;
    ++nesting_;
    statements(body);
    --nesting_;
    --current_->loop_depth;
  }

  void load(ast::Load& l) {
    if (current_->kind != Block::Kind::kModule || nesting_ > 0) {
      report(Code::SPEC_INVALID_STATEMENT, l.span,
             "load() is only allowed at the top level of a file");
      return;  // its names were never bound
    }
    for (auto& b : l.bindings) use(*b.local, /*binding=*/true);
  }

  // ---- functions ----------------------------------------------------------------------------

  void function(ast::Function& fn) {
    // Defaults are evaluated where the function is defined.
    for (auto& p : fn.params) {
      if (p.default_value) expr(*p.default_value);
    }
    Block block(Block::Kind::kFunction, current_, &fn.info);
    // Slot order is the calling convention: positional and keyword-only parameters in
    // declaration order, then *args, then **kwargs.
    std::set<std::string> seen;
    using K = ast::Parameter::Kind;
    for (K pass : {K::kRequired, K::kVarargs, K::kKwargs}) {
      for (auto& p : fn.params) {
        bool named = p.kind == K::kRequired || p.kind == K::kOptional;
        if (p.name.empty() || (pass == K::kRequired ? !named : p.kind != pass)) continue;
        if (!seen.insert(p.name).second) {
          report(Code::SPEC_DUPLICATE_PARAMETER, p.span, "duplicate parameter '" + p.name + "'");
          continue;
        }
        bind(block, p.name);
      }
    }
    for (auto& s : fn.body) collect_bindings(*s, block, false);
    {
      Enter inside(current_, block);
      statements(fn.body);
    }
    mark_cells(block);
  }

  /// Locals captured by an inner function live in cells; fix every use in the frame.
  static void mark_cells(Block& block) {
    auto& cells = block.info->cells;
    std::sort(cells.begin(), cells.end());
    for (ast::Name* n : block.local_uses) {
      if (std::binary_search(cells.begin(), cells.end(), n->index)) n->scope = Scope::kCell;
    }
  }

  // ---- expressions --------------------------------------------------------------------------

  void target(Expr& e) {
    switch (e.kind) {
      case ExprKind::kName: return use(e.as<ast::Name>(), /*binding=*/true);
      case ExprKind::kList:
      case ExprKind::kTuple:
        for (auto& item : e.as<ast::Sequence>().items) target(*item);
        return;
      default: return expr(e);  // x.attr = v and x[i] = v read x (and i)
    }
  }

  void expr(Expr& e) {
    switch (e.kind) {
      case ExprKind::kName: return use(e.as<ast::Name>(), false);
      case ExprKind::kInt:
      case ExprKind::kFloat:
      case ExprKind::kString:
      case ExprKind::kBytes: return;
      case ExprKind::kList:
      case ExprKind::kTuple:
        for (auto& item : e.as<ast::Sequence>().items) expr(*item);
        return;
      case ExprKind::kDict:
        for (auto& entry : e.as<ast::Dict>().entries) {
          expr(*entry.key);
          expr(*entry.value);
        }
        return;
      case ExprKind::kComprehension: return comprehension(e.as<ast::Comprehension>());
      case ExprKind::kUnary: return expr(*e.as<ast::Unary>().operand);
      case ExprKind::kBinary:
        expr(*e.as<ast::Binary>().left);
        return expr(*e.as<ast::Binary>().right);
      case ExprKind::kConditional: {
        auto& c = e.as<ast::Conditional>();
        expr(*c.cond);
        expr(*c.then_expr);
        return expr(*c.else_expr);
      }
      case ExprKind::kLambda: return function(*e.as<ast::Lambda>().function);
      case ExprKind::kCall: return call(e.as<ast::Call>());
      case ExprKind::kDot: return expr(*e.as<ast::Dot>().object);
      case ExprKind::kIndex:
        expr(*e.as<ast::Index>().object);
        return expr(*e.as<ast::Index>().index);
      case ExprKind::kSlice: {
        auto& s = e.as<ast::Slice>();
        expr(*s.object);
        for (auto* part : {&s.lo, &s.hi, &s.step}) {
          if (*part) expr(**part);
        }
        return;
      }
    }
  }

  /// Makes `block` the current one until the scope ends.
  class Enter {
   public:
    Enter(Block*& current, Block& block) : current_(current), saved_(current) { current_ = &block; }
    ~Enter() { current_ = saved_; }
    Enter(const Enter&) = delete;
    Enter& operator=(const Enter&) = delete;

   private:
    Block*& current_;
    Block* saved_;
  };

  /// The first iterable is evaluated in the enclosing scope; loop variables are local to
  /// the comprehension (their slots live in the enclosing frame), bound clause by clause.
  void comprehension(ast::Comprehension& c) {
    Block block(Block::Kind::kComprehension, current_, current_->info);
    bool first_for = !c.clauses.empty() && c.clauses.front().kind == ast::CompClause::Kind::kFor;
    if (first_for) expr(*c.clauses.front().expr);
    Enter inside(current_, block);
    for (std::size_t i = 0; i < c.clauses.size(); ++i) {
      ast::CompClause& clause = c.clauses[i];
      if (clause.kind == ast::CompClause::Kind::kIf) {
        expr(*clause.expr);
        continue;
      }
      if (i > 0 || !first_for) expr(*clause.expr);
      collect_targets(*clause.target, block);
      target(*clause.target);
    }
    expr(*c.body);
    if (c.value) expr(*c.value);
  }

  static Block& owner_of(Block& b) {
    Block* p = &b;
    while (p->kind == Block::Kind::kComprehension && p->parent) p = p->parent;
    return *p;
  }

  void call(ast::Call& c) {
    expr(*c.callee);
    // The predicates given to assume() and test(assume=[...]) judge a leaf; they must
    // not change what runs (fault, service, ...). Names used inside them are checked.
    std::string_view callee;
    if (c.callee->kind == ExprKind::kName && c.callee->as<ast::Name>().scope == Scope::kPredeclared)
      callee = c.callee->as<ast::Name>().id;
    // The functions of monitor() and of temporal properties judge the run as it goes:
    // they must not change it, wait in it or assert in it.
    std::size_t positional = 0;
    for (auto& a : c.args) {
      bool first = a.kind == ast::Argument::Kind::kPositional && positional++ == 0;
      bool keyword = a.kind == ast::Argument::Kind::kKeyword;
      const char* label = nullptr;
      bool check = false;
      if (callee == "assume" && a.kind == ast::Argument::Kind::kPositional) {
        label = "an assume() predicate";
      } else if (callee == "test" && keyword && a.name == "assume") {
        label = "a test(assume=) predicate";
      } else if (callee == "monitor" &&
                 ((keyword && (a.name == "on" || a.name == "update" || a.name == "check")) ||
                  (first && a.value->kind != ExprKind::kString))) {
        label = "a monitor's function", check = true;
      } else if ((callee == "eventually" || callee == "always") &&
                 (first || (keyword && a.name == "anchor"))) {
        label = "a temporal predicate", check = true;
      }
      if (label) sandbox_.push_back({label, check});
      expr(*a.value);
      if (label) sandbox_.pop_back();
      // A module-level function named here is judged after the whole module is seen.
      if (label && check && a.value->kind == ExprKind::kName)
        checked_by_name_.emplace_back(a.value->as<ast::Name>().id, label);
    }
    if (const Signature* sig = builtin_callee(*c.callee)) check_call(c, *sig, sink_);
  }

  /// Why a builtin may not be used in a monitor's function or a temporal predicate: what
  /// a predicate may not use, and also what would wait or re-enter the checks.
  static const char* forbidden_in_check(std::string_view name) {
    static const std::map<std::string_view, const char*> reasons = {
        {"monitor", "temporal properties are declared at the top level or in a test body"},
        {"eventually", "temporal properties are declared at the top level or in a test body"},
        {"always", "temporal properties are declared at the top level or in a test body"},
        {"await_event", "a check must not wait"},
        {"await_stable", "a check must not wait"},
        {"sleep", "a check must not wait"},
        {"events", "a check reads the event or trace it is given"},
    };
    auto it = reasons.find(name);
    return it == reasons.end() ? forbidden_in_predicate(name) : it->second;
  }

  /// Module-level functions given by name to monitor(), eventually() or always(): each
  /// forbidden builtin they use is an error at its use.
  void report_checks_in_named_functions() {
    std::set<std::string> reported;
    for (const auto& [function, label] : checked_by_name_) {
      auto uses = top_def_uses_.find(function);
      if (uses == top_def_uses_.end() || !reported.insert(function).second) continue;
      for (const auto& [name, span] : uses->second)
        if (const char* why = forbidden_in_check(name))
          report(Code::SPEC_FORBIDDEN_LAMBDA, span,
                 "'" + name + "' cannot be used in " + function + "(), " + label + ": " + why);
    }
  }

  /// Why a builtin may not be used in a predicate, or nullptr when it may.
  static const char* forbidden_in_predicate(std::string_view name) {
    static const std::map<std::string_view, const char*> reasons = {
        {"fault", "fault injection from a predicate would change what it judges"},
        {"fault_all", "fault injection from a predicate would change what it judges"},
        {"fault_start", "fault injection from a predicate would change what it judges"},
        {"partition", "fault injection from a predicate would change what it judges"},
        {"partition_start", "fault injection from a predicate would change what it judges"},
        {"fault_stop", "fault injection from a predicate would change what it judges"},
        {"fault_assumption", "fault declarations belong at the top level"},
        {"fault_scenario", "scenario declarations belong at the top level"},
        {"fault_matrix", "scenario declarations belong at the top level"},
        {"scenario", "scenario declarations belong at the top level"},
        {"test", "test declarations belong at the top level"},
        {"service", "service declarations belong at the top level"},
        {"interface", "interface declarations belong at the top level"},
        {"assert_true", "a predicate answers by returning True or False, not by asserting"},
        {"assert_eq", "a predicate answers by returning True or False, not by asserting"},
        {"assert_eventually", "a predicate answers by returning True or False, not by asserting"},
        {"assert_never", "a predicate answers by returning True or False, not by asserting"},
        {"assert_before", "a predicate answers by returning True or False, not by asserting"},
        {"parallel", "parallel() belongs in a test body"},
        {"choose", "a choice made in a predicate would be a plan axis nobody sees"},
        {"halt", "a predicate halts a leaf by returning False"},
        {"nondet", "nondet() belongs in a test body"},
        {"trace", "trace() is a fault primitive of test bodies"},
        {"trace_start", "trace_start() is a fault primitive of test bodies"},
        {"trace_stop", "trace_stop() is a fault primitive of test bodies"},
    };
    auto it = reasons.find(name);
    return it == reasons.end() ? nullptr : it->second;
  }

  /// The signature when the callee is an unshadowed builtin (or namespace member).
  const Signature* builtin_callee(const Expr& callee) {
    if (callee.kind == ExprKind::kName) {
      const auto& n = callee.as<ast::Name>();
      if (n.scope != Scope::kPredeclared && n.scope != Scope::kUniverse) return nullptr;
      const Signature* sig = table_.find(n.id);
      return sig && sig->callable ? sig : nullptr;
    }
    if (callee.kind != ExprKind::kDot) return nullptr;
    const auto& dot = callee.as<ast::Dot>();
    if (dot.object->kind != ExprKind::kName) return nullptr;
    const auto& ns = dot.object->as<ast::Name>();
    if (ns.scope != Scope::kPredeclared) return nullptr;
    const Signature* nsig = table_.find(ns.id);
    if (!nsig || nsig->callable) return nullptr;
    const Signature* member = table_.find(ns.id + "." + dot.attr);
    if (!member) {
      auto members = table_.members(ns.id);
      if (members.empty()) return nullptr;
      auto d = Diagnostic::make(Code::SPEC_UNDEFINED_NAME, dot.attr_span,
                                "'" + ns.id + "' has no member '" + dot.attr + "'");
      if (auto near = grammar::closest_match(dot.attr, members))
        d.suggest("did you mean '" + ns.id + "." + *near + "'?");
      std::string list;
      for (const auto& m : members) list += (list.empty() ? "" : ", ") + ns.id + "." + m;
      d.note("members: " + list);
      sink_.report(std::move(d));
      return nullptr;
    }
    return member;
  }

  // ---- names --------------------------------------------------------------------------------

  void use(ast::Name& n, bool binding) {
    if (!binding) used_.insert(n.id);
    for (Block* b = current_; b; b = b->parent) {
      auto it = b->names.find(n.id);
      if (it == b->names.end()) continue;
      if (b->kind == Block::Kind::kModule) {
        n.scope = Scope::kGlobal;
        n.index = it->second;
        return;
      }
      if (&owner_of(*b) == &owner_of(*current_)) {
        n.scope = Scope::kLocal;
        n.index = it->second;
        owner_of(*current_).local_uses.push_back(&n);
        return;
      }
      // Bound in an enclosing function: capture it through every frame in between.
      capture(n, *b, it->second);
      return;
    }
    if (const Signature* sig = table_.find(n.id)) {
      n.scope =
          sig->origin == Signature::Origin::kUniverse ? Scope::kUniverse : Scope::kPredeclared;
      if (!sandbox_.empty() && n.scope == Scope::kPredeclared)
        if (const char* why =
                sandbox_.back().second ? forbidden_in_check(n.id) : forbidden_in_predicate(n.id))
          report(Code::SPEC_FORBIDDEN_LAMBDA, n.span,
                 "'" + n.id + "' cannot be used in " + std::string(sandbox_.back().first) + ": " +
                     why);
      if (!top_def_.empty() && n.scope == Scope::kPredeclared)
        top_def_uses_[top_def_].emplace_back(n.id, n.span);
      return;
    }
    undefined(n);
  }

  void capture(ast::Name& n, Block& defining, std::uint32_t slot) {
    Block& owner = owner_of(defining);
    if (std::find(owner.info->cells.begin(), owner.info->cells.end(), slot) ==
        owner.info->cells.end()) {
      owner.info->cells.push_back(slot);
    }
    // Every function between the definition and the use carries the name as free,
    // each taking it from the frame around it: outermost first, so a frame's source
    // index exists before the frame inside it refers to it.
    std::vector<Block*> frames;
    for (Block* b = &owner_of(*current_); b != &owner; b = &owner_of(*b->parent))
      frames.push_back(b);
    ast::FreeSource source{true, slot};
    std::uint32_t index = 0;
    for (auto it = frames.rbegin(); it != frames.rend(); ++it) {
      ast::FunctionInfo& info = *(*it)->info;
      auto found = std::find(info.freevars.begin(), info.freevars.end(), n.id);
      index = static_cast<std::uint32_t>(found - info.freevars.begin());
      if (found == info.freevars.end()) {
        info.freevars.push_back(n.id);
        info.free_sources.push_back(source);
      }
      source = ast::FreeSource{false, index};
    }
    n.scope = Scope::kFree;
    n.index = index;
  }

  void undefined(ast::Name& n) {
    auto d = Diagnostic::make(Code::SPEC_UNDEFINED_NAME, n.span, "undefined name '" + n.id + "'");
    if (auto hint = kPythonOnly.find(n.id); hint != kPythonOnly.end() && !hint->second.empty()) {
      d.suggest(hint->second);
    } else if (auto near = grammar::closest_match(n.id, visible_names())) {
      d.suggest("did you mean '" + *near + "'?");
    }
    sink_.report(std::move(d));
  }

  std::vector<std::string> visible_names() const {
    std::vector<std::string> names = table_.global_names();
    for (Block* b = current_; b; b = b->parent) {
      for (const auto& [name, slot] : b->names) names.push_back(name);
    }
    return names;
  }

  void report_unused_loads() {
    for (const auto& [name, span] : loaded_) {
      if (used_.count(name) || name.starts_with("_")) continue;
      sink_.report(Diagnostic::make(Code::SPEC_UNUSED_BINDING, span,
                                    "'" + name + "' is loaded but never used")
                       .suggest("remove it from the load() statement"));
    }
  }

  void report(Code code, Span where, std::string message) {
    sink_.report(Diagnostic::make(code, where, std::move(message)));
  }

  ast::Module& module_;
  grammar::DiagnosticSink& sink_;
  const BuiltinTable& table_;
  Block* current_ = nullptr;
  int nesting_ = 0;  // statements inside if/for/while bodies (load() is not allowed there)
  std::map<std::string, Span> loaded_;
  std::set<std::string> used_;
  // The predicates being resolved, innermost last: how to name them, and whether they
  // are checks (monitor, eventually, always), which may use less than a predicate.
  std::vector<std::pair<std::string_view, bool>> sandbox_;
  std::string top_def_;  // the module-level function being resolved, if any
  std::map<std::string, std::vector<std::pair<std::string, Span>>> top_def_uses_;
  std::vector<std::pair<std::string, const char*>> checked_by_name_;
};

}  // namespace

void resolve(ast::Module& module, grammar::DiagnosticSink& sink) { Resolver(module, sink).run(); }

}  // namespace fb::compiler
