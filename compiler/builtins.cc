#include "compiler/builtins.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace fb::compiler {
namespace {

struct RawEntry {
  Signature::Origin origin;
  const char* name;
  const char* signature;  // nullptr for constants and namespaces
  const char* doc;
  const char* replacement;
};

constexpr RawEntry kRaw[] = {
#define FB_CONSTANT(name, doc) {Signature::Origin::kUniverse, name, nullptr, doc, ""},
#define FB_BUILTIN(name, sig, doc) {Signature::Origin::kUniverse, name, sig, doc, ""},
#include "vm/universe.def"
#undef FB_CONSTANT
#undef FB_BUILTIN
#define FB_BUILTIN(name, sig, doc) {Signature::Origin::kFaultbox, name, sig, doc, ""},
#define FB_NAMESPACE(name, doc) {Signature::Origin::kFaultbox, name, nullptr, doc, ""},
#define FB_REMOVED(name, replacement) \
  {Signature::Origin::kFaultbox, name, "*args, **kwargs", "", replacement},
#include "stdlib/builtins.def"
#undef FB_BUILTIN
#undef FB_NAMESPACE
#undef FB_REMOVED
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

/// Splits at top-level commas (defaults may hold quoted strings with commas).
std::vector<std::string_view> split_params(std::string_view text) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  char quote = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i < text.size() && quote) {
      if (text[i] == '\\')
        ++i;
      else if (text[i] == quote)
        quote = 0;
      continue;
    }
    if (i < text.size() && (text[i] == '"' || text[i] == '\'')) {
      quote = text[i];
      continue;
    }
    if (i == text.size() || text[i] == ',') {
      std::string_view part = trim(text.substr(start, i - start));
      if (!part.empty()) parts.push_back(part);
      start = i + 1;
    }
  }
  return parts;
}

bool valid_name(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

}  // namespace

std::size_t Signature::max_positional() const {
  if (varargs) return SIZE_MAX;
  return static_cast<std::size_t>(
      std::count_if(params.begin(), params.end(),
                    [](const ParamSpec& p) { return p.kind != ParamSpec::Kind::kKeywordOnly; }));
}

const ParamSpec* Signature::param(std::string_view param_name) const {
  for (const ParamSpec& p : params) {
    if (p.name == param_name) return &p;
  }
  return nullptr;
}

std::string Signature::render() const {
  std::string out = name + "(";
  bool first = true;
  auto sep = [&] {
    if (!first) out += ", ";
    first = false;
  };
  bool slash_done = false, star_done = false;
  for (const ParamSpec& p : params) {
    if (p.kind != ParamSpec::Kind::kPositionalOnly && !slash_done && !first &&
        params.front().kind == ParamSpec::Kind::kPositionalOnly) {
      sep();
      out += "/";
      slash_done = true;
    }
    if (p.kind == ParamSpec::Kind::kKeywordOnly && !star_done) {
      sep();
      out += varargs ? "*" + varargs_name : "*";
      star_done = true;
    }
    sep();
    out += p.name + (p.required ? "" : "=");
  }
  if (varargs && !star_done) {
    sep();
    out += "*" + varargs_name;
  }
  if (kwargs) {
    sep();
    out += "**" + kwargs_name;
  }
  return out + ")";
}

std::optional<std::string> BuiltinTable::parse_signature(std::string_view text, Signature& out) {
  bool keyword_only = false;
  for (std::string_view part : split_params(text)) {
    if (part == "/") {
      for (ParamSpec& p : out.params) p.kind = ParamSpec::Kind::kPositionalOnly;
      continue;
    }
    if (part == "*") {
      keyword_only = true;
      continue;
    }
    if (part.starts_with("**")) {
      if (!valid_name(part.substr(2))) return "bad **kwargs entry '" + std::string(part) + "'";
      out.kwargs = true;
      out.kwargs_name = std::string(part.substr(2));
      continue;
    }
    if (part.starts_with("*")) {
      if (!valid_name(part.substr(1))) return "bad *args entry '" + std::string(part) + "'";
      out.varargs = true;
      out.varargs_name = std::string(part.substr(1));
      keyword_only = true;
      continue;
    }
    ParamSpec p;
    auto eq = part.find('=');
    p.name = std::string(trim(part.substr(0, eq)));
    p.required = eq == std::string_view::npos;
    if (!valid_name(p.name)) return "bad parameter '" + std::string(part) + "'";
    p.kind = keyword_only ? ParamSpec::Kind::kKeywordOnly : ParamSpec::Kind::kPositionalOrKeyword;
    if (out.param(p.name)) return "duplicate parameter '" + p.name + "'";
    out.params.push_back(std::move(p));
  }
  return std::nullopt;
}

BuiltinTable::BuiltinTable() {
  for (const RawEntry& raw : kRaw) {
    Signature sig;
    sig.origin = raw.origin;
    sig.name = raw.name;
    sig.doc = raw.doc;
    sig.removed_replacement = raw.replacement;
    sig.callable = raw.signature != nullptr;
    if (raw.signature) {
      if (auto problem = parse_signature(raw.signature, sig)) {
        std::fprintf(stderr, "faultbox: bug: builtin table entry %s: %s\n", raw.name,
                     problem->c_str());
        std::abort();
      }
    }
    add(std::move(sig));
  }
}

void BuiltinTable::add(Signature sig) {
  if (sig.name.find('.') == std::string::npos) global_names_.push_back(sig.name);
  signatures_.push_back(std::move(sig));
}

const BuiltinTable& BuiltinTable::get() {
  static const BuiltinTable table;
  return table;
}

const Signature* BuiltinTable::find(std::string_view name) const {
  // Faultbox entries come after the universe, so a faultbox name shadows a universe one.
  for (auto it = signatures_.rbegin(); it != signatures_.rend(); ++it) {
    if (it->name == name) return &*it;
  }
  return nullptr;
}

std::vector<std::string> BuiltinTable::members(std::string_view ns) const {
  std::vector<std::string> names;
  std::string prefix = std::string(ns) + ".";
  for (const Signature& s : signatures_) {
    if (s.name.starts_with(prefix)) names.push_back(s.name.substr(prefix.size()));
  }
  return names;
}

}  // namespace fb::compiler
