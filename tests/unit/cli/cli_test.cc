#include "tools/cli/cli.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
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

TEST(Cli, RecipesAreListedShownAndLoadable) {
  Outcome list = run_cli({"recipes", "list"});
  EXPECT_EQ(list.code, 0);
  EXPECT_NE(list.out.find("http  load(\"@faultbox/recipes/http.star\", \"http\")"),
            std::string::npos)
      << list.out;
  EXPECT_NE(list.out.find("    http.flaky(path = \"/*\", probability = \"20%\")"),
            std::string::npos);
  Outcome show = run_cli({"recipes", "show", "http"});
  EXPECT_EQ(show.code, 0);
  EXPECT_NE(show.out.find("http = struct("), std::string::npos);
  Outcome missing = run_cli({"recipes", "show", "kafka"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find("no recipe \"kafka\" (embedded: http, postgres, redis)"),
            std::string::npos);

  // Loaded by a spec: each recipe is a rule with the reference's status and message.
  std::string path = ::testing::TempDir() + "/recipes.star";
  std::ofstream(path) << R"(load("@faultbox/recipes/http.star", "http")
print(http.service_unavailable(path = "/orders/*"))
print(http.rate_limited())
)";
  Outcome eval = run_cli({"eval", path});
  EXPECT_EQ(eval.code, 0) << eval.err;
  EXPECT_EQ(eval.out,
            "error(path=\"/orders/*\", status=503, message=\"service unavailable\")\n"
            "response(path=\"/*\", status=429, body=\"{\\\"error\\\":\\\"rate limited\\\","
            "\\\"retry_after\\\":\\\"1s\\\"}\")\n");
  std::ofstream(path) << "load(\"@faultbox/recipes/nope.star\", \"x\")\n";
  Outcome bad = run_cli({"eval", path});
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find("[SPEC_RECIPE_NOT_FOUND] no embedded module @faultbox/recipes/nope.star"),
            std::string::npos)
      << bad.err;
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

namespace fb::cli {
namespace {

std::string write_temp(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  std::fputs(text.c_str(), f);
  std::fclose(f);
  return path;
}

TEST(CheckCommand, CleanSpecExitsZero) {
  std::string path =
      write_temp("clean.star", "db = service(\"db\", \"/bin/db\")\ndef test_x():\n    pass\n");
  Outcome r = run_cli({"check", path});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.err, "0 errors, 0 warnings\n");
}

TEST(CheckCommand, ErrorsExitTwoWithRenderedDiagnostics) {
  std::string path = write_temp("bad.star", "x = servce(\"db\")\n");
  Outcome r = run_cli({"check", path});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find(path + ":1:5: error[SPEC_UNDEFINED_NAME]: undefined name 'servce'"),
            std::string::npos);
  EXPECT_NE(r.err.find("1 error, 0 warnings"), std::string::npos);
}

TEST(CheckCommand, WarningsAloneExitZero) {
  std::string path = write_temp(
      "warn.star", "load(\"@faultbox/recipes/redis.star\", \"redis\")\ndef test_x():\n    pass\n");
  Outcome r = run_cli({"check", path});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.err.find("0 errors, 1 warning"), std::string::npos);
}

TEST(CheckCommand, PlanFindingsNoTestsAndCost) {
  Outcome none = run_cli({"check", write_temp("none.star", "x = 1\n")});
  EXPECT_EQ(none.code, 0) << "a warning";
  EXPECT_NE(none.err.find("warning[NO_TESTS_DISCOVERED]"), std::string::npos) << none.err;
  for (std::string registered : {"test('x', body = lambda: None)\n", "scenario(len)\n"}) {
    Outcome r = run_cli({"check", write_temp("reg.star", registered)});
    EXPECT_EQ(r.err.find("NO_TESTS_DISCOVERED"), std::string::npos) << registered << r.err;
  }
  std::string grid = write_temp(
      "grid.star", "def test_grid():\n    choose('a', [1, 2, 3])\n    choose('b', [1, 2])\n");
  Outcome within = run_cli({"check", grid, "--max-instances", "6"});
  EXPECT_EQ(within.code, 0);
  EXPECT_NE(within.out.find(" - 1 test, 6 plan instances (--max-instances 6)"), std::string::npos)
      << within.out;
  Outcome over = run_cli({"check", grid, "--max-instances", "5"});
  EXPECT_EQ(over.code, 2);
  EXPECT_NE(over.err.find("error[PLAN_COST_EXCEEDED]: the plan has 6 leaves; --max-instances "
                          "allows 5"),
            std::string::npos)
      << over.err;
  EXPECT_NE(over.err.find("test_grid: 6 leaves"), std::string::npos) << over.err;
  std::string loops = write_temp("loops.star",
                                 "def f():\n    while True:\n        pass\nf()\n"
                                 "def test_x():\n    pass\n");
  Outcome hang = run_cli({"check", loops, "--max-instances", "5"});
  EXPECT_EQ(hang.code, 2) << "a top level that never ends is bounded, not hung";
  EXPECT_NE(hang.err.find("SPEC_LOAD_FAILED"), std::string::npos) << hang.err;
}

