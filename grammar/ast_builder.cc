#include "grammar/ast_builder.h"

#include <antlr4-runtime.h>

namespace fb::grammar {
namespace {

using P = gen::StarlarkParser;
using antlr4::ParserRuleContext;
using antlr4::tree::ParseTree;
using antlr4::tree::TerminalNode;

/// The builder is one long-lived object per file: it walks each kind of parse-tree node
/// with one method, all of them short. Error productions report here.
class Builder {
 public:
  Builder(const std::vector<Token>& tokens, const LexResult& lexed, const SourceFile& file,
          DiagnosticSink& sink)
      : tokens_(tokens), lexed_(lexed), file_(file), sink_(sink) {}

  bool statements(P::File_Context* ctx, std::vector<ast::StmtPtr>& out) {
    for (auto* st : ctx->statement()) statement(st, out);
    return !failed_;
  }

 private:
  // ---- spans and errors -----------------------------------------------------------------

  Span token_span(std::size_t index) const {
    const Token& t = tokens_[index];
    return Span{file_.id(), t.offset, t.length};
  }
  Span span(antlr4::Token* t) const { return token_span(t->getTokenIndex()); }
  Span span(TerminalNode* n) const { return span(n->getSymbol()); }
  Span span(ParserRuleContext* ctx) const {
    Span first = span(ctx->getStart());
    antlr4::Token* stop = ctx->getStop();
    if (!stop || stop->getTokenIndex() < ctx->getStart()->getTokenIndex())
      return Span{first.file, first.offset, 0};
    return first.to(span(stop));
  }

  Diagnostic& error(Code code, Span where, std::string message) {
    failed_ = true;
    pending_ = Diagnostic::make(code, where, std::move(message));
    return pending_;
  }
  void flush() {
    if (!pending_.message.empty()) sink_.report(std::move(pending_));
    pending_ = Diagnostic{};
  }

  std::string text(antlr4::Token* t) const {
    const Token& tok = tokens_[t->getTokenIndex()];
    return std::string(file_.text().substr(tok.offset, tok.length));
  }

  // ---- statements -----------------------------------------------------------------------

  void statement(P::StatementContext* ctx, std::vector<ast::StmtPtr>& out) {
    if (auto* c = ctx->defStmt()) return out.push_back(def_stmt(c));
    if (auto* c = ctx->ifStmt()) return out.push_back(if_stmt(c));
    if (auto* c = ctx->forStmt()) return out.push_back(for_stmt(c));
    if (auto* c = ctx->whileStmt()) return out.push_back(while_stmt(c));
    if (auto* c = ctx->unsupportedStmt()) return unsupported_stmt(c);
    simple_stmt(ctx->simpleStmt(), out);
  }

  void suite(P::SuiteContext* ctx, std::vector<ast::StmtPtr>& out) {
    if (auto* s = ctx->simpleStmt()) return simple_stmt(s, out);
    for (auto* st : ctx->statement()) statement(st, out);
  }

  void simple_stmt(P::SimpleStmtContext* ctx, std::vector<ast::StmtPtr>& out) {
    for (auto* small : ctx->smallStmt()) {
      if (auto s = small_stmt(small)) out.push_back(std::move(s));
    }
  }

  ast::StmtPtr small_stmt(P::SmallStmtContext* ctx) {
    Span where = span(ctx);
    if (auto* r = dynamic_cast<P::ReturnStmtContext*>(ctx)) {
      auto s = std::make_unique<ast::Return>(where);
      if (r->testList()) s->value = test_list(r->testList());
      return s;
    }
    if (dynamic_cast<P::BreakStmtContext*>(ctx))
      return std::make_unique<ast::Simple>(ast::StmtKind::kBreak, where);
    if (dynamic_cast<P::ContinueStmtContext*>(ctx))
      return std::make_unique<ast::Simple>(ast::StmtKind::kContinue, where);
    if (dynamic_cast<P::PassStmtContext*>(ctx))
      return std::make_unique<ast::Simple>(ast::StmtKind::kPass, where);
    if (auto* l = dynamic_cast<P::LoadStmtContext*>(ctx)) return load_stmt(l);
    return expr_or_assign(static_cast<P::ExprOrAssignStmtContext*>(ctx));
  }

