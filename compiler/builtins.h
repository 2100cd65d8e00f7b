#pragma once
/// The signatures of every predeclared name, parsed from stdlib/builtins.def (faultbox
/// builtins) and vm/universe.def (the Starlark universe). The frontend checks calls
/// against them; the table is data only, so compiler/ does not link stdlib/ or vm/.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fb::compiler {

struct ParamSpec {
  enum class Kind { kPositionalOnly, kPositionalOrKeyword, kKeywordOnly } kind;
  std::string name;
  bool required = false;
};

struct Signature {
  enum class Origin { kUniverse, kFaultbox } origin;
  std::string name;  // "service", "match.event"
  std::vector<ParamSpec> params;
  bool varargs = false;  // *args: extra positionals accepted
  bool kwargs = false;   // **kwargs: any keyword accepted
  std::string varargs_name = "args";
  std::string kwargs_name = "kwargs";
  bool callable = true;  // false for constants (None) and namespaces (match)
  std::string doc;
  std::string removed_replacement;  // non-empty: the builtin was removed; use this

  /// How many positional arguments the call may pass (unbounded with varargs).
  std::size_t max_positional() const;
  /// "service(name, /, *interfaces, binary=, ...)": for messages and docs.
  std::string render() const;
  const ParamSpec* param(std::string_view param_name) const;
};

class BuiltinTable {
 public:
  /// The table, parsed once on first use. Aborts with a message if a .def line is
  /// malformed: that is a bug in faultbox, caught by the unit tests.
  static const BuiltinTable& get();

  const Signature* find(std::string_view name) const;
  /// Global names: universe first, then faultbox's (namespaces included, members not).
  const std::vector<std::string>& global_names() const { return global_names_; }
  /// Member names of a namespace ("event", "any" for "match").
  std::vector<std::string> members(std::string_view ns) const;
  const std::vector<Signature>& all() const { return signatures_; }

  /// Parses one signature string; returns an error message on malformed input.
  static std::optional<std::string> parse_signature(std::string_view text, Signature& out);

 private:
  BuiltinTable();
  void add(Signature sig);

  std::vector<Signature> signatures_;
  std::vector<std::string> global_names_;
};

}  // namespace fb::compiler
