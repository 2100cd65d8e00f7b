// `faultbox recipes list|show NAME`: the recipe modules compiled into the binary.
#include <ostream>
#include <regex>
#include <sstream>

#include "recipes/recipes.h"
#include "tools/cli/command.h"

namespace fb::cli {
namespace {

/// "recipes/http.star" -> "http".
std::string short_name(const std::string& path) {
  std::string name = path.substr(path.find('/') + 1);
  return name.substr(0, name.rfind(".star"));
}

/// The recipes a file offers: the fields of its struct, as `name(params)`.
std::vector<std::string> functions(const std::string& text) {
  std::vector<std::string> out;
  static const std::regex field(R"(^    ([a-z_][a-z0-9_]*) = lambda ?([^:]*):)");
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_search(line, m, field)) out.push_back(m[1].str() + "(" + m[2].str() + ")");
  }
  return out;
}

int run_recipes(const Context& context, const ParsedArgs& args) {
  const auto& files = recipes::embedded();
  std::string what = args.positionals.empty() ? "list" : args.positionals[0];
  if (what == "list" && args.positionals.size() <= 1) {
    for (const auto& [path, text] : files) {
      context.out << short_name(path) << "  load(\"@faultbox/" << path << "\", \""
                  << short_name(path) << "\")\n";
      for (const auto& f : functions(text))
        context.out << "    " << short_name(path) << "." << f << "\n";
    }
    return kExitOk;
  }
  if (what == "show" && args.positionals.size() == 2) {
    std::string wanted = args.positionals[1];
    for (const auto& [path, text] : files)
      if (short_name(path) == wanted || path == wanted || "@faultbox/" + path == wanted) {
        context.out << text;
        return kExitOk;
      }
    std::string known;
    for (const auto& [path, text] : files) known += (known.empty() ? "" : ", ") + short_name(path);
    context.err << "faultbox recipes: no recipe \"" << wanted << "\" (embedded: " << known << ")\n";
    return kExitUsage;
  }
  return usage_error(context, "recipes",
                     "use `faultbox recipes list` or `faultbox recipes show NAME`");
}

}  // namespace

const Command& command_recipes() {
  static const Command command{
      .name = "recipes",
      .summary = "List the fault recipes built into faultbox, or show one",
      .usage = "faultbox recipes list | faultbox recipes show NAME",
      .details =
          "Recipes are Starlark modules compiled into the binary: each offers ready-made\n"
          "protocol rules as fields of one struct named after its protocol. A spec loads one\n"
          "with load(\"@faultbox/recipes/NAME.star\", \"NAME\") and uses NAME.rule(...) where\n"
          "a rule goes (fault(svc.iface, ...), fault_assumption(rules=[...])).\n"
          "\n"
          "`list` prints each recipe with its rules and their parameters; `show NAME` prints\n"
          "the module's source.",
      .flags = {},
      .run = run_recipes,
  };
  return command;
}

}  // namespace fb::cli