  ast::StmtPtr load_stmt(P::LoadStmtContext* ctx) {
    auto s = std::make_unique<ast::Load>(span(ctx));
    s->module = lexed_.strings[tokens_[ctx->STRING()->getSymbol()->getTokenIndex()].value];
    s->module_span = span(ctx->STRING());
    for (auto* arg : ctx->loadArg()) {
      ast::Load::Binding b;
      TerminalNode* sym = arg->STRING();
      b.symbol = lexed_.strings[tokens_[sym->getSymbol()->getTokenIndex()].value];
      b.symbol_span = span(sym);
      if (arg->NAME()) {
        b.local = std::make_unique<ast::Name>(span(arg->NAME()), text(arg->NAME()->getSymbol()));
      } else {
        b.local = std::make_unique<ast::Name>(b.symbol_span, b.symbol);
        if (!is_identifier(b.symbol)) {
          error(Code::SPEC_SYNTAX, b.symbol_span,
                "load() symbol \"" + b.symbol + "\" is not a valid name")
              .suggest("bind it under a name: load(\"" + s->module + "\", name=\"" + b.symbol +
                       "\")");
          flush();
        }
      }
      if (b.symbol.starts_with("_")) {
        error(Code::SPEC_SYNTAX, b.symbol_span,
              "load() cannot import '" + b.symbol +
                  "': names starting with '_' are private to their module");
        flush();
      }
      s->bindings.push_back(std::move(b));
    }
    if (s->bindings.empty()) {
      error(Code::SPEC_SYNTAX, s->span, "load() needs at least one symbol to import")
          .suggest("load(\"" + s->module + "\", \"name\")");
      flush();
    }
    return s;
  }

  static bool is_identifier(const std::string& s) {
    if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    });
  }

  ast::StmtPtr expr_or_assign(P::ExprOrAssignStmtContext* ctx) {
    auto lists = ctx->testList();
    ast::ExprPtr first = test_list(lists[0]);
    if (lists.size() == 1) return std::make_unique<ast::ExprStmt>(span(ctx), std::move(first));
    auto s = std::make_unique<ast::Assign>(span(ctx));
    antlr4::Token* op = ctx->assignOp()->getStart();
    s->op_span = span(op);
    Tok type = static_cast<Tok>(op->getType());
    if (type != Tok::ASSIGN) {
      s->augmented = true;
      s->op = augmented_op(type);
    }
    check_target(*first, s->augmented);
    s->target = std::move(first);
    s->value = test_list(lists[1]);
    return s;
  }

  static ast::BinaryOp augmented_op(Tok t) {
    switch (t) {
      case Tok::MINUS_EQ: return ast::BinaryOp::kSub;
      case Tok::STAR_EQ: return ast::BinaryOp::kMul;
      case Tok::SLASH_EQ: return ast::BinaryOp::kDiv;
      case Tok::SLASHSLASH_EQ: return ast::BinaryOp::kFloorDiv;
      case Tok::PERCENT_EQ: return ast::BinaryOp::kMod;
      case Tok::AMP_EQ: return ast::BinaryOp::kBitAnd;
      case Tok::PIPE_EQ: return ast::BinaryOp::kBitOr;
      case Tok::CARET_EQ: return ast::BinaryOp::kBitXor;
      case Tok::LSHIFT_EQ: return ast::BinaryOp::kShl;
      case Tok::RSHIFT_EQ: return ast::BinaryOp::kShr;
      default: return ast::BinaryOp::kAdd;
    }
  }

  /// Assignment targets: names, attributes, subscripts, and (not for augmented
  /// assignment) lists/tuples of targets.
  void check_target(const ast::Expr& e, bool augmented) {
    switch (e.kind) {
      case ast::ExprKind::kName:
      case ast::ExprKind::kDot:
      case ast::ExprKind::kIndex: return;
      case ast::ExprKind::kList:
      case ast::ExprKind::kTuple:
        if (augmented) {
          error(Code::SPEC_SYNTAX, e.span,
                "augmented assignment needs a single target, not a " +
                    std::string(e.kind == ast::ExprKind::kList ? "list" : "tuple"));
          return flush();
        }
        for (const auto& item : e.as<ast::Sequence>().items) check_target(*item, false);
        return;
      default: break;
    }
    error(Code::SPEC_SYNTAX, e.span, "cannot assign to " + describe_expr(e));
    if (e.kind == ast::ExprKind::kBinary && e.as<ast::Binary>().op == ast::BinaryOp::kEq) {
      pending_.suggest("did you mean '==' in a condition?");
    }
    flush();
  }

  static std::string describe_expr(const ast::Expr& e) {
    switch (e.kind) {
      case ast::ExprKind::kCall: return "a function call";
      case ast::ExprKind::kInt:
      case ast::ExprKind::kFloat:
      case ast::ExprKind::kString:
      case ast::ExprKind::kBytes: return "a literal";
      case ast::ExprKind::kSlice: return "a slice";
      case ast::ExprKind::kLambda: return "a lambda";
      case ast::ExprKind::kDict: return "a dict";
      case ast::ExprKind::kComprehension: return "a comprehension";
      default: return "an expression";
    }
  }

