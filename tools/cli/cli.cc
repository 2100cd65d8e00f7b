#include "tools/cli/cli.h"

#include <exception>
#include <ostream>
#include <sstream>

#include "grammar/suggest.h"
#include "tools/cli/command.h"

#ifndef FB_VERSION
#error "FB_VERSION must be defined by the build"
#endif

namespace fb::cli {

const std::vector<const Command*>& all_commands() {
  static const std::vector<const Command*> commands = {
#define FB_COMMAND(name) &command_##name(),
#include "tools/cli/commands.def"
#undef FB_COMMAND
  };
  return commands;
}

const Command* find_command(std::string_view name) {
  for (const Command* command : all_commands()) {
    if (command->name == name) return command;
  }
  return nullptr;
}

std::string version_line() { return std::string("faultbox ") + FB_VERSION; }

std::string main_help() {
  std::ostringstream out;
  out << "faultbox: fault-injection tests for distributed systems, written as Starlark specs.\n\n"
      << "Usage: faultbox COMMAND [ARGS...]\n\nCommands:\n";
  for (const Command* command : all_commands()) {
    std::string name(command->name);
    name.resize(std::max<std::size_t>(name.size() + 2, 12), ' ');
    out << "  " << name << command->summary << '\n';
  }
  out << "\nGlobal flags:\n  -h, --help    show this help\n  --version     print the version\n"
      << "\nRun 'faultbox help COMMAND' for the flags of one command.\n";
  return out.str();
}

std::string command_help(const Command& command) {
  std::ostringstream out;
  out << "Usage: " << command.usage << "\n\n" << command.summary << '\n';
  if (!command.details.empty()) out << '\n' << command.details << '\n';
  if (!command.flags.empty()) {
    out << "\nFlags:\n";
    for (const FlagSpec& flag : command.flags) {
      std::string left = "--" + std::string(flag.name);
      if (flag.kind != FlagKind::kSwitch) left += " " + std::string(flag.value_name);
      left.resize(std::max<std::size_t>(left.size() + 2, 24), ' ');
      out << "  " << left << flag.help << '\n';
    }
  }
  return out.str();
}

int usage_error(const Context& context, std::string_view command, std::string_view message) {
  context.err << "faultbox " << command << ": " << message << "\n"
              << "Run 'faultbox help " << command << "' for usage.\n";
  return kExitUsage;
}

namespace {

int unknown_command(const Context& context, const std::string& name) {
  std::vector<std::string> names;
  for (const Command* command : all_commands()) names.emplace_back(command->name);
  context.err << "faultbox: unknown command '" << name << "'";
  if (auto near = grammar::closest_match(name, names))
    context.err << " (did you mean '" << *near << "'?)";
  context.err << ". Run 'faultbox --help' for the list.\n";
  return kExitUsage;
}

int dispatch(const Context& context, const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    context.out << main_help();
    return kExitOk;
  }
  if (args[0] == "--version") {
    context.out << version_line() << '\n';
    return kExitOk;
  }
  if (args[0].starts_with("-")) {
    context.err << "faultbox: unknown flag '" << args[0]
                << "'. Run 'faultbox --help' for the list of commands and flags.\n";
    return kExitUsage;
  }
  const Command* command = find_command(args[0]);
  if (!command) return unknown_command(context, args[0]);
  std::vector<std::string> rest(args.begin() + 1, args.end());
  // Every command answers -h/--help the same way, before its own flag checks.
  for (const std::string& arg : rest) {
    if (arg == "--" || (command->stop_at_positional && !arg.starts_with("-"))) break;
    if (arg == "-h" || arg == "--help") {
      context.out << command_help(*command);
      return kExitOk;
    }
  }
  std::string error;
  auto parsed = parse_args(rest, command->flags, error, command->stop_at_positional);
  if (!parsed) return usage_error(context, command->name, error);
  return command->run(context, *parsed);
}

}  // namespace

int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, bool color) {
  Context context{out, err, color};
  try {
    return dispatch(context, args);
  } catch (const std::exception& e) {
    err << "faultbox: internal error: " << e.what() << "\n";
    return 70;
  }
}

}  // namespace fb::cli
