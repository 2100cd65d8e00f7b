// Real processes under a real seccomp filter (label: syscall).
#include "runtime/supervisor.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <csignal>
#include <filesystem>
#include <map>

#include "tests/unit/test_support.h"

namespace fb::runtime {
namespace {

namespace fs = std::filesystem;

std::vector<int> trap(const std::vector<std::string>& families) {
  std::vector<int> numbers;
  for (const auto& f : families) {
    for (const auto& name : expand(host_arch(), f))
      numbers.push_back(*syscall_number(host_arch(), name));
  }
  return numbers;
}

FaultRule rule(const std::string& spec) {
  std::string error;
  auto r = parse_fault(spec, host_arch(), error);
  EXPECT_TRUE(r) << error;
  return *r;
}

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("fb-process-" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

TEST(Process, DenyHitsOnlyFilesMatchingTheGlob) {
  TempDir dir;
  std::string wal = (dir.path / "orders.wal").string(), log = (dir.path / "app.log").string();
  LaunchSpec spec{FB_SUT_FILE_WRITER, {wal, log}, {}, trap({"write"})};
  std::string error;
  auto result = run_supervised(spec, {rule("write=EIO:" + dir.path.string() + "/*.wal")}, 1, error);
  ASSERT_TRUE(result) << error;
  EXPECT_EQ(result->exit_code, 1);  // one failed write
  bool denied_wal = false, allowed_log = false;
  for (const auto& e : result->events) {
    if (e.path == wal && e.decision == "deny(input/output error)") denied_wal = true;
    if (e.path == log && e.decision == "allow") allowed_log = true;
  }
  EXPECT_TRUE(denied_wal);
  EXPECT_TRUE(allowed_log);
}

TEST(Process, AfterAndNthCountMatches) {
  TempDir dir;
  std::vector<std::string> files;
  for (int i = 0; i < 4; ++i)
    files.push_back((dir.path / ("f" + std::to_string(i) + ".dat")).string());
  std::string error;
  auto after =
      run_supervised({FB_SUT_FILE_WRITER, files, {}, trap({"write"})},
                     {rule("write=ENOSPC:" + dir.path.string() + "/*.dat:after=2")}, 1, error);
  ASSERT_TRUE(after) << error;
  EXPECT_EQ(after->exit_code, 2);  // the 3rd and 4th writes fail
  auto nth = run_supervised({FB_SUT_FILE_WRITER, files, {}, trap({"write"})},
                            {rule("write=ENOSPC:" + dir.path.string() + "/*.dat:nth=2")}, 1, error);
  ASSERT_TRUE(nth) << error;
  EXPECT_EQ(nth->exit_code, 1);
}

std::vector<std::string> data_files(const TempDir& dir, int count) {
  std::vector<std::string> files;
  for (int i = 0; i < count; ++i)
    files.push_back((dir.path / ("f" + std::to_string(i) + ".dat")).string());
  return files;
}

TEST(Process, MaxFiresRetiresARule) {
  TempDir dir;
  FaultRule deny = rule("write=EIO:" + dir.path.string() + "/*.dat");
  deny.max_fires = 2;
  std::string error;
  auto result = run_supervised({FB_SUT_FILE_WRITER, data_files(dir, 4), {}, trap({"write"})},
                               {deny}, 1, error);
  ASSERT_TRUE(result) << error;
  EXPECT_EQ(result->exit_code, 2);
}

TEST(Process, NewerAllowAndTraceRulesShadowOlderDenies) {
  TempDir dir;
  FaultRule deny = rule("write=EIO:" + dir.path.string() + "/*.dat");
  FaultRule allow = deny, trace = deny;
  allow.action = FaultRule::Action::kAllow;
  allow.path_glob = dir.path.string() + "/f0.dat";
  trace.action = FaultRule::Action::kTrace;
  trace.path_glob = dir.path.string() + "/f1.dat";
  trace.label = "watched";
  std::string error;
  auto result = run_supervised({FB_SUT_FILE_WRITER, data_files(dir, 4), {}, trap({"write"})},
                               {deny, allow, trace}, 1, error);
  ASSERT_TRUE(result) << error;
  EXPECT_EQ(result->exit_code, 2);  // f2 and f3
  std::map<std::string, std::string> decisions;
  for (const auto& e : result->events) {
    if (e.path.ends_with(".dat")) decisions[fs::path(e.path).filename()] = e.decision + e.label;
  }
  EXPECT_EQ(decisions["f0.dat"], "allow");
  EXPECT_EQ(decisions["f1.dat"], "tracewatched");
  EXPECT_EQ(decisions["f2.dat"], "deny(input/output error)");
}

TEST(Process, ADelayedCallDoesNotHoldUpOthers) {
  TempDir dir;
  // The slow writer's write is delayed by ten minutes. Once it has created its file (its
  // write comes next) the fast writer runs, and then the slow one is killed. The fast
  // writer only finishes if the supervisor kept answering while the delay ran; a
  // supervisor that blocked would hang here.
  std::string writer = FB_SUT_FILE_WRITER;
  std::string script = writer + " a.slow & while [ ! -e a.slow ]; do sleep 0.01; done; " +
                       "sleep 0.2; " + writer + " b.fast; kill -9 $!";
  LaunchSpec spec{"/bin/sh", {"-c", script}, {}, trap({"write"})};
  spec.cwd = dir.path.string();
  spec.stdout_path = (dir.path / "out.txt").string();
  std::string error;
  auto result =
      run_supervised(spec, {rule("write=delay:10m:" + dir.path.string() + "/*.slow")}, 1, error);
  ASSERT_TRUE(result) << error;
  EXPECT_EQ(result->exit_code, 0);
  EXPECT_EQ(testing::read_file(dir.path / "out.txt"), "b.fast: ok\n");
  bool delayed = false;
  for (const auto& e : result->events)
    delayed |= e.path.ends_with("a.slow") && e.decision == "delay(10m0s)";
  EXPECT_TRUE(delayed);
}

TEST(Process, ADelayedCallGoesThroughAfterItsDelay) {
  TempDir dir;
  std::string error;
  auto result =
      run_supervised({FB_SUT_FILE_WRITER, data_files(dir, 2), {}, trap({"write"})},
                     {rule("write=delay:20ms:" + dir.path.string() + "/*.dat")}, 1, error);
  ASSERT_TRUE(result) << error;
  EXPECT_EQ(result->exit_code, 0);
  EXPECT_EQ(testing::read_file(dir.path / "f1.dat"), "entry\n");
  int delayed = 0;
  for (const auto& e : result->events) delayed += e.decision == "delay(20ms)";
  EXPECT_EQ(delayed, 2);
}

TEST(Process, ProbabilityIsReproducibleBySeed) {
  TempDir dir;
  std::vector<std::string> files;
  for (int i = 0; i < 40; ++i)
    files.push_back((dir.path / ("p" + std::to_string(i) + ".dat")).string());
  auto run = [&](std::uint64_t seed) {
    std::string error;
    auto r = run_supervised({FB_SUT_FILE_WRITER, files, {}, trap({"write"})},
                            {rule("write=EIO:50%:" + dir.path.string() + "/*.dat")}, seed, error);
    EXPECT_TRUE(r) << error;
    std::vector<std::string> decisions;
    for (const auto& e : r->events) decisions.push_back(e.path + " " + e.decision);
    return std::make_pair(r->exit_code, decisions);
  };
  auto a = run(7), b = run(7), c = run(8);
  EXPECT_EQ(a, b);
  EXPECT_GT(a.first, 5);  // about half of 40
  EXPECT_LT(a.first, 35);
  EXPECT_NE(a.second, c.second);
}

TEST(Process, ExecFailureIsAnErrorNotExit127) {
  std::string error;
  auto result = run_supervised({"/nonexistent/binary", {}, {}, trap({"write"})}, {}, 1, error);
  EXPECT_FALSE(result);
  EXPECT_EQ(error, "cannot run /nonexistent/binary: No such file or directory");
  auto untrapped = run_supervised({"/nonexistent/binary", {}, {}, {}}, {}, 1, error);
  EXPECT_FALSE(untrapped);
}

TEST(Process, RunsInItsDirectoryWithOutputInFiles) {
  TempDir dir;
  LaunchSpec spec{FB_SUT_FILE_WRITER, {"a.dat"}, {}, trap({"write"})};
  spec.cwd = dir.path.string();
  spec.stdout_path = (dir.path / "out.txt").string();
  std::string error;
  auto result = run_supervised(spec, {}, 1, error);
  ASSERT_TRUE(result) << error;
  EXPECT_EQ(result->exit_code, 0);
  EXPECT_EQ(testing::read_file(dir.path / "a.dat"), "entry\n");
  EXPECT_EQ(testing::read_file(dir.path / "out.txt"), "a.dat: ok\n");

  LaunchSpec shell{"/bin/sh", {"-c", "echo oops >&2"}, {}, {}};
  shell.stderr_path = (dir.path / "err.txt").string();
  ASSERT_TRUE(run_supervised(shell, {}, 1, error)) << error;
  EXPECT_EQ(testing::read_file(dir.path / "err.txt"), "oops\n");
}

TEST(Process, SetUpFailuresNameWhatFailed) {
  std::string error;
  for (bool trapped : {true, false}) {
    LaunchSpec spec{FB_SUT_FILE_WRITER, {}, {}, trapped ? trap({"write"}) : std::vector<int>{}};
    spec.cwd = "/nonexistent/dir";
    EXPECT_FALSE(run_supervised(spec, {}, 1, error));
    EXPECT_EQ(error, "cannot enter working directory /nonexistent/dir: No such file or directory");
    spec.cwd.clear();
    spec.stdout_path = "/nonexistent/out.txt";
    EXPECT_FALSE(run_supervised(spec, {}, 1, error));
    EXPECT_EQ(error, "cannot open stdout file /nonexistent/out.txt: No such file or directory");
  }
}

TEST(Process, ATimeoutStopsTheGroupWithTermThenKill) {
  std::string error;
  LaunchSpec polite{"/bin/sh", {"-c", "sleep 600"}, {}, trap({"write"})};
  polite.timeout = std::chrono::milliseconds(50);
  auto stopped = run_supervised(polite, {}, 1, error);
  ASSERT_TRUE(stopped) << error;
  EXPECT_TRUE(stopped->timed_out);
  EXPECT_EQ(stopped->signal, SIGTERM);

  // Ignoring SIGTERM only earns the grace period. The target inherits the ignored
  // disposition from the fork, so it ignores SIGTERM from its first instruction on and
  // the test does not race the target's start-up.
  LaunchSpec stubborn{"/bin/sleep", {"600"}, {}, {}};
  stubborn.timeout = std::chrono::milliseconds(50);
  stubborn.grace = std::chrono::milliseconds(50);
  struct sigaction ignore {
  }, previous{};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGTERM, &ignore, &previous);
  auto killed = run_supervised(stubborn, {}, 1, error);
  ::sigaction(SIGTERM, &previous, nullptr);
  ASSERT_TRUE(killed) << error;
  EXPECT_TRUE(killed->timed_out);
  EXPECT_EQ(killed->signal, SIGKILL);

  auto quick = run_supervised({"/bin/sh", {"-c", "exit 0"}, {}, {}}, {}, 1, error);
  ASSERT_TRUE(quick) << error;
  EXPECT_FALSE(quick->timed_out);
}

TEST(Process, ExitCodeAndSignalArePassedOn) {
  std::string error;
  auto exited = run_supervised({"/bin/sh", {"-c", "exit 3"}, {}, {}}, {}, 1, error);
  ASSERT_TRUE(exited) << error;
  EXPECT_EQ(exited->exit_code, 3);
  auto killed =
      run_supervised({"/bin/sh", {"-c", "kill -TERM $$"}, {}, trap({"write"})}, {}, 1, error);
  ASSERT_TRUE(killed) << error;
  EXPECT_EQ(killed->signal, SIGTERM);
  EXPECT_EQ(killed->exit_code, 128 + SIGTERM);
}

TEST(Process, ChildrenOfTheTargetInheritTheFilter) {
  TempDir dir;
  std::string wal = (dir.path / "child.wal").string();
  // sh forks the writer: its writes still reach the supervisor.
  std::string error;
  auto result = run_supervised(
      {"/bin/sh", {"-c", std::string(FB_SUT_FILE_WRITER) + " " + wal}, {}, trap({"write"})},
      {rule("write=EIO:" + dir.path.string() + "/*.wal")}, 1, error);
  ASSERT_TRUE(result) << error;
  EXPECT_EQ(result->exit_code, 1);
}

TEST(Process, RelativeOpensResolveAgainstTheTargetsDirectory) {
  TempDir dir;
  // The writer opens "rel.wal" from inside the directory: the rule names the full path.
  std::string command = "cd " + dir.path.string() + " && " + FB_SUT_FILE_WRITER + " rel.wal";
  std::string error;
  auto result = run_supervised({"/bin/sh", {"-c", command}, {}, trap({"open"})},
                               {rule("open=EACCES:" + dir.path.string() + "/*.wal")}, 1, error);
  ASSERT_TRUE(result) << error;
  EXPECT_EQ(result->exit_code, 1);
  bool denied = false;
  for (const auto& e : result->events)
    denied |= e.path == (dir.path / "rel.wal").string() && e.error == EACCES;
  EXPECT_TRUE(denied);
}

}  // namespace
}  // namespace fb::runtime