  ast::StmtPtr def_stmt(P::DefStmtContext* ctx) {
    auto s = std::make_unique<ast::Def>(span(ctx->DEF()).to(span(ctx->COLON())));
    s->name = std::make_unique<ast::Name>(span(ctx->NAME()), text(ctx->NAME()->getSymbol()));
    s->function = std::make_unique<ast::Function>();
    s->function->name = s->name->id;
    s->function->span = s->span;
    if (ctx->parameters()) parameters(ctx->parameters(), s->function->params);
    suite(ctx->suite(), s->function->body);
    return s;
  }

  void parameters(P::ParametersContext* ctx, std::vector<ast::Parameter>& out) {
    for (auto* p : ctx->parameter()) out.push_back(parameter(p));
    check_parameter_order(out);
  }

  ast::Parameter parameter(P::ParameterContext* ctx) {
    ast::Parameter p{};
    p.span = span(ctx);
    if (auto* plain = dynamic_cast<P::PlainParamContext*>(ctx)) {
      p.name = text(plain->NAME()->getSymbol());
      p.span = span(plain->NAME());
      p.kind = plain->test() ? ast::Parameter::Kind::kOptional : ast::Parameter::Kind::kRequired;
      if (plain->test()) p.default_value = test(plain->test());
    } else if (auto* star = dynamic_cast<P::StarParamContext*>(ctx)) {
      p.kind = star->NAME() ? ast::Parameter::Kind::kVarargs : ast::Parameter::Kind::kStarMarker;
      if (star->NAME()) p.name = text(star->NAME()->getSymbol());
    } else {
      auto* kw = static_cast<P::KwargsParamContext*>(ctx);
      p.kind = ast::Parameter::Kind::kKwargs;
      p.name = text(kw->NAME()->getSymbol());
    }
    return p;
  }

  /// Starlark's order: required, optional, then * or *args, then keyword-only
  /// (required or optional), then **kwargs last.
  void check_parameter_order(const std::vector<ast::Parameter>& params) {
    using K = ast::Parameter::Kind;
    bool seen_optional = false, seen_star = false, seen_kwargs = false;
    for (std::size_t i = 0; i < params.size(); ++i) {
      const ast::Parameter& p = params[i];
      if (seen_kwargs) {
        error(Code::SPEC_SYNTAX, p.span, "parameters cannot follow '**" + params[i - 1].name + "'");
        return flush();
      }
      switch (p.kind) {
        case K::kRequired:
          if (seen_optional && !seen_star) {
            error(Code::SPEC_SYNTAX, p.span,
                  "required parameter '" + p.name + "' follows an optional one")
                .suggest("give it a default, or move it before the parameters with defaults");
            return flush();
          }
          break;
        case K::kOptional: seen_optional = true; break;
        case K::kStarMarker:
        case K::kVarargs:
          if (seen_star) {
            error(Code::SPEC_SYNTAX, p.span, "only one '*' or '*args' parameter is allowed");
            return flush();
          }
          seen_star = true;
          if (p.kind == K::kStarMarker &&
              (i + 1 == params.size() || params[i + 1].kind == K::kKwargs)) {
            error(Code::SPEC_SYNTAX, p.span,
                  "a bare '*' must be followed by keyword-only parameters");
            return flush();
          }
          break;
        case K::kKwargs: seen_kwargs = true; break;
      }
    }
  }

  ast::StmtPtr if_stmt(P::IfStmtContext* ctx) {
    // if/elif chains become nested Ifs in else branches; build from the end backwards.
    auto tests = ctx->test();
    auto suites = ctx->suite();
    std::vector<ast::StmtPtr> tail;
    if (ctx->ELSE()) suite(suites.back(), tail);
    auto elifs = ctx->ELIF();
    for (std::size_t i = tests.size(); i-- > 0;) {
      antlr4::Token* keyword = i == 0 ? ctx->IF()->getSymbol() : elifs[i - 1]->getSymbol();
      auto s = std::make_unique<ast::If>(span(keyword).to(span(tests[i])));
      s->cond = test(tests[i]);
      suite(suites[i], s->then_body);
      s->else_body = std::move(tail);
      tail.clear();
      tail.push_back(std::move(s));
    }
    return std::move(tail.front());
  }

