#include <ostream>

#include "tools/cli/cli.h"
#include "tools/cli/command.h"

namespace fb::cli {
namespace {

int run_help(const Context& context, const ParsedArgs& args) {
  if (args.positionals.empty()) {
    context.out << main_help();
    return kExitOk;
  }
  if (args.positionals.size() > 1) return usage_error(context, "help", "takes at most one COMMAND");
  const Command* command = find_command(args.positionals[0]);
  if (!command) {
    return usage_error(context, "help", "unknown command '" + args.positionals[0] + "'");
  }
  context.out << command_help(*command);
  return kExitOk;
}

}  // namespace

const Command& command_help() {
  static const Command command{
      .name = "help",
      .summary = "Show the commands, or the usage and flags of one command",
      .usage = "faultbox help [COMMAND]",
      .details = "",
      .flags = {},
      .run = run_help,
  };
  return command;
}

}  // namespace fb::cli
