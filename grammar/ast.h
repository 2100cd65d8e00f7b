#pragma once
/// The Starlark AST: compact, ANTLR-free, every node with a span.
///
/// Nodes are a small class hierarchy with a `kind` tag (switch on it, then `as<T>()`).
/// The parser builds them; the resolver (compiler/) annotates names and functions in
/// place; nothing after the AST builder sees parse-tree types.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "grammar/lexer.h"
#include "grammar/source.h"

namespace fb::ast {

using grammar::Span;

// ---- expressions ----------------------------------------------------------------------

enum class ExprKind : std::uint8_t {
  kName,
  kInt,
  kFloat,
  kString,
  kBytes,
  kList,
  kTuple,
  kDict,
  kComprehension,
  kUnary,
  kBinary,
  kConditional,
  kLambda,
  kCall,
  kDot,
  kIndex,
  kSlice,
};

enum class UnaryOp : std::uint8_t { kPlus, kMinus, kInvert, kNot };

enum class BinaryOp : std::uint8_t {
  kAdd,
  kSub,
  kMul,
  kDiv,
  kFloorDiv,
  kMod,
  kBitAnd,
  kBitOr,
  kBitXor,
  kShl,
  kShr,
  kEq,
  kNe,
  kLt,
  kGt,
  kLe,
  kGe,
  kIn,
  kNotIn,
  kAnd,
  kOr,
};

const char* to_string(UnaryOp op);
const char* to_string(BinaryOp op);

/// What every node has: a kind tag to switch on, a span, and a checked-by-the-caller
/// downcast. Nodes are owned by unique_ptr and never copied.
template <typename KindT>
struct Node {
  const KindT kind;
  Span span;
  Node(KindT k, Span s) : kind(k), span(s) {}
  virtual ~Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  template <typename T>
  T& as() {
    return static_cast<T&>(*this);
  }
  template <typename T>
  const T& as() const {
    return static_cast<const T&>(*this);
  }
};

struct Expr : Node<ExprKind> {
  using Node::Node;
};
using ExprPtr = std::unique_ptr<Expr>;

/// Where a name is bound; filled in by the resolver.
enum class Scope : std::uint8_t {
  kUnresolved,
  kLocal,        // a slot in the function's frame
  kCell,         // a local captured by an inner function (lives in a cell)
  kFree,         // a captured variable of an enclosing function
  kGlobal,       // a module-level binding (including load() symbols)
  kPredeclared,  // a faultbox builtin
  kUniverse,     // a Starlark universe builtin (len, None, ...)
};

struct Name : Expr {
  std::string id;
  Scope scope = Scope::kUnresolved;
  std::uint32_t index = 0;  // slot within its scope
  Name(Span s, std::string name) : Expr(ExprKind::kName, s), id(std::move(name)) {}
};

struct IntLit : Expr {
  grammar::IntLiteral value;
  IntLit(Span s, grammar::IntLiteral v) : Expr(ExprKind::kInt, s), value(std::move(v)) {}
};

struct FloatLit : Expr {
  double value;
  FloatLit(Span s, double v) : Expr(ExprKind::kFloat, s), value(v) {}
};

/// A string or bytes literal (kind tells which); `value` is the decoded content.
struct StringLit : Expr {
  std::string value;
  StringLit(ExprKind k, Span s, std::string v) : Expr(k, s), value(std::move(v)) {}
};

/// A list or tuple display.
struct Sequence : Expr {
  std::vector<ExprPtr> items;
  Sequence(ExprKind k, Span s) : Expr(k, s) {}
};

struct DictEntry {
  ExprPtr key;
  ExprPtr value;
};

struct Dict : Expr {
  std::vector<DictEntry> entries;
  explicit Dict(Span s) : Expr(ExprKind::kDict, s) {}
};

struct CompClause {
  enum class Kind : std::uint8_t { kFor, kIf } kind;
  ExprPtr target;  // kFor: the loop variables (a Name or a Tuple)
  ExprPtr expr;    // kFor: the iterable; kIf: the condition
  Span span;
};

/// `[body for ...]` or `{key: value for ...}` (`value` set only for dicts).
struct Comprehension : Expr {
  bool is_dict = false;
  ExprPtr body;
  ExprPtr value;
  std::vector<CompClause> clauses;
  explicit Comprehension(Span s) : Expr(ExprKind::kComprehension, s) {}
};

struct Unary : Expr {
  UnaryOp op;
  ExprPtr operand;
  Unary(Span s, UnaryOp o, ExprPtr x) : Expr(ExprKind::kUnary, s), op(o), operand(std::move(x)) {}
};

struct Binary : Expr {
  BinaryOp op;
  ExprPtr left;
  ExprPtr right;
  Span op_span;
  Binary(Span s, BinaryOp o, ExprPtr l, ExprPtr r)
      : Expr(ExprKind::kBinary, s), op(o), left(std::move(l)), right(std::move(r)) {}
};

struct Conditional : Expr {
  ExprPtr then_expr;
  ExprPtr cond;
  ExprPtr else_expr;
  explicit Conditional(Span s) : Expr(ExprKind::kConditional, s) {}
};

struct Argument {
  enum class Kind : std::uint8_t { kPositional, kKeyword, kStar, kStarStar } kind;
  std::string name;  // kKeyword
  Span name_span;
  ExprPtr value;
  Span span;
};

struct Call : Expr {
  ExprPtr callee;
  std::vector<Argument> args;
  Span lparen;
  explicit Call(Span s) : Expr(ExprKind::kCall, s) {}
};

struct Dot : Expr {
  ExprPtr object;
  std::string attr;
  Span attr_span;
  explicit Dot(Span s) : Expr(ExprKind::kDot, s) {}
};

struct Index : Expr {
  ExprPtr object;
  ExprPtr index;
  explicit Index(Span s) : Expr(ExprKind::kIndex, s) {}
};

struct Slice : Expr {
  ExprPtr object;
  ExprPtr lo, hi, step;  // each may be null
  explicit Slice(Span s) : Expr(ExprKind::kSlice, s) {}
};

// ---- functions ------------------------------------------------------------------------

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;

struct Parameter {
  enum class Kind : std::uint8_t {
    kRequired,    // x
    kOptional,    // x=default
    kStarMarker,  // bare *: the following parameters are keyword-only
    kVarargs,     // *args
    kKwargs,      // **kwargs
  } kind;
  std::string name;  // empty for kStarMarker
  Span span;
  ExprPtr default_value;
};

/// Where a function finds a captured variable in the frame around it: one of that
/// frame's cell locals, or one of its own captured variables.
struct FreeSource {
  bool from_cell = true;
  std::uint32_t index = 0;
};

/// What the resolver records about a function (def or lambda).
struct FunctionInfo {
  /// Slots: positional and keyword-only parameters, *args, **kwargs, then other locals.
  std::vector<std::string> locals;
  std::vector<std::uint32_t> cells;      // local slots captured by inner functions
  std::vector<std::string> freevars;     // captured from enclosing functions, by index
  std::vector<FreeSource> free_sources;  // parallel to freevars
};

struct Function {
  std::string name;  // "lambda" for lambdas
  Span span;         // the def header or lambda expression
  std::vector<Parameter> params;
  std::vector<StmtPtr> body;  // a lambda's body is one return statement
  FunctionInfo info;
};

struct Lambda : Expr {
  std::unique_ptr<Function> function;
  explicit Lambda(Span s) : Expr(ExprKind::kLambda, s) {}
};

// ---- statements -----------------------------------------------------------------------

enum class StmtKind : std::uint8_t {
  kExpr,
  kAssign,
  kDef,
  kIf,
  kFor,
  kWhile,
  kReturn,
  kBreak,
  kContinue,
  kPass,
  kLoad,
};

struct Stmt : Node<StmtKind> {
  using Node::Node;
};

struct ExprStmt : Stmt {
  ExprPtr expr;
  ExprStmt(Span s, ExprPtr e) : Stmt(StmtKind::kExpr, s), expr(std::move(e)) {}
};

/// `target = value`, or an augmented form (`op` set) such as `x += 1`.
struct Assign : Stmt {
  ExprPtr target;
  ExprPtr value;
  bool augmented = false;
  BinaryOp op = BinaryOp::kAdd;  // when augmented
  Span op_span;
  explicit Assign(Span s) : Stmt(StmtKind::kAssign, s) {}
};

struct Def : Stmt {
  std::unique_ptr<Name> name;  // the binding the def creates
  std::unique_ptr<Function> function;
  explicit Def(Span s) : Stmt(StmtKind::kDef, s) {}
};

struct If : Stmt {
  ExprPtr cond;
  std::vector<StmtPtr> then_body;
  std::vector<StmtPtr> else_body;  // an elif is an If inside else_body
  explicit If(Span s) : Stmt(StmtKind::kIf, s) {}
};

struct For : Stmt {
  ExprPtr target;
  ExprPtr iterable;
  std::vector<StmtPtr> body;
  explicit For(Span s) : Stmt(StmtKind::kFor, s) {}
};

struct While : Stmt {
  ExprPtr cond;
  std::vector<StmtPtr> body;
  explicit While(Span s) : Stmt(StmtKind::kWhile, s) {}
};

struct Return : Stmt {
  ExprPtr value;  // may be null
  explicit Return(Span s) : Stmt(StmtKind::kReturn, s) {}
};

/// break, continue, pass.
struct Simple : Stmt {
  Simple(StmtKind k, Span s) : Stmt(k, s) {}
};

/// `load("module", "sym", alias="sym")`.
struct Load : Stmt {
  struct Binding {
    std::unique_ptr<Name> local;  // the name bound in this file
    std::string symbol;           // the name exported by the module
    Span symbol_span;
  };
  std::string module;
  Span module_span;
  std::vector<Binding> bindings;
  explicit Load(Span s) : Stmt(StmtKind::kLoad, s) {}
};

/// A parsed file. `syntax_ok` is false when any syntax error was reported; the tree
/// then holds what could be recovered and should not be executed.
struct Module {
  grammar::FileId file = 0;
  std::vector<StmtPtr> body;
  bool syntax_ok = true;
  /// Module-level names by global slot; filled by the resolver.
  std::vector<std::string> globals;
  /// The frame of top-level code (slots for comprehension variables at module level).
  FunctionInfo toplevel;
};

}  // namespace fb::ast