  ast::StmtPtr for_stmt(P::ForStmtContext* ctx) {
    auto s = std::make_unique<ast::For>(span(ctx->FOR()).to(span(ctx->testList())));
    s->target = loop_variables(ctx->loopVariables());
    s->iterable = test_list(ctx->testList());
    suite(ctx->suite(0), s->body);
    if (ctx->ELSE()) {
      error(Code::SPEC_UNSUPPORTED_SYNTAX, span(ctx->ELSE()),
            "'for ... else' is not supported in Starlark")
          .suggest("set a flag in the loop and test it after the loop");
      flush();
    }
    return s;
  }

  ast::StmtPtr while_stmt(P::WhileStmtContext* ctx) {
    auto s = std::make_unique<ast::While>(span(ctx->WHILE()).to(span(ctx->test())));
    s->cond = test(ctx->test());
    suite(ctx->suite(), s->body);
    return s;
  }

  void unsupported_stmt(P::UnsupportedStmtContext* ctx) {
    std::string word = text(ctx->RESERVED()->getSymbol());
    Span where = span(ctx->RESERVED());
    auto& d = error(Code::SPEC_UNSUPPORTED_SYNTAX, where,
                    "'" + word + "' statements are not supported in Starlark");
    if (word == "import" || word == "from") {
      d.suggest(
          "use load(\"file.star\", \"symbol\"); faultbox modules are loaded as "
          "load(\"@faultbox/recipes/postgres.star\", \"postgres\")");
    } else if (word == "class") {
      d.suggest(
          "Starlark has no classes; use struct(field=...) for records and plain functions for "
          "behaviour");
    } else if (word == "try" || word == "except" || word == "finally" || word == "raise") {
      d.suggest(
          "Starlark has no exceptions; check values before use, and call fail(\"message\") to stop "
          "with an error");
    } else if (word == "with") {
      d.suggest(
          "Starlark has no 'with'; to scope a fault, pass the code as a function: fault(svc, "
          "write=deny(\"EIO\"), run=fn)");
    } else if (word == "global" || word == "nonlocal") {
      d.suggest("functions cannot rebind outer names; return the new value instead");
    } else if (word == "del") {
      d.suggest("remove dict entries with d.pop(key)");
    } else if (word == "yield" || word == "async" || word == "await") {
      d.suggest("Starlark has no generators or coroutines; build and return a list");
    }
    flush();
  }

  /// Loop variables: one target, or a tuple of them (`for k, v in ...`).
  ast::ExprPtr loop_variables(P::LoopVariablesContext* ctx) {
    return loop_sequence(ctx, ast::ExprKind::kTuple, span(ctx), /*bare_single=*/true);
  }

  ast::ExprPtr loop_sequence(P::LoopVariablesContext* ctx, ast::ExprKind kind, Span where,
                             bool bare_single) {
    if (!ctx) return std::make_unique<ast::Sequence>(kind, where);
    std::vector<ast::ExprPtr> items;
    for (auto* t : ctx->loopTarget()) {
      items.push_back(loop_target(t));
      check_target(*items.back(), false);
    }
    if (bare_single && items.size() == 1 && ctx->COMMA().empty()) return std::move(items[0]);
    auto seq = std::make_unique<ast::Sequence>(kind, where);
    seq->items = std::move(items);
    return seq;
  }

  ast::ExprPtr loop_target(P::LoopTargetContext* ctx) {
    DepthScope scope(depth_);
    if (depth_ > kMaxExprDepth) return too_deep(ctx);
    Span where = span(ctx);
    if (auto* n = dynamic_cast<P::NameTargetContext*>(ctx))
      return std::make_unique<ast::Name>(where, text(n->NAME()->getSymbol()));
    if (auto* p = dynamic_cast<P::ParenTargetContext*>(ctx))
      return loop_sequence(p->loopVariables(), ast::ExprKind::kTuple, where, true);
    if (auto* l = dynamic_cast<P::ListTargetContext*>(ctx))
      return loop_sequence(l->loopVariables(), ast::ExprKind::kList, where, false);
    if (auto* d = dynamic_cast<P::DotTargetContext*>(ctx))
      return dot(where, loop_target(d->loopTarget()), d->NAME());
    if (auto* c = dynamic_cast<P::CallTargetContext*>(ctx))
      return call(where, loop_target(c->loopTarget()), c->LPAREN(), c->arguments());
    auto* sub = static_cast<P::SubscriptTargetContext*>(ctx);
    return subscript(where, loop_target(sub->loopTarget()), sub->subscript(), sub->RBRACK());
  }

