#include "grammar/ast_dump.h"

#include <cstdio>
#include <sstream>

namespace fb::ast {
namespace {

const char* scope_name(Scope s) {
  switch (s) {
    case Scope::kUnresolved: return "";
    case Scope::kLocal: return "local";
    case Scope::kCell: return "cell";
    case Scope::kFree: return "free";
    case Scope::kGlobal: return "global";
    case Scope::kPredeclared: return "builtin";
    case Scope::kUniverse: return "universe";
  }
  return "";
}

/// Writes the tree; one method per node family keeps each small.
class Dumper {
 public:
  explicit Dumper(const grammar::SourceFile& file) : file_(file) {}

  std::string run(const Module& m) {
    out_ << "Module\n";
    block(m.body, 1);
    return out_.str();
  }

 private:
  void line(int depth, const Span& at, const std::string& text) {
    grammar::LineCol lc = file_.line_col(at.offset);
    out_ << std::string(static_cast<std::size_t>(depth) * 2, ' ') << text << " @" << lc.line << ':'
         << lc.col << '\n';
  }

  void block(const std::vector<StmtPtr>& body, int depth) {
    for (const auto& s : body) stmt(*s, depth);
  }

  void labeled(int depth, const char* label, const std::vector<StmtPtr>& body) {
    out_ << std::string(static_cast<std::size_t>(depth) * 2, ' ') << label << '\n';
    block(body, depth + 1);
  }

  void stmt(const Stmt& s, int d) {
    switch (s.kind) {
      case StmtKind::kExpr: line(d, s.span, "ExprStmt"); return expr(*s.as<ExprStmt>().expr, d + 1);
      case StmtKind::kAssign: {
        const auto& a = s.as<Assign>();
        line(d, s.span, a.augmented ? std::string("AugAssign ") + to_string(a.op) + "=" : "Assign");
        expr(*a.target, d + 1);
        return expr(*a.value, d + 1);
      }
      case StmtKind::kDef: {
        const auto& def = s.as<Def>();
        line(d, s.span, "Def " + def.name->id + scope_suffix(*def.name));
        return function(*def.function, d + 1);
      }
      case StmtKind::kIf: {
        const auto& i = s.as<If>();
        line(d, s.span, "If");
        expr(*i.cond, d + 1);
        labeled(d + 1, "then", i.then_body);
        if (!i.else_body.empty()) labeled(d + 1, "else", i.else_body);
        return;
      }
      case StmtKind::kFor: {
        const auto& f = s.as<For>();
        line(d, s.span, "For");
        expr(*f.target, d + 1);
        expr(*f.iterable, d + 1);
        return labeled(d + 1, "body", f.body);
      }
      case StmtKind::kWhile: {
        const auto& w = s.as<While>();
        line(d, s.span, "While");
        expr(*w.cond, d + 1);
        return labeled(d + 1, "body", w.body);
      }
      case StmtKind::kReturn: {
        line(d, s.span, "Return");
        if (s.as<Return>().value) expr(*s.as<Return>().value, d + 1);
        return;
      }
      case StmtKind::kBreak: return line(d, s.span, "Break");
      case StmtKind::kContinue: return line(d, s.span, "Continue");
      case StmtKind::kPass: return line(d, s.span, "Pass");
      case StmtKind::kLoad: {
        const auto& l = s.as<Load>();
        line(d, s.span, "Load " + quote(l.module));
        for (const auto& b : l.bindings) {
          line(d + 1, b.local->span,
               b.local->id + scope_suffix(*b.local) + " = " + quote(b.symbol));
        }
        return;
      }
    }
  }

  void function(const Function& f, int d) {
    for (const auto& p : f.params) {
      static const char* kinds[] = {"Param", "Param", "StarMarker", "Varargs", "Kwargs"};
      line(d, p.span,
           std::string(kinds[static_cast<int>(p.kind)]) + (p.name.empty() ? "" : " " + p.name));
      if (p.default_value) expr(*p.default_value, d + 1);
    }
    if (!f.info.locals.empty() || !f.info.freevars.empty()) {
      std::string info = std::string(static_cast<std::size_t>(d) * 2, ' ') + "locals:";
      for (const auto& l : f.info.locals) info += " " + l;
      if (!f.info.freevars.empty()) {
        info += " free:";
        for (const auto& fv : f.info.freevars) info += " " + fv;
      }
      out_ << info << '\n';
    }
    labeled(d, "body", f.body);
  }

  static std::string scope_suffix(const Name& n) {
    if (n.scope == Scope::kUnresolved) return "";
    // Builtins are looked up by name; only frame and module slots have indices.
    if (n.scope == Scope::kPredeclared || n.scope == Scope::kUniverse)
      return std::string(" [") + scope_name(n.scope) + "]";
    return std::string(" [") + scope_name(n.scope) + " " + std::to_string(n.index) + "]";
  }