TEST(CheckCommand, PredicatesMayNotChangeWhatRuns) {
  std::string path = write_temp("pred.star", R"(
db = service("db", "/bin/db")
def body():
    pass
test("x", body = body, assume = [lambda c: fault(db, write = deny("EIO"), run = len)])
def test_y():
    assume(lambda c: assert_true(c))
    assume(lambda c: len(c) > 0)
)");
  Outcome r = run_cli({"check", path});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find(":5:44: error[SPEC_FORBIDDEN_LAMBDA]: 'fault' cannot be used in a "
                       "test(assume=) predicate"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(":7:22: error[SPEC_FORBIDDEN_LAMBDA]: 'assert_true' cannot be used in an "
                       "assume() predicate"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("2 errors"), std::string::npos) << "len() is fine\n" << r.err;
}

TEST(CheckCommand, MonitorsAndTemporalPredicatesMayNotChangeOrWait) {
  std::string path = write_temp("checks.star", R"(
db = service("db", "/bin/db")
monitor("m", on = match.event(type = "stdout"), check = lambda e, s: fault(db, run = len))
def judge(e, s):
    sleep("1s")
    return True
monitor("n", on = match.event(type = "stdout"), update = judge)
p = eventually(lambda t: assert_true(t))
def fine(e, s):
    return e.stock != ""
monitor("ok", on = lambda e: e.type == "stdout", check = fine)
q = always(lambda t: t.count(type = "stdout") >= 0)
)");
  Outcome r = run_cli({"check", path});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find(":3:70: error[SPEC_FORBIDDEN_LAMBDA]: 'fault' cannot be used in a "
                       "monitor's function"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(":5:5: error[SPEC_FORBIDDEN_LAMBDA]: 'sleep' cannot be used in judge(), a "
                       "monitor's function: a check must not wait"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(":8:26: error[SPEC_FORBIDDEN_LAMBDA]: 'assert_true' cannot be used in a "
                       "temporal predicate"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("3 errors"), std::string::npos) << "fine() and the always are fine\n"
                                                       << r.err;
}

TEST(CheckCommand, JsonReportOnStdout) {
  std::string path = write_temp("json.star", "x = servce(\"db\")\n");
  Outcome r = run_cli({"check", path, "--format", "json"});
  EXPECT_EQ(r.code, 2);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["schema_version"], 1);
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["spec"], path);
  ASSERT_EQ(j["findings"].size(), 1u);
  EXPECT_EQ(j["findings"][0]["code"], "SPEC_UNDEFINED_NAME");
  EXPECT_EQ(j["findings"][0]["line"], 1);
  EXPECT_EQ(j["findings"][0]["col"], 5);
  EXPECT_EQ(j["findings"][0]["end_col"], 11);
  EXPECT_EQ(j["findings"][0]["suggestion"], "did you mean 'service'?");
}

TEST(CheckCommand, UsageErrorsExitOne) {
  Outcome missing = run_cli({"check", "/nonexistent/spec.star"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_EQ(missing.err,
            "faultbox check: cannot read '/nonexistent/spec.star': No such file or directory\n");
  EXPECT_EQ(run_cli({"check"}).code, 1);
  EXPECT_EQ(run_cli({"check", "a.star", "b.star"}).code, 1);
  EXPECT_EQ(run_cli({"check", "x.star", "--format", "yaml"}).code, 1);
  EXPECT_EQ(run_cli({"check", "x.star", "--fromat", "json"}).err,
            "faultbox check: unknown flag '--fromat' (did you mean '--format'?)\n"
            "Run 'faultbox help check' for usage.\n");
}

TEST(CheckCommand, InvalidUtf8InSpecStillGivesValidJson) {
  std::string path = write_temp("utf8.star", "x = \"\xff\xfe\" + nope\n");
  Outcome r = run_cli({"check", path, "--format=json"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(nlohmann::json::accept(r.out));
  EXPECT_NE(r.out.find("undefined name 'nope'"), std::string::npos);
}

}  // namespace
}  // namespace fb::cli
