#include <ostream>

#include "tools/cli/cli.h"
#include "tools/cli/command.h"

namespace fb::cli {
namespace {

int run_version(const Context& context, const ParsedArgs& args) {
  if (!args.positionals.empty()) return usage_error(context, "version", "takes no arguments");
  context.out << version_line() << '\n';
  return kExitOk;
}

}  // namespace

const Command& command_version() {
  static const Command command{
      .name = "version",
      .summary = "Print the version of faultbox",
      .usage = "faultbox version",
      .details = "",
      .flags = {},
      .run = run_version,
  };
  return command;
}

}  // namespace fb::cli