  // ---- expressions ----------------------------------------------------------------------

  ast::ExprPtr test_list(P::TestListContext* ctx) {
    auto tests = ctx->test();
    if (tests.size() == 1 && ctx->COMMA().empty()) return test(tests[0]);
    auto t = std::make_unique<ast::Sequence>(ast::ExprKind::kTuple, span(ctx));
    for (auto* e : tests) t->items.push_back(test(e));
    return t;
  }

  /// Left-recursive chains (a + b + c ..., a.b.c ...) are loops in the parser but
  /// nest in the tree; past this depth the builder stops instead of overflowing.
  static constexpr int kMaxExprDepth = 1000;

  struct DepthScope {
    int& depth;
    explicit DepthScope(int& d) : depth(++d) {}
    ~DepthScope() { --depth; }
  };

  ast::ExprPtr too_deep(ParserRuleContext* ctx) {
    if (!reported_depth_) {
      error(Code::SPEC_SYNTAX, span(ctx),
            "expression nests too deeply (more than " + std::to_string(kMaxExprDepth) + " levels)")
          .suggest("split it into several assignments");
      flush();
      reported_depth_ = true;
    }
    failed_ = true;
    return std::make_unique<ast::Name>(span(ctx), "None");
  }

  // ---- shape-based dispatch (test, expr and argument have no alternative labels) ----

  /// True for a token child of a context. typeid is compared, not dynamic_cast'ed:
  /// across the ANTLR shared library the cast walks type names, the compare does not.
  static bool is_token(ParseTree* child) {
    return typeid(*child) == typeid(antlr4::tree::TerminalNodeImpl);
  }
  Tok token_type(ParseTree* child) const {
    return tokens_[static_cast<TerminalNode*>(child)->getSymbol()->getTokenIndex()].type;
  }
  static P::ExprContext* expr_at(ParserRuleContext* ctx, std::size_t i) {
    return static_cast<P::ExprContext*>(ctx->children[i]);
  }
  static P::TestContext* test_at(ParserRuleContext* ctx, std::size_t i) {
    return static_cast<P::TestContext*>(ctx->children[i]);
  }

  /// `lambda params: body`, or `x`, or `x if cond else y`.
  ast::ExprPtr test(P::TestContext* ctx) {
    DepthScope scope(depth_);
    if (depth_ > kMaxExprDepth) return too_deep(ctx);
    if (is_token(ctx->children[0])) return lambda(ctx);
    if (ctx->children.size() == 1) return expr(expr_at(ctx, 0));
    auto c = std::make_unique<ast::Conditional>(span(ctx));
    c->then_expr = expr(expr_at(ctx, 0));
    c->cond = expr(expr_at(ctx, 2));
    c->else_expr = test(test_at(ctx, 4));
    return c;
  }

  /// LAMBDA parameters? ':' test
  ast::ExprPtr lambda(P::TestContext* ctx) {
    auto l = std::make_unique<ast::Lambda>(span(ctx));
    l->function = std::make_unique<ast::Function>();
    l->function->name = "lambda";
    l->function->span = span(ctx->getStart());
    bool has_params = ctx->children.size() == 4;
    if (has_params)
      parameters(static_cast<P::ParametersContext*>(ctx->children[1]), l->function->params);
    auto body = test(test_at(ctx, has_params ? 3 : 2));
    auto ret = std::make_unique<ast::Return>(body->span);
    ret->value = std::move(body);
    l->function->body.push_back(std::move(ret));
    return l;
  }

  ast::ExprPtr expr(P::ExprContext* ctx) {
    DepthScope scope(depth_);
    if (depth_ > kMaxExprDepth) return too_deep(ctx);
    if (ctx->children.size() == 1) return atom(ctx);
    return is_token(ctx->children[0]) ? prefixed(ctx) : suffixed(ctx);
  }

  /// Displays, parenthesised expressions and unary operators: the first child is a token.
  ast::ExprPtr prefixed(P::ExprContext* ctx) {
    Span where = span(ctx);
    auto& kids = ctx->children;
    auto* inside = kids.size() == 3 ? kids[1] : nullptr;  // absent in [], {}, ()
    switch (token_type(kids[0])) {
      case Tok::LBRACK: return list(where, static_cast<P::ListBodyContext*>(inside));
      case Tok::LBRACE: return dict(where, static_cast<P::DictBodyContext*>(inside));
      case Tok::LPAREN: return paren(where, static_cast<P::TestListContext*>(inside));
      case Tok::NOT:
        return std::make_unique<ast::Unary>(where, ast::UnaryOp::kNot, expr(expr_at(ctx, 1)));
      case Tok::MINUS:
        return std::make_unique<ast::Unary>(where, ast::UnaryOp::kMinus, expr(expr_at(ctx, 1)));
      case Tok::PLUS:
        return std::make_unique<ast::Unary>(where, ast::UnaryOp::kPlus, expr(expr_at(ctx, 1)));
      default:
        return std::make_unique<ast::Unary>(where, ast::UnaryOp::kInvert, expr(expr_at(ctx, 1)));
    }
  }

