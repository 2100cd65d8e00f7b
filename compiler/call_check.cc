#include "compiler/call_check.h"

#include <optional>
#include <set>

#include "grammar/names.h"
#include "grammar/suggest.h"

namespace fb::compiler {
namespace {

using grammar::Code;
using grammar::Diagnostic;

std::string valid_keywords(const Signature& sig) {
  std::string list;
  for (const ParamSpec& p : sig.params) {
    if (p.kind == ParamSpec::Kind::kPositionalOnly) continue;
    list += (list.empty() ? "" : ", ") + p.name;
  }
  return list;
}

std::vector<std::string> keyword_names(const Signature& sig) {
  std::vector<std::string> names;
  for (const ParamSpec& p : sig.params) {
    if (p.kind != ParamSpec::Kind::kPositionalOnly) names.push_back(p.name);
  }
  return names;
}

class CallChecker {
 public:
  CallChecker(const ast::Call& call, const Signature& sig, grammar::DiagnosticSink& sink)
      : call_(call), sig_(sig), sink_(sink), fn_(sig.name + "()") {}

  void run() {
    for (const ast::Argument& a : call_.args) {
      if (a.kind == ast::Argument::Kind::kStar) unpacks_args_ = true;
      if (a.kind == ast::Argument::Kind::kStarStar) unpacks_kwargs_ = true;
    }
    check_positionals();
    for (const ast::Argument& a : call_.args) {
      if (a.kind == ast::Argument::Kind::kKeyword) check_keyword(a);
    }
    if (!unpacks_args_ && !unpacks_kwargs_) check_required();
    check_names();
  }

 private:
  /// The kind of name a parameter of this builtin takes, if it takes one.
  std::optional<grammar::NameKind> name_kind(const std::string& param) const {
    using grammar::NameKind;
    if (param == "label") return NameKind::kLabel;
    if (param != "name") return std::nullopt;
    static const std::pair<std::string_view, NameKind> kNamed[] = {
        {"service", NameKind::kService},
        {"interface", NameKind::kInterface},
        {"test", NameKind::kTest},
        {"fault_assumption", NameKind::kAssumption},
        {"fault_scenario", NameKind::kScenario},
    };
    for (const auto& [builtin, kind] : kNamed)
      if (sig_.name == builtin) return kind;
    return std::nullopt;
  }

  /// Names given as string literals are checked here, where they are written; computed
  /// ones are checked by the builtin when the spec runs.
  void check_names() {
    std::size_t position = 0;
    for (const ast::Argument& a : call_.args) {
      const ParamSpec* p = nullptr;
      if (a.kind == ast::Argument::Kind::kPositional) {
        if (position < sig_.params.size() &&
            sig_.params[position].kind != ParamSpec::Kind::kKeywordOnly)
          p = &sig_.params[position];
        ++position;
      } else if (a.kind == ast::Argument::Kind::kKeyword) {
        p = sig_.param(a.name);
      }
      if (!p) continue;
      if (auto kind = name_kind(p->name)) check_literal_name(*kind, *a.value);
      // service(ops={"name": op(...)}): the keys name ops.
      if (sig_.name == "service" && p->name == "ops" && a.value->kind == ast::ExprKind::kDict)
        for (const ast::DictEntry& e : static_cast<const ast::Dict&>(*a.value).entries)
          check_literal_name(grammar::NameKind::kOp, *e.key);
    }
  }

