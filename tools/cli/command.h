#pragma once
/// The subcommand interface. Each subcommand lives in its own `cmd_<name>.cc` and is
/// listed once in `tools/cli/commands.def`.

#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "tools/cli/args.h"

namespace fb::cli {

/// Exit codes shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 1;     // bad flags, missing files, load errors
inline constexpr int kExitFindings = 2;  // the command ran and found errors
/// `faultbox test`: nothing failed, but some test established neither a pass nor a
/// failure (it timed out, or a temporal property was pending).
inline constexpr int kExitInconclusive = 3;

struct Context {
  std::ostream& out;   // machine-readable output and requested text
  std::ostream& err;   // diagnostics for people
  bool color = false;  // stderr is a terminal and NO_COLOR is unset
};

struct Command {
  std::string_view name;
  std::string_view summary;  // one line for `faultbox --help`
  std::string_view usage;    // "faultbox check SPEC [--format text|json]"
  std::string_view details;  // paragraphs for `faultbox help NAME`
  std::vector<FlagSpec> flags;
  /// The first positional ends faultbox's flags (`faultbox run [flags] BINARY ARGS...`).
  bool stop_at_positional = false;
  int (*run)(const Context& context, const ParsedArgs& args);
};

/// Every subcommand, in the order of commands.def.
const std::vector<const Command*>& all_commands();
const Command* find_command(std::string_view name);

/// Prints "faultbox NAME: MESSAGE" and the help hint to err; returns kExitUsage.
int usage_error(const Context& context, std::string_view command, std::string_view message);

/// The text of `faultbox help NAME`.
std::string command_help(const Command& command);

#define FB_COMMAND(name) const Command& command_##name();
#include "tools/cli/commands.def"
#undef FB_COMMAND

}  // namespace fb::cli
