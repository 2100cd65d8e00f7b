// What faultbox test makes of outcomes: diagnostics, the JSON report, the normalized
// trace and the diff of two traces; and `faultbox diff` itself.
#include "tools/cli/report.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tools/cli/cli.h"

namespace fb::cli {
namespace {

runtime::Event event(std::string type, std::string service, runtime::EventLog::Fields fields) {
  runtime::Event e;
  e.type = std::move(type);
  e.service = std::move(service);
  e.fields = std::move(fields);
  return e;
}

FaultHits deny_hits(std::uint64_t matches, std::uint64_t hits) {
  FaultHits f;
  f.service = "db";
  f.syscall = "fsync";
  f.action = "deny";
  f.error = "EIO";
  f.rule = "fsync=deny(\"EIO\")";
  f.matches = matches;
  f.hits = hits;
  return f;
}

std::set<std::string> codes(const TestOutcome& o) {
  std::set<std::string> out;
  for (const auto& d : o.diagnostics) out.insert(d.code);
  return out;
}

TEST(Report, DiagnosticsSayHowMuchAPassingTestChecked) {
  TestOutcome quiet;
  quiet.name = "test_a";
  quiet.faults = {deny_hits(2, 2)};
  diagnose(quiet);
  EXPECT_EQ(codes(quiet), (std::set<std::string>{"TEST_NO_ASSERTIONS", "FAULT_FIRED_BUT_SUCCESS"}));

  TestOutcome checked = quiet;
  checked.diagnostics.clear();
  checked.assertions = 1;
  diagnose(checked);
  EXPECT_TRUE(codes(checked).empty()) << "a fault that fired, in a test that asserted";

  TestOutcome idle;
  idle.assertions = 1;
  idle.faults = {deny_hits(0, 0)};
  diagnose(idle);
  ASSERT_EQ(codes(idle), std::set<std::string>{"FAULT_NOT_FIRED"});
  EXPECT_NE(idle.diagnostics[0].message.find("no matching call"), std::string::npos);

  TestOutcome unlucky;
  unlucky.assertions = 1;
  unlucky.faults = {deny_hits(5, 0)};
  diagnose(unlucky);
  ASSERT_EQ(codes(unlucky), std::set<std::string>{"FAULT_NOT_FIRED"});
  EXPECT_NE(unlucky.diagnostics[0].message.find("matched 5 call(s)"), std::string::npos);

  TestOutcome traced;
  traced.assertions = 1;
  traced.faults = {deny_hits(0, 0)};
  traced.faults[0].action = "trace";
  diagnose(traced);
  EXPECT_TRUE(codes(traced).empty()) << "a trace that saw nothing is not a fault that missed";

  TestOutcome two;
  two.verdict = TestOutcome::Verdict::kFail;
  two.assertions = 1;
  two.faults = {deny_hits(1, 1), deny_hits(3, 3)};
  diagnose(two);
  EXPECT_EQ(codes(two), std::set<std::string>{"MULTIPLE_FAULTS_INTERACTION"});
}

TEST(Report, NoPositiveControlNamesInterfacesNoCheckedPassSawWork) {
  auto recv = [](std::string target, bool ok) {
    return event("step_recv", "test",
                 {{"target", target}, {"interface", "main"}, {"success", ok ? "true" : "false"}});
  };
  TestOutcome good;
  good.assertions = 1;
  good.events = {recv("api", true), recv("db", false)};
  TestOutcome unchecked;  // passes, asserts nothing: its success does not count
  unchecked.events = {recv("db", true)};
  auto found = diagnose_run({good, unchecked}, false);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].code, "NO_POSITIVE_CONTROL");
  EXPECT_NE(found[0].message.find("db.main"), std::string::npos);
  // Interrupted, the run never reached the tests that might have been its controls.
  EXPECT_TRUE(diagnose_run({good, unchecked}, true).empty());
}