  void expr(const Expr& e, int d) {
    switch (e.kind) {
      case ExprKind::kName:
        return line(d, e.span, "Name " + e.as<Name>().id + scope_suffix(e.as<Name>()));
      case ExprKind::kInt: {
        const auto& v = e.as<IntLit>().value;
        return line(d, e.span, "Int " + (v.big ? v.decimal : std::to_string(v.small)));
      }
      case ExprKind::kFloat: {
        char buf[40];
        std::snprintf(buf, sizeof buf, "%.17g", e.as<FloatLit>().value);
        return line(d, e.span, std::string("Float ") + buf);
      }
      case ExprKind::kString: return line(d, e.span, "String " + quote(e.as<StringLit>().value));
      case ExprKind::kBytes: return line(d, e.span, "Bytes b" + quote(e.as<StringLit>().value));
      case ExprKind::kList:
      case ExprKind::kTuple: {
        line(d, e.span, e.kind == ExprKind::kList ? "List" : "Tuple");
        for (const auto& item : e.as<Sequence>().items) expr(*item, d + 1);
        return;
      }
      case ExprKind::kDict: {
        line(d, e.span, "Dict");
        for (const auto& entry : e.as<Dict>().entries) {
          expr(*entry.key, d + 1);
          expr(*entry.value, d + 2);
        }
        return;
      }
      case ExprKind::kComprehension: return comprehension(e.as<Comprehension>(), d);
      case ExprKind::kUnary: {
        line(d, e.span, std::string("Unary ") + to_string(e.as<Unary>().op));
        return expr(*e.as<Unary>().operand, d + 1);
      }
      case ExprKind::kBinary: {
        const auto& b = e.as<Binary>();
        line(d, e.span, std::string("Binary ") + to_string(b.op));
        expr(*b.left, d + 1);
        return expr(*b.right, d + 1);
      }
      case ExprKind::kConditional: {
        const auto& c = e.as<Conditional>();
        line(d, e.span, "Conditional");
        expr(*c.then_expr, d + 1);
        expr(*c.cond, d + 1);
        return expr(*c.else_expr, d + 1);
      }
      case ExprKind::kLambda: {
        line(d, e.span, "Lambda");
        return function(*e.as<Lambda>().function, d + 1);
      }
      case ExprKind::kCall: return call(e.as<Call>(), d);
      case ExprKind::kDot: {
        line(d, e.span, "Dot ." + e.as<Dot>().attr);
        return expr(*e.as<Dot>().object, d + 1);
      }
      case ExprKind::kIndex: {
        line(d, e.span, "Index");
        expr(*e.as<Index>().object, d + 1);
        return expr(*e.as<Index>().index, d + 1);
      }
      case ExprKind::kSlice: return slice(e.as<Slice>(), d);
    }
  }

  void comprehension(const Comprehension& c, int d) {
    line(d, c.span, c.is_dict ? "DictComprehension" : "ListComprehension");
    expr(*c.body, d + 1);
    if (c.value) expr(*c.value, d + 2);
    for (const auto& clause : c.clauses) {
      line(d + 1, clause.span, clause.kind == CompClause::Kind::kFor ? "for" : "if");
      if (clause.target) expr(*clause.target, d + 2);
      expr(*clause.expr, d + 2);
    }
  }

  void call(const Call& c, int d) {
    line(d, c.span, "Call");
    expr(*c.callee, d + 1);
    for (const auto& a : c.args) {
      static const char* prefix[] = {"", "", "*", "**"};
      if (a.kind == Argument::Kind::kKeyword) {
        line(d + 1, a.span, "Keyword " + a.name);
        expr(*a.value, d + 2);
      } else if (a.kind == Argument::Kind::kPositional) {
        expr(*a.value, d + 1);
      } else {
        line(d + 1, a.span, std::string("Unpack ") + prefix[static_cast<int>(a.kind)]);
        expr(*a.value, d + 2);
      }
    }
  }

  void slice(const Slice& s, int d) {
    line(d, s.span, "Slice");
    expr(*s.object, d + 1);
    const ExprPtr* parts[] = {&s.lo, &s.hi, &s.step};
    const char* names[] = {"lo", "hi", "step"};
    for (int i = 0; i < 3; ++i) {
      if (!*parts[i]) continue;
      out_ << std::string(static_cast<std::size_t>(d + 1) * 2, ' ') << names[i] << '\n';
      expr(**parts[i], d + 2);
    }
  }

  const grammar::SourceFile& file_;
  std::ostringstream out_;
};

}  // namespace

std::string dump(const Module& module, const grammar::SourceFile& file) {
  return Dumper(file).run(module);
}

std::string quote(std::string_view value) {
  std::string out = "\"";
  for (unsigned char c : value) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7F) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

}  // namespace fb::ast