  /// Suffixes and binary operators: the first child is an expression.
  ast::ExprPtr suffixed(P::ExprContext* ctx) {
    Span where = span(ctx);
    auto& kids = ctx->children;
    if (!is_token(kids[1])) return compare(ctx);
    auto* op = static_cast<TerminalNode*>(kids[1]);
    switch (token_type(op)) {
      case Tok::DOT: return dot(where, expr(expr_at(ctx, 0)), static_cast<TerminalNode*>(kids[2]));
      case Tok::LPAREN: {
        auto* args = kids.size() == 4 ? static_cast<P::ArgumentsContext*>(kids[2]) : nullptr;
        return call(where, expr(expr_at(ctx, 0)), op, args);
      }
      case Tok::LBRACK:
        return subscript(where, expr(expr_at(ctx, 0)), static_cast<P::SubscriptContext*>(kids[2]),
                         static_cast<TerminalNode*>(kids[3]));
      case Tok::STARSTAR:
        error(Code::SPEC_UNSUPPORTED_SYNTAX, span(op), "'**' (power) is not a Starlark operator")
            .suggest("multiply explicitly (x * x), or write the constant out");
        flush();
        return binary(where, ast::BinaryOp::kMul, expr_at(ctx, 0), expr_at(ctx, 2), span(op));
      default:
        return binary(where, binary_op(token_type(op)), expr_at(ctx, 0), expr_at(ctx, 2), span(op));
    }
  }

  ast::ExprPtr binary(Span where, ast::BinaryOp op, P::ExprContext* l, P::ExprContext* r,
                      Span op_span) {
    auto b = std::make_unique<ast::Binary>(where, op, expr(l), expr(r));
    b->op_span = op_span;
    return b;
  }

  static ast::BinaryOp binary_op(Tok t) {
    switch (t) {
      case Tok::PLUS: return ast::BinaryOp::kAdd;
      case Tok::MINUS: return ast::BinaryOp::kSub;
      case Tok::STAR: return ast::BinaryOp::kMul;
      case Tok::SLASH: return ast::BinaryOp::kDiv;
      case Tok::SLASHSLASH: return ast::BinaryOp::kFloorDiv;
      case Tok::PERCENT: return ast::BinaryOp::kMod;
      case Tok::AMP: return ast::BinaryOp::kBitAnd;
      case Tok::PIPE: return ast::BinaryOp::kBitOr;
      case Tok::CARET: return ast::BinaryOp::kBitXor;
      case Tok::LSHIFT: return ast::BinaryOp::kShl;
      case Tok::RSHIFT: return ast::BinaryOp::kShr;
      case Tok::AND: return ast::BinaryOp::kAnd;
      default: return ast::BinaryOp::kOr;
    }
  }

  /// expr compOp expr
  ast::ExprPtr compare(P::ExprContext* ctx) {
    auto* opctx = static_cast<P::CompOpContext*>(ctx->children[1]);
    Span op_span = span(opctx);
    ast::BinaryOp op = ast::BinaryOp::kEq;
    Tok first = static_cast<Tok>(opctx->getStart()->getType());
    switch (first) {
      case Tok::EQ: op = ast::BinaryOp::kEq; break;
      case Tok::NE: op = ast::BinaryOp::kNe; break;
      case Tok::LT: op = ast::BinaryOp::kLt; break;
      case Tok::GT: op = ast::BinaryOp::kGt; break;
      case Tok::LE: op = ast::BinaryOp::kLe; break;
      case Tok::GE: op = ast::BinaryOp::kGe; break;
      case Tok::IN: op = ast::BinaryOp::kIn; break;
      case Tok::NOT: op = ast::BinaryOp::kNotIn; break;
      default: {
        bool negated = opctx->NOT() != nullptr;
        error(Code::SPEC_UNSUPPORTED_SYNTAX, op_span,
              std::string("'") + (negated ? "is not" : "is") + "' is not supported in Starlark")
            .suggest(negated ? "use '!='" : "use '=='");
        flush();
        op = negated ? ast::BinaryOp::kNe : ast::BinaryOp::kEq;
      }
    }
    // Comparisons do not chain: a < b < c is an error, (a < b) < c is not.
    P::ExprContext* left = expr_at(ctx, 0);
    if (left->children.size() == 3 && !is_token(left->children[0]) &&
        !is_token(left->children[1])) {
      error(Code::SPEC_SYNTAX, op_span, "comparison operators do not chain in Starlark")
          .suggest("write 'a < b and b < c'");
      flush();
    }
    return binary(span(ctx), op, left, expr_at(ctx, 2), op_span);
  }

