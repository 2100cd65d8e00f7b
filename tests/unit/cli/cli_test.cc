#include "tools/cli/cli.h"

#include <gtest/gtest.h>

#include <sstream>

namespace fb::cli {
namespace {

struct Outcome {
  int code;
  std::string out;
  std::string err;
};

Outcome run_cli(std::vector<std::string> args) {
  std::ostringstream out, err;
  int code = run(args, out, err, false);
  return {code, out.str(), err.str()};
}

TEST(Cli, HelpListsOnlyRealCommands) {
  for (auto args : {std::vector<std::string>{}, {"--help"}, {"-h"}, {"help"}}) {
    Outcome r = run_cli(args);
    EXPECT_EQ(r.code, 0);
    EXPECT_NE(r.out.find("Commands:"), std::string::npos);
    EXPECT_NE(r.out.find("  version"), std::string::npos);
  }
}

TEST(Cli, VersionFlagAndCommand) {
  EXPECT_EQ(run_cli({"--version"}).out, version_line() + "\n");
  EXPECT_EQ(run_cli({"version"}).out, version_line() + "\n");
  EXPECT_EQ(version_line().rfind("faultbox ", 0), 0u);
}

TEST(Cli, UnknownCommandExitsOneWithHint) {
  Outcome r = run_cli({"verison"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err,
            "faultbox: unknown command 'verison' (did you mean 'version'?). "
            "Run 'faultbox --help' for the list.\n");
}

TEST(Cli, UnknownGlobalFlagExitsOne) {
  Outcome r = run_cli({"--verbose"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("unknown flag '--verbose'"), std::string::npos);
}

TEST(Cli, UnknownCommandFlagExitsOneWithHint) {
  Outcome r = run_cli({"version", "--json"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err,
            "faultbox version: unknown flag '--json'\nRun 'faultbox help version' for usage.\n");
}

TEST(Cli, HelpForOneCommand) {
  Outcome r = run_cli({"help", "version"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("Usage: faultbox version"), std::string::npos);
  EXPECT_EQ(run_cli({"version", "--help"}).out, r.out);
  EXPECT_EQ(run_cli({"help", "nope"}).code, 1);
}

}  // namespace
}  // namespace fb::cli