TEST(Report, JsonHasTheVersion2ShapeWithHitsAndLeafIds) {
  TestOutcome failed;
  failed.name = "test_db_down";
  failed.verdict = TestOutcome::Verdict::kFail;
  failed.reason = "assert_eq failed: 200 != 503";
  failed.failed_assertion = "assert_eq";
  failed.seed = 42;
  failed.assertions = 1;
  failed.faults = {deny_hits(3, 3)};
  failed.events = {event("syscall", "db", {{"syscall", "fsync"}, {"pid", std::int64_t{7}}})};
  TestOutcome errored;
  errored.name = "test_x";
  errored.verdict = TestOutcome::Verdict::kError;
  errored.code = "HEALTHCHECK_TIMEOUT";
  TestOutcome passed;
  passed.name = "test_ok";
  passed.assertions = 1;
  RunSummary run;
  run.spec = "faultbox.star";
  run.seed = 42;
  auto j = report_json(run, {failed, errored, passed}, {});
  EXPECT_EQ(j["version"], 2);
  EXPECT_EQ(j["pass"], 1);
  EXPECT_EQ(j["fail"], 2) << "failures and errors, as the reference counts";
  EXPECT_EQ(j["errored"], 1);
  ASSERT_EQ(j["tests"].size(), 3u);
  const auto& t = j["tests"][0];
  EXPECT_EQ(t["result"], "fail");
  EXPECT_EQ(t["failure_type"], "assertion");
  EXPECT_EQ(t["leaf_id"], "0");
  EXPECT_EQ(t["replay_command"], "faultbox test faultbox.star --test db_down --seed 42");
  EXPECT_EQ(t["faults"][0]["hits"], 3);
  EXPECT_EQ(t["faults"][0]["errno"], "EIO");
  EXPECT_EQ(t["events"][0]["event_type"], "syscall.fsync");
  EXPECT_EQ(t["events"][0]["fields"]["pid"], "7")
      << "fields are strings, as the reference has them";
  EXPECT_EQ(j["tests"][1]["failure_type"], "service_start");

  run.show_failures_only = true;
  auto only = report_json(run, {failed, errored, passed}, {});
  EXPECT_EQ(only["tests"].size(), 2u);
  EXPECT_EQ(only["pass"], 1) << "--show fail still counts what it hides";
}

TEST(Report, NormalizedTraceKeepsDecisionsAndDropsWhatVaries) {
  TestOutcome o;
  o.name = "test_a";
  o.events = {
      event("service_started", "db", {{"pid", std::int64_t{1234}}}),
      event("syscall", "db", {{"syscall", "write"}, {"decision", "allow"}, {"path", "/x"}}),
      event("syscall", "db",
            {{"syscall", "openat"}, {"decision", "allow (system path)"}, {"path", "/lib/x.so"}}),
      event("syscall", "db",
            {{"syscall", "write"},
             {"decision", "deny(input/output error)"},
             {"path", "socket:tcp:127.0.0.1:7001->127.0.0.1:45678"},
             {"latency_us", std::int64_t{12}}}),
      event("step_send", "test",
            {{"target", "db"}, {"interface", "main"}, {"method", "get"}, {"path", "/k"}}),
      event("step_recv", "test",
            {{"target", "db"},
             {"interface", "main"},
             {"status_code", std::int64_t{500}},
             {"success", "false"},
             {"duration_ms", std::int64_t{3}}}),
      event("service_exited", "db", {{"signal", "SIGTERM"}}),
  };
  EXPECT_EQ(normalize({o}, "/nonexistent/faultbox.star"),
            "=== test_a ===\n"
            "--- db ---\n"
            "service_started\n"
            "write deny(input/output error) socket:tcp:127.0.0.1:7001->127.0.0.1:*\n"
            "service_exited signal=SIGTERM\n"
            "--- test ---\n"
            "step_send db.main get /k\n"
            "step_recv db.main 500 failed\n");
}

TEST(Report, LineDiffAlignsByTheLongestCommonSubsequence) {
  EXPECT_EQ(line_diff("a\nb\n", "a\nb\n"), "");
  std::string d = line_diff("=== t ===\n--- db ---\nx\ny\nz\n", "=== t ===\n--- db ---\nx\nq\nz\n");
  EXPECT_EQ(d,
            "@@ === t === @@\n"
            "  === t ===\n"
            "  --- db ---\n"
            "  x\n"
            "- y\n"
            "+ q\n"
            "  z\n");
  // An insertion in the middle of a long run keeps the rest aligned, and distant
  // common lines are elided.
  std::string a, b;
  for (int i = 0; i < 20; ++i) a += "l" + std::to_string(i) + "\n";
  b = a;
  b.insert(b.find("l10\n"), "new\n");
  std::string inserted = line_diff(a, b);
  EXPECT_EQ(inserted, "@@ (start) @@\n  l7\n  l8\n  l9\n+ new\n  l10\n  l11\n  l12\n");
}

TEST(Report, DiffCommandExitsZeroWhenSameAndTwoWhenDifferent) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("fb-diff-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "a") << "=== t ===\nx\n";
  std::ofstream(dir / "b") << "=== t ===\nx\n";
  std::ofstream(dir / "c") << "=== t ===\ny\n";
  auto cli = [](std::vector<std::string> args, std::string& out) {
    std::ostringstream o, e;
    int code = run(args, o, e, false);
    out = o.str() + e.str();
    return code;
  };
  std::string out;
  EXPECT_EQ(cli({"diff", (dir / "a").string(), (dir / "b").string()}, out), 0) << out;
  EXPECT_EQ(cli({"diff", (dir / "a").string(), (dir / "c").string()}, out), 2) << out;
  EXPECT_NE(out.find("- x\n+ y\n"), std::string::npos) << out;
  EXPECT_EQ(cli({"diff", (dir / "a").string(), (dir / "missing").string()}, out), 1);
  EXPECT_NE(out.find("cannot read"), std::string::npos) << out;
  EXPECT_EQ(cli({"diff", (dir / "a").string()}, out), 1);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace fb::cli