  ast::ExprPtr dot(Span where, ast::ExprPtr object, TerminalNode* name) {
    auto d = std::make_unique<ast::Dot>(where);
    d->object = std::move(object);
    d->attr = text(name->getSymbol());
    d->attr_span = span(name);
    return d;
  }

  ast::ExprPtr call(Span where, ast::ExprPtr callee, TerminalNode* lparen,
                    P::ArgumentsContext* args) {
    auto c = std::make_unique<ast::Call>(where);
    c->callee = std::move(callee);
    c->lparen = span(lparen);
    if (args) {
      for (auto* a : args->argument()) c->args.push_back(argument(a));
    }
    check_argument_order(c->args);
    return c;
  }

  /// NAME '=' test | '*' test | '**' test | test
  ast::Argument argument(P::ArgumentContext* ctx) {
    ast::Argument a{};
    a.span = span(ctx);
    auto& kids = ctx->children;
    a.value = test(test_at(ctx, kids.size() - 1));
    if (kids.size() == 3) {
      auto* name = static_cast<TerminalNode*>(kids[0]);
      a.kind = ast::Argument::Kind::kKeyword;
      a.name = text(name->getSymbol());
      a.name_span = span(name);
    } else if (kids.size() == 2) {
      a.kind = token_type(kids[0]) == Tok::STAR ? ast::Argument::Kind::kStar
                                                : ast::Argument::Kind::kStarStar;
    } else {
      a.kind = ast::Argument::Kind::kPositional;
    }
    return a;
  }

  /// Starlark's call order: positional, keyword, *args, **kwargs; each of *args and
  /// **kwargs at most once (starlark-go's rule; Python would also allow k=v after *args).
  void check_argument_order(const std::vector<ast::Argument>& args) {
    using K = ast::Argument::Kind;
    bool keyword = false, star = false, starstar = false;
    for (const ast::Argument& a : args) {
      const char* problem = nullptr;
      switch (a.kind) {
        case K::kPositional:
          if (starstar)
            problem = "positional argument follows **kwargs";
          else if (star)
            problem = "positional argument follows *args";
          else if (keyword)
            problem = "positional argument follows keyword argument";
          break;
        case K::kKeyword:
          if (starstar)
            problem = "keyword argument follows **kwargs";
          else if (star)
            problem = "keyword argument follows *args";
          keyword = true;
          break;
        case K::kStar:
          if (starstar)
            problem = "*args follows **kwargs";
          else if (star)
            problem = "only one *args is allowed in a call";
          star = true;
          break;
        case K::kStarStar:
          if (starstar) problem = "only one **kwargs is allowed in a call";
          starstar = true;
          break;
      }
      if (problem) {
        error(Code::SPEC_BAD_ARGUMENTS, a.span, problem);
        flush();
        return;
      }
    }
  }

  ast::ExprPtr subscript(Span where, ast::ExprPtr object, P::SubscriptContext* sub,
                         TerminalNode* rbrack) {
    if (sub->COLON().empty()) {
      auto ix = std::make_unique<ast::Index>(where);
      ix->object = std::move(object);
      if (sub->test().empty()) {
        error(Code::SPEC_SYNTAX, span(rbrack), "expected an index or slice inside '[]'");
        flush();
        ix->index = std::make_unique<ast::Name>(span(rbrack), "None");
      } else {
        ix->index = test(sub->test(0));
      }
      return ix;
    }
    // Walk the children: each test belongs to the part the preceding colons select.
    auto sl = std::make_unique<ast::Slice>(where);
    sl->object = std::move(object);
    int part = 0;
    for (ParseTree* child : sub->children) {
      if (is_token(child)) {  // a ':'
        ++part;
        continue;
      }
      ast::ExprPtr e = test(static_cast<P::TestContext*>(child));
      (part == 0 ? sl->lo : part == 1 ? sl->hi : sl->step) = std::move(e);
    }
    return sl;
  }

