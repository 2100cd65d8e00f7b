// `faultbox diff A B`: compares two normalized traces (`faultbox test --normalize`).
#include <fstream>
#include <ostream>
#include <sstream>

#include "tools/cli/command.h"
#include "tools/cli/report.h"

namespace fb::cli {
namespace {

bool read_whole(const Context& context, const std::string& path, std::string& text) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    context.err << "faultbox diff: cannot read '" << path << "'\n";
    return false;
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  text = buffer.str();
  return true;
}

int run_diff(const Context& context, const ParsedArgs& args) {
  if (args.positionals.size() != 2)
    return usage_error(
        context, "diff",
        "wants two normalized traces, got " + std::to_string(args.positionals.size()));
  std::string a, b;
  if (!read_whole(context, args.positionals[0], a) || !read_whole(context, args.positionals[1], b))
    return kExitUsage;
  std::string diff = line_diff(a, b);
  if (diff.empty()) {
    context.out << "same: " << args.positionals[0] << " and " << args.positionals[1] << "\n";
    return kExitOk;
  }
  context.out << "--- " << args.positionals[0] << "\n+++ " << args.positionals[1] << "\n" << diff;
  return kExitFindings;
}

}  // namespace

const Command& command_diff() {
  static const Command command{
      .name = "diff",
      .summary = "Compare two normalized traces",
      .usage = "faultbox diff A B",
      .details =
          "Compares two traces written by `faultbox test --normalize FILE`, aligning them by\n"
          "their longest common subsequence of lines. Lines only in A start with '-', only\n"
          "in B with '+'; each change is shown with three lines of context under a header\n"
          "naming its test and lane.\n"
          "\n"
          "Exit status: 0 when the traces are the same, 2 when they differ, 1 when a file\n"
          "cannot be read.",
      .flags = {},
      .run = run_diff,
  };
  return command;
}

}  // namespace fb::cli