  void check_literal_name(grammar::NameKind kind, const ast::Expr& value) {
    if (value.kind != ast::ExprKind::kString) return;
    std::string why = grammar::check_name(kind, static_cast<const ast::StringLit&>(value).value);
    if (why.empty()) return;
    sink_.report(Diagnostic::make(Code::SPEC_BAD_NAME, value.span, fn_ + ": " + why));
  }
  void check_positionals() {
    std::size_t count = 0;
    for (const ast::Argument& a : call_.args) {
      if (a.kind != ast::Argument::Kind::kPositional) continue;
      if (count < sig_.params.size() && sig_.params[count].kind != ParamSpec::Kind::kKeywordOnly) {
        given_.insert(sig_.params[count].name);
      }
      if (++count == sig_.max_positional() + 1) {
        std::size_t max = sig_.max_positional();
        auto d = Diagnostic::make(Code::SPEC_TOO_MANY_ARGUMENTS, a.span,
                                  fn_ + " takes " +
                                      (max == 0 ? "no" : "at most " + std::to_string(max)) +
                                      " positional argument" + (max == 1 ? "" : "s"));
        d.note("signature: " + sig_.render());
        if (a.value->kind == ast::ExprKind::kLambda && sig_.param("where")) {
          // The reference silently ignored a positional predicate; say where it goes.
          d.suggest("pass the predicate by keyword: where=lambda e: ...");
        } else if (!keyword_names(sig_).empty()) {
          d.suggest("pass the rest by keyword: " + valid_keywords(sig_));
        }
        sink_.report(std::move(d));
      }
    }
  }

  void check_keyword(const ast::Argument& a) {
    const ParamSpec* p = sig_.param(a.name);
    if (!seen_keywords_.insert(a.name).second) {
      sink_.report(Diagnostic::make(Code::SPEC_BAD_ARGUMENTS, a.name_span,
                                    "keyword argument '" + a.name + "' is given more than once"));
      return;
    }
    if (!p) {
      if (sig_.kwargs) return extra_keywords_.push_back(&a), void();
      auto d = Diagnostic::make(Code::SPEC_UNKNOWN_KEYWORD, a.name_span,
                                fn_ + " has no keyword argument '" + a.name + "'");
      if (auto near = grammar::closest_match(a.name, keyword_names(sig_)))
        d.suggest("did you mean '" + *near + "'?");
      std::string valid = valid_keywords(sig_);
      d.note(valid.empty() ? fn_ + " takes no keyword arguments" : "valid keywords: " + valid);
      sink_.report(std::move(d));
      return;
    }
    if (p->kind == ParamSpec::Kind::kPositionalOnly) {
      given_.insert(a.name);  // reported here; not "missing" as well
      sink_.report(Diagnostic::make(Code::SPEC_BAD_ARGUMENTS, a.name_span,
                                    "'" + a.name + "' of " + fn_ + " is positional-only")
                       .suggest("pass it without '" + a.name + "='"));
      return;
    }
    if (given_.count(a.name)) {
      sink_.report(Diagnostic::make(Code::SPEC_BAD_ARGUMENTS, a.name_span,
                                    fn_ + " got '" + a.name + "' both by position and by keyword"));
      return;
    }
    given_.insert(a.name);
  }

  void check_required() {
    for (const ParamSpec& p : sig_.params) {
      if (!p.required || given_.count(p.name)) continue;
      std::string how = p.kind == ParamSpec::Kind::kKeywordOnly
                            ? "keyword argument '" + p.name + "='"
                            : "argument '" + p.name + "'";
      auto d = Diagnostic::make(Code::SPEC_MISSING_ARGUMENT, call_.span,
                                fn_ + " is missing required " + how);
      // A keyword swallowed by **kwargs that looks like the missing one is likely a typo.
      for (const ast::Argument* extra : extra_keywords_) {
        if (grammar::closest_match(extra->name, {p.name})) {
          d.span = extra->name_span;
          d.suggest("did you mean '" + p.name + "=' instead of '" + extra->name + "='?");
          break;
        }
      }
      d.note("signature: " + sig_.render());
      sink_.report(std::move(d));
    }
  }

  const ast::Call& call_;
  const Signature& sig_;
  grammar::DiagnosticSink& sink_;
  std::string fn_;
  std::set<std::string> given_;
  std::set<std::string> seen_keywords_;
  std::vector<const ast::Argument*> extra_keywords_;
  bool unpacks_args_ = false;
  bool unpacks_kwargs_ = false;
};

}  // namespace

void check_call(const ast::Call& call, const Signature& sig, grammar::DiagnosticSink& sink) {
  if (!sig.removed_replacement.empty()) {
    sink.report(Diagnostic::make(Code::SPEC_REMOVED_BUILTIN, call.callee->span,
                                 sig.name + "() was removed from faultbox")
                    .suggest("use " + sig.removed_replacement));
    return;
  }
  CallChecker(call, sig, sink).run();
}

}  // namespace fb::compiler