  /// A name or literal: the expression's only child is its token.
  ast::ExprPtr atom(P::ExprContext* ctx) {
    Span where = span(ctx);
    const Token& tok = tokens_[ctx->getStart()->getTokenIndex()];
    switch (tok.type) {
      case Tok::NAME: return std::make_unique<ast::Name>(where, text(ctx->getStart()));
      case Tok::INT: return std::make_unique<ast::IntLit>(where, lexed_.ints[tok.value]);
      case Tok::FLOAT: return std::make_unique<ast::FloatLit>(where, lexed_.floats[tok.value]);
      case Tok::BYTES:
        return std::make_unique<ast::StringLit>(ast::ExprKind::kBytes, where,
                                                lexed_.strings[tok.value]);
      default:
        return std::make_unique<ast::StringLit>(ast::ExprKind::kString, where,
                                                lexed_.strings[tok.value]);
    }
  }

  ast::ExprPtr paren(Span where, P::TestListContext* inside) {
    if (!inside) return std::make_unique<ast::Sequence>(ast::ExprKind::kTuple, where);
    ast::ExprPtr inner = test_list(inside);
    if (inner->kind == ast::ExprKind::kTuple) inner->span = where;
    return inner;
  }

  ast::ExprPtr list(Span where, P::ListBodyContext* body) {
    if (!body) return std::make_unique<ast::Sequence>(ast::ExprKind::kList, where);
    auto tests = body->test();
    if (!body->compClause().empty()) {
      auto c = std::make_unique<ast::Comprehension>(where);
      c->body = test(tests[0]);
      comp_clauses(body->compClause(), c->clauses);
      return c;
    }
    auto l = std::make_unique<ast::Sequence>(ast::ExprKind::kList, where);
    for (auto* t : tests) l->items.push_back(test(t));
    return l;
  }

  ast::ExprPtr dict(Span where, P::DictBodyContext* body) {
    if (!body) return std::make_unique<ast::Dict>(where);
    auto items = body->dictItem();
    std::size_t with_value = 0;
    for (auto* item : items) with_value += item->value ? 1 : 0;
    if (with_value != items.size()) return set_literal(where, items, with_value);
    if (!body->compClause().empty()) {
      auto c = std::make_unique<ast::Comprehension>(where);
      c->is_dict = true;
      c->body = test(items[0]->key);
      c->value = test(items[0]->value);
      comp_clauses(body->compClause(), c->clauses);
      return c;
    }
    auto d = std::make_unique<ast::Dict>(where);
    for (auto* item : items)
      d->entries.push_back(ast::DictEntry{test(item->key), test(item->value)});
    return d;
  }

  ast::ExprPtr set_literal(Span where, const std::vector<P::DictItemContext*>& items,
                           std::size_t with_value) {
    if (with_value == 0) {
      error(Code::SPEC_UNSUPPORTED_SYNTAX, where, "set literals are not supported in Starlark")
          .suggest("use set([...]) to build a set from a list");
    } else {
      for (auto* item : items) {
        if (item->value) continue;
        error(Code::SPEC_SYNTAX, span(item), "expected 'key: value' in a dict");
        break;
      }
    }
    flush();
    auto l = std::make_unique<ast::Sequence>(ast::ExprKind::kList, where);
    for (auto* item : items) l->items.push_back(test(item->key));
    return l;
  }

  void comp_clauses(const std::vector<P::CompClauseContext*>& ctxs,
                    std::vector<ast::CompClause>& out) {
    for (auto* ctx : ctxs) {
      ast::CompClause c{};
      c.span = span(ctx);
      if (auto* f = dynamic_cast<P::ForClauseContext*>(ctx)) {
        c.kind = ast::CompClause::Kind::kFor;
        c.target = loop_variables(f->loopVariables());
        c.expr = expr(f->expr());
      } else {
        c.kind = ast::CompClause::Kind::kIf;
        c.expr = expr(static_cast<P::IfClauseContext*>(ctx)->expr());
      }
      out.push_back(std::move(c));
    }
  }

  const std::vector<Token>& tokens_;
  const LexResult& lexed_;
  const SourceFile& file_;
  DiagnosticSink& sink_;
  Diagnostic pending_;
  bool failed_ = false;
  int depth_ = 0;
  bool reported_depth_ = false;
};

}  // namespace

bool build_statements(gen::StarlarkParser::File_Context* tree, const std::vector<Token>& tokens,
                      const LexResult& lexed, const SourceFile& file, DiagnosticSink& sink,
                      std::vector<ast::StmtPtr>& out) {
  return Builder(tokens, lexed, file, sink).statements(tree, out);
}

}  // namespace fb::grammar
