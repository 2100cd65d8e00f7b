// `faultbox test` as a user runs it: real specs, real services, verdicts and exit codes
// (label: syscall).
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/support/test_servers.h"
#include "tests/unit/cli/faultbox_process.h"
#include "tests/unit/test_support.h"

namespace {

namespace fs = std::filesystem;

struct Spec {
  fs::path dir = fs::temp_directory_path() / ("fb-test-cmd-" + std::to_string(::getpid()));
  explicit Spec(const std::string& text) {
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::ofstream(dir / "faultbox.star") << text;
  }
  ~Spec() { fs::remove_all(dir); }
  std::string file(const std::string& name) const { return (dir / name).string(); }
};

using Outcome = fb::testing::Finished;

/// Starts `faultbox test ARGS` in the spec's directory, its output going to out.txt and
/// err.txt there.
pid_t start_faultbox_test(const Spec& spec, std::vector<std::string> args) {
  args.insert(args.begin(), "test");
  return fb::testing::start_in(spec.dir, FB_FAULTBOX, std::move(args));
}

/// Runs `faultbox test ARGS` in the spec's directory to the end.
Outcome faultbox_test(const Spec& spec, std::vector<std::string> args) {
  return fb::testing::finish(start_faultbox_test(spec, std::move(args)), spec.file("out.txt"),
                             spec.file("err.txt"));
}

std::string probe() { return FB_SUT_PROBE; }

/// A spec's first line: the HTTP probe as service "web" on `port`, appending each POST to
/// orders.wal (write + fsync) and answering 500 "wal: ERRNO" when that fails.
std::string web_with_wal(int port) {
  std::string p = std::to_string(port);
  return "web = service('web', '" + probe() + "', interface('main', 'http', " + p +
         "),\n    args = ['http', '" + p + "', 'orders.wal'], healthcheck = http('localhost:" + p +
         "/health'))\n";
}

TEST(TestCommand, RunsEachTestAgainstItsServicesAndReportsVerdicts) {
  Spec spec("web = service('web', '" + probe() + R"(', interface('main', 'http', 18231),
              args = ['http', '18231'], healthcheck = http('localhost:18231/health'))

def test_passes():
    assert_eq(web.main.addr, 'localhost:18231')

def test_fails():
    assert_eq(web.main.port, 1, 'the port')

def helper():
    fail('not a test')
)");
  auto r = faultbox_test(spec, {"--seed", "42"});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.out.find("FAIL test_fails ("), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Error: assert_eq failed: 18231 != 1 (the port)"), std::string::npos);
  EXPECT_NE(r.out.find("faultbox.star:8:14: in test_fails"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("replay: faultbox test faultbox.star --test test_fails --seed 42"),
            std::string::npos);
  EXPECT_NE(r.out.find("PASS test_passes ("), std::string::npos);
  EXPECT_LT(r.out.find("FAIL test_fails"), r.out.find("PASS test_passes")) << "name order";
  EXPECT_TRUE(r.out.ends_with("\n1 passed, 1 failed\n")) << r.out;
  EXPECT_EQ(r.out.find("helper"), std::string::npos);
  EXPECT_EQ(r.err, "") << "an explicit seed is not announced";

  for (std::string pattern : {"passes", "test_passes", "*pass*", "~^test_p"}) {
    auto one = faultbox_test(spec, {"--seed", "1", "--test", pattern});
    EXPECT_EQ(one.code, 0) << pattern << "\n" << one.out << one.err;
    EXPECT_TRUE(one.out.ends_with("\n1 passed, 0 failed\n")) << pattern << "\n" << one.out;
  }
  auto none = faultbox_test(spec, {"--test", "nothing"});
  EXPECT_EQ(none.code, 1);
  EXPECT_NE(none.err.find("no test matched \"nothing\" (available: test_fails, test_passes)"),
            std::string::npos)
      << none.err;
}

TEST(TestCommand, ServicesAreFreshForEachTestWiredAndStoppedAfter) {
  // The shell notes its pid and what it was told, then becomes the HTTP probe, whose
  // healthcheck makes the test wait until the note is written.
  Spec spec(R"(
svc = service('svc', '/bin/sh', interface('main', 'http', 18232),
              args = ['-c', 'echo $$ $FAULTBOX_SVC_MAIN_ADDR $MODE >> pids; exec )" +
            probe() + R"( http 18232'],
              env = {'MODE': 'quiet'}, healthcheck = http('localhost:18232/health'))

def test_one():
    pass

def test_two():
    pass
)");
  auto r = faultbox_test(spec, {"--seed", "1"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  std::istringstream lines(fb::testing::read_file(spec.file("pids")));
  std::vector<pid_t> pids;
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    pid_t pid = 0;
    std::string addr, mode;
    words >> pid >> addr >> mode;
    EXPECT_EQ(addr, "localhost:18232");
    EXPECT_EQ(mode, "quiet");
    pids.push_back(pid);
  }
  ASSERT_EQ(pids.size(), 2u) << "one start per test";
  EXPECT_NE(pids[0], pids[1]);
  for (pid_t p : pids) EXPECT_TRUE(::kill(p, 0) != 0 && errno == ESRCH) << "pid " << p << " lives";
}

TEST(TestCommand, ServicesAndStepsReachEachOtherThroughProxies) {
  // client notes how it was told to reach web; the test's step to web and client's own
  // connection to web (through the shell's /dev/tcp) are both seen by web's proxy.
  Spec spec("web = service('web', '" + probe() + R"(', interface('main', 'http', 18261),
              args = ['http', '18261'], healthcheck = http('localhost:18261/health'))
client = service('client', '/bin/bash', interface('main', 'http', 18262),
    args = ['-c', 'echo $FAULTBOX_WEB_MAIN_ADDR $TARGET $OTHER > wiring; ' +
                  'exec 3<>/dev/tcp/127.0.0.1/$FAULTBOX_WEB_MAIN_PORT; ' +
                  'printf "GET /from-client HTTP/1.0\r\n\r\n" >&3; cat <&3 > answer; ' +
                  'exec )" +
            probe() + R"( http 18262'],
    env = {'TARGET': 'http://localhost:18261/x', 'OTHER': 'localhost:182610'},
    depends_on = [web], healthcheck = http('localhost:18262/health'))

def test_wired():
    assert_eq(web.main.get(path = "/from-test").status, 200)
    opened = events(type = "proxy_conn_open", service = "web")
    assert_eq(sorted([e.caller for e in opened]), ["client", "test"])
)");
  auto r = faultbox_test(spec, {"--seed", "1"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  std::istringstream wiring(fb::testing::read_file(spec.file("wiring")));
  std::string addr, target, other;
  wiring >> addr >> target >> other;
  EXPECT_TRUE(addr.starts_with("127.0.0.1:")) << addr;
  EXPECT_NE(addr, "127.0.0.1:18261") << "the proxy's port, not web's";
  EXPECT_EQ(target, "http://" + addr + "/x") << "a declared address of web's port is rewired";
  EXPECT_EQ(other, "localhost:182610") << "another port that starts alike is not";
  EXPECT_NE(fb::testing::read_file(spec.file("answer")).find("GET /from-client"), std::string::npos)
      << "the probe echoes the request line: the client's connection went through";
}

TEST(TestCommand, ReusedServicesStartOnceAndKeepNoRulesBetweenTests) {
  Spec spec(R"(
svc = service('svc', '/bin/sh', interface('main', 'http', 18241), reuse = True,
              args = ['-c', 'echo $$ >> pids; exec )" +
            probe() + R"( http 18241 orders.wal'], healthcheck = http('localhost:18241/health'))

def test_a_leaves_a_fault_behind():
    fault_start(svc, fsync = deny('EIO'))
    assert_eq(svc.main.post(path = '/o', body = 'x').status, 500)

def test_b_sees_no_fault():
    assert_eq(svc.main.post(path = '/o', body = 'y').status, 200)
    assert_eventually(type = 'service_reused', service = 'svc')
)");
  auto r = faultbox_test(spec, {"--seed", "1"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  std::istringstream lines(fb::testing::read_file(spec.file("pids")));
  std::vector<pid_t> pids;
  for (pid_t pid = 0; lines >> pid;) pids.push_back(pid);
  ASSERT_EQ(pids.size(), 1u) << "one start for the whole run";
  EXPECT_TRUE(::kill(pids[0], 0) != 0 && errno == ESRCH) << "stopped when the run ends";
}

TEST(TestCommand, AServiceThatDiesDuringATestIsReportedWithItsStderr) {
  Spec spec(R"(
svc = service('svc', '/bin/sh', args = ['-c', 'echo dying words >&2; exit 3'])

def test_waits_for_the_crash():
    for i in range(1000000):
        if events(type = 'service_exited'):
            break
    assert_true(False, 'after the crash')
)");
  auto r = faultbox_test(spec, {"--seed", "1"});
  EXPECT_EQ(r.code, 2) << r.out << r.err;
  EXPECT_NE(r.out.find("service \"svc\" exited during the test (exit code 3)"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("dying words"), std::string::npos) << "the stderr tail\n" << r.out;
  EXPECT_NE(r.out.find("[SERVICE_CRASHED]"), std::string::npos) << r.out;
}

TEST(TestCommand, ShardsSplitTheLeavesWithoutOverlap) {
  Spec spec(R"(
def test_grid():
    a = choose("a", [0, 1, 2])
    b = choose("b", ["x", "y", "z"])
    assert_true(a != 2 or b != "z")

def helper_axis():
    return choose("late", [1, 2])

def test_found_when_run():
    # The plan cannot size this list; the leaves it adds are found by running leaf 0.
    n = choose("n", list(range(2)))
    assert_true(n in (0, 1))
)");
  auto leaves_of = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--seed", "1", "--format", "json"});
    auto r = faultbox_test(spec, args);
    auto report = nlohmann::json::parse(r.out);  // kept: the loop must not outlive it
    std::multiset<std::string> leaves;
    for (const auto& t : report["tests"])
      leaves.insert(t["name"].get<std::string>() + "#" + t["leaf_id"].get<std::string>() + "=" +
                    t["result"].get<std::string>());
    return leaves;
  };
  auto all = leaves_of({});
  EXPECT_EQ(all.size(), 9u + 2u);
  EXPECT_TRUE(all.contains("test_grid#8=fail")) << "a=2, b=z is leaf 2 + 3*2";
  std::multiset<std::string> joined;
  for (int i = 0; i < 3; ++i) {
    auto part = leaves_of({"--shard", std::to_string(i) + "/3"});
    joined.insert(part.begin(), part.end());
  }
  EXPECT_EQ(joined, all) << "every leaf once, with the same verdict";
  auto one = leaves_of({"--test", "grid[leaf=8]"});
  EXPECT_EQ(one, std::multiset<std::string>{"test_grid#8=fail"});
}

TEST(TestCommand, ShardsAgreeOnLeavesFoundInLaterLoads) {
  // The body meets "late" only in the load with mode "q", and the plan cannot size it:
  // every shard must still find it, and leaves that pin it under mode "p" run as the
  // leaf with late=0 and say so.
  Spec spec(R"(
MODE = choose("mode", ["p", "q"])

def test_late():
    late = 0
    if MODE == "q":
        late = choose("late", list(range(3)))
    assert_true(late != 2, "late=2")
)");
  auto leaves_of = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--seed", "1", "--format", "json"});
    auto r = faultbox_test(spec, args);
    auto report = nlohmann::json::parse(r.out);
    std::multiset<std::string> leaves;
    for (const auto& t : report["tests"]) {
      std::string notes;
      for (const auto& d : t["diagnostics"]) notes += " " + d["code"].get<std::string>();
      leaves.insert(t["leaf_id"].get<std::string>() + "=" + t["result"].get<std::string>() + notes);
    }
    return leaves;
  };
  auto all = leaves_of({});
  EXPECT_EQ(all, (std::multiset<std::string>{"0=pass", "1=pass", "2=pass LEAF_SAME_AS", "3=pass",
                                             "4=pass LEAF_SAME_AS", "5=fail"}));
  std::multiset<std::string> joined;
  for (int i = 0; i < 3; ++i) {
    auto part = leaves_of({"--shard", std::to_string(i) + "/3"});
    joined.insert(part.begin(), part.end());
  }
  EXPECT_EQ(joined, all) << "every leaf once, with the same verdict";
  EXPECT_EQ(leaves_of({"--test", "late[leaf=5]"}), std::multiset<std::string>{"5=fail"});
}

TEST(TestCommand, SleepIsBoundedByTheTestAndChecksItsArguments) {
  Spec spec(R"(
def test_too_long():
    sleep("5s")

def test_bad_duration():
    sleep("3x")

def test_virtual_clock():
    sleep("1ms", clock = "virtual")

def test_branches_sleep_together():
    parallel(lambda: sleep("50ms"), lambda: sleep("50ms"))
    assert_true(True)

def body():
    sleep("1s")

test("bounded", body = body, timeout = "200ms")
)");
  auto r = faultbox_test(spec, {"--seed", "1", "--timeout", "2s"});
  EXPECT_EQ(r.code, 2) << r.out << r.err;
  EXPECT_NE(r.out.find("sleep: 5s is longer than what is left of the test's timeout"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("sleep: 1s is longer than what is left of the test's timeout"),
            std::string::npos);
  EXPECT_NE(r.out.find("sleep: invalid duration \"3x\""), std::string::npos);
  EXPECT_NE(r.out.find("sleep: clock=\"virtual\" is reserved"), std::string::npos);
  EXPECT_NE(r.out.find("PASS test_branches_sleep_together"), std::string::npos);
  EXPECT_TRUE(r.out.ends_with("1 passed, 4 failed\n")) << r.out;
}

TEST(TestCommand, OneLeafOfAHugePlanRunsWithoutWalkingTheOthers) {
  Spec spec(R"(
MODE = choose("mode", ["a", "b"])
def test_grid():
    for i in range(12):
        choose("a%d" % i, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    assert_true(True)
if MODE == "b":
    test("only_b", body = lambda: None)
)");
  auto r = faultbox_test(spec, {"--seed", "1", "--test", "grid[leaf=1999999999999]"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("PASS test_grid[leaf=1999999999999] {mode: \"b\""), std::string::npos)
      << r.out;
  // A test that only the second load registers is reported, not silently dropped.
  Spec late(R"(
MODE = choose("mode", ["a", "b"])
def test_x():
    assert_true(True)
if MODE == "b":
    test("only_b", body = lambda: None)
)");
  auto warned = faultbox_test(late, {"--seed", "1"});
  EXPECT_EQ(warned.code, 0) << warned.out << warned.err;
  EXPECT_NE(warned.out.find("WARNING: [TESTS_NOT_IN_FIRST_LOAD] the top level registers tests "
                            "only under other choices than the first ones: test_only_b"),
            std::string::npos)
      << warned.out;
}

TEST(TestCommand, ATopLevelAssumeHaltsTheLoadsItExcludes) {
  Spec spec(R"(
MODE = choose("mode", ["a", "b", "c"])
assume(lambda c: c["mode"] != "b")

def test_x():
    assert_true(MODE != "c", "mode c")
)");
  auto r = faultbox_test(spec, {"--seed", "1"});
  EXPECT_EQ(r.code, 2) << r.out << r.err;
  EXPECT_NE(r.out.find("PASS test_x[leaf=0] {mode: \"a\"}"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("HALTED test_x[leaf=1] {mode: \"b\"}"), std::string::npos);
  EXPECT_NE(r.out.find("halted: the top level's assume() excludes {mode: \"b\"}"),
            std::string::npos);
  EXPECT_NE(r.out.find("FAIL test_x[leaf=2] {mode: \"c\"}"), std::string::npos);

  // The first combination is the one the tests are found with: excluding it is an error.
  Spec first(R"(
MODE = choose("mode", ["a", "b"])
assume(lambda c: c["mode"] != "a")

def test_x():
    pass
)");
  auto bad = faultbox_test(first, {"--seed", "1"});
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find("assume: the spec's assumption does not hold"), std::string::npos)
      << bad.err;
}

TEST(TestCommand, AMatrixCollapsedNameSelectsItsCells) {
  Spec spec(web_with_wal(18243) + R"(
full = fault_assumption("full", target = web, write = deny("ENOSPC"))
slow = fault_assumption("slow", target = web, fsync = delay("1ms"))
def order():
    return web.main.post(path = "/o", body = "x")
def order_twin():
    return order()
fault_matrix(scenarios = [order, order_twin], faults = [full, slow])
)");
  auto r = faultbox_test(spec, {"--seed", "1", "--test", "matrix_order"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("PASS test_matrix_order_full"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("PASS test_matrix_order_slow"), std::string::npos);
  EXPECT_EQ(r.out.find("test_matrix_order_twin"), std::string::npos) << "another scenario's cells";
  EXPECT_TRUE(r.out.ends_with("2 passed, 0 failed\n")) << r.out;

  // The whole matrix: a table after the tests, and the reference's JSON summary.
  Spec whole("web = service('web', '" + probe() + R"(', interface('main', 'http', 18243),
    args = ['http', '18243', 'orders.wal'], healthcheck = http('localhost:18243/health'),
    ops = {'log_write': op(syscalls = ['write'], path = '**/*.wal')})
full = fault_assumption("full", target = web, log_write = deny("ENOSPC"))
slow = fault_assumption("slow", target = web, fsync = delay("1ms"))
def order():
    return web.main.post(path = "/o", body = "x")
def browse():
    return web.main.get(path = "/items")
fault_matrix(scenarios = [order, browse], faults = [full, slow],
             default_expect = expect_success(), exclude = [(browse, slow)])
# Every write denied: the answer never leaves, so the step gets status 0 and an error.
mute = fault_assumption("mute", target = web, write = deny("EPIPE"))
fault_scenario("mute", scenario = browse, faults = [mute], expect = expect_success())
)");
  auto all = faultbox_test(whole, {"--seed", "1"});
  EXPECT_EQ(all.code, 2) << all.out << all.err;
  EXPECT_NE(all.out.find("FAIL test_mute"), std::string::npos) << all.out;
  EXPECT_NE(all.out.find("expectation violated: expect_success: the step failed: "),
            std::string::npos)
      << all.out;
  EXPECT_NE(all.out.find("Fault matrix: 2 scenarios x 2 faults = 3 cells\n"
                         "          full    slow\n"
                         "  order   FAIL    PASS\n"
                         "  browse  PASS    -\n"),
            std::string::npos)
      << all.out;
  auto json = faultbox_test(whole, {"--seed", "1", "--format", "json"});
  auto matrix = nlohmann::json::parse(json.out)["matrix"];
  EXPECT_EQ(matrix["scenarios"], nlohmann::json::array({"order", "browse"}));
  EXPECT_EQ(matrix["faults"], nlohmann::json::array({"full", "slow"}));
  EXPECT_EQ(matrix["total"], 3);
  EXPECT_EQ(matrix["passed"], 2);
  EXPECT_EQ(matrix["failed"], 1);
  EXPECT_EQ(matrix["excluded"],
            nlohmann::json::parse(R"([{"scenario": "browse", "fault": "slow"}])"));
  std::map<std::string, std::string> outcomes;
  for (const auto& cell : matrix["cells"])
    outcomes[cell["scenario"].get<std::string>() + "/" + cell["fault"].get<std::string>()] =
        cell["outcome"];
  EXPECT_EQ(outcomes, (std::map<std::string, std::string>{{"order/full", "expectation_violated"},
                                                          {"order/slow", "passed"},
                                                          {"browse/full", "passed"}}));
}

TEST(TestCommand, TopLevelChoicesLoadTheSpecOncePerOption) {
  // Each load passes its option to the service; a reused service starts once per load.
  // The third option makes the top level raise: its leaves are errors, the rest run.
  Spec spec(R"(
MODE = choose('mode', ['a', 'b', 'c'])
if MODE == 'c':
    fail('mode c is not supported')
svc = service('svc', '/bin/sh', interface('main', 'http', 18242),
              args = ['-c', 'echo $$ $MODE >> pids; exec )" +
            probe() + R"( http 18242'],
              env = {'MODE': MODE}, reuse = True, healthcheck = http('localhost:18242/health'))

def test_one():
    assert_true(MODE == 'a', 'mode a')

def test_two():
    choose('n', [1, 2])
)");
  auto r = faultbox_test(spec, {"--seed", "1", "--format", "json"});
  EXPECT_EQ(r.code, 2) << r.out << r.err;
  auto report = nlohmann::json::parse(r.out);
  std::vector<std::string> rows;
  for (const auto& t : report["tests"])
    rows.push_back(t["name"].get<std::string>() + "[" + t["leaf_id"].get<std::string>() + "] " +
                   t["choices"]["mode"].get<std::string>() + " " + t["result"].get<std::string>() +
                   (t.contains("error_code") ? " " + t["error_code"].get<std::string>() : ""));
  EXPECT_EQ(rows, (std::vector<std::string>{
                      "test_one[0] \"a\" pass",
                      "test_one[1] \"b\" fail",
                      "test_one[2] \"c\" error SPEC_LOAD_FAILED",
                      "test_two[0] \"a\" pass",
                      "test_two[1] \"b\" pass",
                      "test_two[2] \"c\" error SPEC_LOAD_FAILED",
                      "test_two[3] \"a\" pass",
                      "test_two[4] \"b\" pass",
                      "test_two[5] \"c\" error SPEC_LOAD_FAILED",
                  }))
      << r.out;
  std::istringstream lines(fb::testing::read_file(spec.file("pids")));
  std::vector<std::string> modes;
  for (std::string line; std::getline(lines, line);)
    modes.push_back(line.substr(line.find(' ') + 1));
  EXPECT_EQ(modes, (std::vector<std::string>{"a", "b"})) << "one start per load that works";
  EXPECT_NE(r.out.find("mode c is not supported"), std::string::npos);
}

TEST(TestCommand, ServicesThatDoNotComeUpAreErrorsWithTheirStderr) {
  Spec spec(R"(
dies = service('dies', '/bin/sh', interface('main', 'tcp', 18233),
               args = ['-c', 'echo cannot open database >&2; exit 3'],
               healthcheck = tcp('localhost:18233'))

def test_any():
    pass
)");
  auto r = faultbox_test(spec, {"--seed", "1"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("ERROR test_any ("), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[SERVICE_EXITED]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("service \"dies\" exited before becoming ready (exit code 3)"),
            std::string::npos);
  EXPECT_NE(r.out.find("cannot open database"), std::string::npos) << "the stderr tail";

  Spec slow(R"(
mute = service('mute', '/bin/sh', interface('main', 'tcp', 18234),
               args = ['-c', 'echo still booting >&2; exec sleep 600'],
               healthcheck = tcp('localhost:18234', timeout = '300ms'))

def test_any():
    pass
)");
  r = faultbox_test(slow, {"--seed", "1"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("[HEALTHCHECK_TIMEOUT]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("service \"mute\" not ready: TCP healthcheck \"localhost:18234\" timed out "
                       "after 300ms"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("still booting"), std::string::npos);
}

TEST(TestCommand, FaultsHitTheServiceOnlyWhileTheirCallbackRuns) {
  Spec spec(web_with_wal(18235) + R"(

def test_stores():
    r = web.main.post(path = '/orders', body = 'o1')
    assert_eq((r.status, r.body, r.ok), (200, 'stored', True))

def test_fsync_fails_inside_the_window_only():
    r = fault(web, fsync = deny('EIO'), run = lambda: web.main.post(path = '/orders', body = 'o2'))
    assert_eq((r.status, r.body, r.ok), (500, 'wal: EIO', False))
    assert_eq(web.post(path = '/orders', body = 'o3').body, 'stored')

def boom():
    web.main.post(path = '/orders', body = 'o4')
    fail('boom')

def test_removed_even_when_the_callback_fails():
    fault(web, fsync = deny('EIO'), run = boom)

def test_unfilterable():
    extra = {'getrandom': deny('EIO')}
    fault(web, run = lambda: None, **extra)

def test_step_to_nowhere():
    r = web.main.get(path = '/', timeout = '1s')
    assert_true(r.ok)
)");
  auto r = faultbox_test(spec, {"--seed", "1"});
  EXPECT_EQ(r.code, 2) << r.out << r.err;
  EXPECT_NE(r.out.find("PASS test_stores"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("PASS test_fsync_fails_inside_the_window_only"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("FAIL test_removed_even_when_the_callback_fails"), std::string::npos);
  EXPECT_NE(r.out.find("Error: fail: boom"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("FAIL test_unfilterable"), std::string::npos);
  EXPECT_NE(r.out.find("[FAULT_NOT_FILTERABLE] fault: rule getrandom=deny(\"EIO\") needs syscall "
                       "getrandom, which the target's filter does not trap"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("PASS test_step_to_nowhere"), std::string::npos) << r.out;
  // Each test had a fresh service; the WAL kept what the writes wrote (fsync failing
  // does not undo a write).
  EXPECT_EQ(fb::testing::read_file(spec.file("orders.wal")), "o2\no3\no4\no1\n");
}

TEST(TestCommand, AssertionsReadTheTrace) {
  Spec spec(web_with_wal(18236) + R"(

def test_trace():
    r = fault(web, fsync = deny('EIO', label = 'wal-sync'),
              run = lambda: web.main.post(path = '/orders', body = 'o1'))
    assert_eq(r.status, 500)
    assert_eventually(service = 'web', syscall = 'fsync', decision = 'deny*', label = 'wal-sync')
    assert_never(syscall = 'fsync', decision = 'allow')
    assert_before(first = {'type': 'step_send'}, then = {'syscall': 'fsync'})
    assert_before(first = {'syscall': 'fsync'}, then = {'type': 'step_recv'})
    denied = events(type = 'syscall', where = lambda e: e.errno == 'EIO')
    assert_eq(len(denied), 1)
    assert_true(denied[0].path.endswith('/orders.wal'))
    assert_eq(denied[0].service, 'web')
    print('seen', denied[0].decision)

def test_never_sees_an_allowed_fsync():
    web.main.post(path = '/orders', body = 'o2')
    assert_never(syscall = 'fsync', decision = 'allow')

def test_eventually_wants_a_match():
    assert_eventually(syscall = 'fsync', path = '**/nothing.wal')

def test_silent():
    web.main.get(path = '/')
)");
  auto r = faultbox_test(spec, {"--seed", "1"});
  EXPECT_EQ(r.code, 2) << r.out << r.err;
  EXPECT_NE(r.out.find("seen deny(input/output error)\nPASS test_trace"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("FAIL test_never_sees_an_allowed_fsync"), std::string::npos);
  EXPECT_NE(r.out.find("Error: assert_never: found matching event <event #"), std::string::npos);
  EXPECT_NE(r.out.find("Error: assert_eventually: no matching event found (syscall=\"fsync\", "
                       "path=\"**/nothing.wal\")"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("PASS test_silent"), std::string::npos);
  EXPECT_NE(r.out.find("WARNING: [TEST_NO_ASSERTIONS] test_silent: passed without evaluating any "
                       "assertion"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("[TEST_NO_ASSERTIONS] test_trace"), std::string::npos);
}

TEST(TestCommand, StartStopFaultsAndTracesLastUntilStopped) {
  Spec spec(web_with_wal(18238) + R"(

def post(body):
    return web.main.post(path = '/orders', body = body)

def test_fault_start_stop():
    fault_start(web, fsync = deny('ENOSPC'))
    assert_eq(post('a').body, 'wal: ENOSPC')
    assert_eq(post('b').body, 'wal: ENOSPC')
    fault_stop(web)
    assert_eq(post('c').body, 'stored')

def test_trace_records_only_inside():
    post('before')
    trace(web, syscalls = ['fsync'], run = lambda: post('inside'))
    post('after')
    traced = events(syscall = 'fsync', decision = 'trace')
    assert_eq(len(traced), 1)
    trace_start(web, syscalls = ['fsync'])
    post('again')
    trace_stop(web)
    assert_eq(len(events(syscall = 'fsync', decision = 'trace')), 2)
    assert_eventually(type = 'fault_applied', rules = 'trace(fsync)')
)");
  auto r = faultbox_test(spec, {"--seed", "1"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(r.out.ends_with("2 passed, 0 failed\n")) << r.out;
}

TEST(TestCommand, AMonitorViolationStopsTheBodyAndTheReportNamesItsEvent) {
  Spec spec(R"(
svc = service('svc', ')" +
            probe() + R"(', interface('main', 'http', 18273),
              args = ['inventory', '18273', '3', 'fixed'],
              healthcheck = http('localhost:18273/health'))

# Every answer is judged as it arrives: no 404 may ever come back.
monitor('no_missing_pages', on = match.event(type = 'step_recv'),
        check = lambda e, s: e.status_code != 404)

def test_found():
    assert_eq(svc.get(path = '/health').status, 200)

def test_missing():
    svc.get(path = '/health')
    svc.get(path = '/nothing')  # the inventory has no such page: 404
    sleep('60s')               # never reached: the violation stops the body
)");
  auto r = faultbox_test(spec, {"--seed", "1", "--format", "json"});
  ASSERT_EQ(r.code, 2) << r.out << r.err;
  auto report = nlohmann::json::parse(r.out);
  std::map<std::string, nlohmann::json> tests;
  for (const auto& t : report["tests"]) tests[t["name"].get<std::string>()] = t;
  EXPECT_EQ(tests["test_found"]["result"], "pass");
  const auto& missing = tests["test_missing"];
  EXPECT_EQ(missing["result"], "fail");
  EXPECT_EQ(missing["error_code"], "PROPERTY_VIOLATED");
  EXPECT_NE(missing["reason"].get<std::string>().find(
                "monitor violation: no_missing_pages: check returned False"),
            std::string::npos)
      << missing["reason"];
  EXPECT_EQ(missing["violation_event"]["type"], "step_recv");
  EXPECT_EQ(missing["violation_event"]["fields"]["status_code"], "404");  // fields are text
  // Stopped at the violation, not after the 60 s sleep (the test's own timeout is 3 min).
  EXPECT_LT(missing["duration_ms"].get<std::int64_t>(), 50000) << missing;
  EXPECT_FALSE(tests["test_found"].contains("violation_event"));
}

TEST(TestCommand, ABodyThatNeverEndsIsStoppedByTheTimeout) {
  Spec spec(R"(
def test_spins():
    n = 0
    while True:
        n += 1

def test_after():
    assert_true(True)
)");
  auto r = faultbox_test(spec, {"--seed", "1", "--timeout", "200ms"});
  // A truncated run establishes nothing: inconclusive (exit 3, nothing failed).
  EXPECT_EQ(r.code, 3) << r.out << r.err;
  EXPECT_NE(r.out.find("INCONCLUSIVE test_spins ("), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 passed, 0 failed, 1 inconclusive"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[TEST_TIMEOUT]"), std::string::npos);
  EXPECT_NE(r.out.find("the test ran longer than its timeout of 200ms"), std::string::npos);
  EXPECT_NE(r.out.find("PASS test_after"), std::string::npos) << "the next test still runs";
}

TEST(TestCommand, InterruptingStopsTheTestAndItsServices) {
  Spec spec(
      "svc = service('svc', '/bin/sh', interface('main', 'http', 18237),\n"
      "  args = ['-c', 'echo $$ > pid; exec " +
      probe() +
      " http 18237'],\n"
      "  healthcheck = http('localhost:18237/health'))\n"
      "def test_a_spins():\n    while True:\n        pass\n"
      "def test_b_never_runs():\n    assert_true(True)\n");
  pid_t pid = start_faultbox_test(spec, {"--seed", "1"});
  // Bounded only so that a broken build fails instead of hanging; not a timing goal.
  for (int i = 0; i < 600 && fb::testing::read_file(spec.file("pid")).empty(); ++i)
    ::usleep(50'000);
  pid_t service = std::atoi(fb::testing::read_file(spec.file("pid")).c_str());
  ASSERT_GT(service, 0);
  ::kill(pid, SIGINT);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGINT) << status;
  std::string report = fb::testing::read_file(spec.file("out.txt"));
  EXPECT_NE(report.find("ERROR test_a_spins"), std::string::npos) << report;
  EXPECT_EQ(report.find("test_b_never_runs"), std::string::npos) << report;
  EXPECT_TRUE(::kill(service, 0) != 0 && errno == ESRCH) << "the service was stopped";
}

TEST(TestCommand, InterruptingAServiceStartIsInterruptedNotATimeout) {
  // The service writes its pid and then never becomes ready: Ctrl-C while faultbox
  // polls its healthcheck ends the test as INTERRUPTED, at once, and the run draws no
  // conclusions about interfaces it never got to test.
  Spec spec(
      "svc = service('svc', '/bin/sh', interface('main', 'http', 18452),\n"
      "  args = ['-c', 'echo $$ > pid; exec sleep 60'],\n"
      "  healthcheck = http('localhost:18452/health', timeout = '20s'))\n"
      "def test_a():\n    assert_eq(svc.main.get(path = '/').status, 200)\n");
  pid_t pid = start_faultbox_test(spec, {"--seed", "1"});
  for (int i = 0; i < 600 && fb::testing::read_file(spec.file("pid")).empty(); ++i)
    ::usleep(50'000);
  ASSERT_FALSE(fb::testing::read_file(spec.file("pid")).empty());
  auto interrupted = std::chrono::steady_clock::now();
  ::kill(pid, SIGINT);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_LT(std::chrono::steady_clock::now() - interrupted, std::chrono::seconds(15))
      << "not the healthcheck's 20 s";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGINT) << status;
  std::string out = fb::testing::read_file(spec.file("out.txt"));
  EXPECT_NE(out.find("ERROR test_a"), std::string::npos) << out;
  EXPECT_NE(out.find("[INTERRUPTED]"), std::string::npos) << out;
  EXPECT_NE(out.find("interrupted while service \"svc\" was starting"), std::string::npos) << out;
  EXPECT_EQ(out.find("HEALTHCHECK_TIMEOUT"), std::string::npos) << out;
  EXPECT_EQ(out.find("NO_POSITIVE_CONTROL"), std::string::npos) << out;
}

TEST(TestCommand, RunsWithoutTestsOrWithUnwritableOutputsStopBeforeAnyService) {
  Spec none("x = 1\n");
  auto r = faultbox_test(none, {"--seed", "1"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("faultbox.star: the spec declares no tests"), std::string::npos) << r.err;
  // The service would leave a mark if it started: nothing may start for a run whose
  // report or logs have nowhere to go.
  Spec spec(
      "svc = service('svc', '/bin/sh', args = ['-c', 'touch started; sleep 60'])\n"
      "def test_a():\n    assert_true(True)\n");
  for (std::vector<std::string> flags :
       {std::vector<std::string>{"--output", "/proc/forbidden/report.json"},
        std::vector<std::string>{"--normalize", "/proc/forbidden/trace.txt"},
        std::vector<std::string>{"--logs", "/proc/forbidden"}}) {
    flags.insert(flags.end(), {"--seed", "1"});
    r = faultbox_test(spec, flags);
    EXPECT_EQ(r.code, 1) << flags[0] << r.out << r.err;
    EXPECT_NE(r.err.find("faultbox test: " + flags[0] + ": cannot "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("'/proc/forbidden"), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_FALSE(fs::exists(spec.dir / "started")) << flags[0];
  }
  // A dry run writes nothing, and a report file is replaced only by a report.
  fs::remove_all(spec.dir / ".faultbox");
  r = faultbox_test(spec, {"--dry-run"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(fs::exists(spec.dir / ".faultbox"));
  Spec broken("def test_x(:\n    pass\n");
  std::ofstream(broken.file("report.json")) << "the last run's report";
  r = faultbox_test(broken, {"--output", "report.json"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(fb::testing::read_file(broken.file("report.json")), "the last run's report");
}

TEST(TestCommand, TheQuickstartCatchesItsPlantedBug) {
  // The README's demo, run against this build's binaries in a scratch directory.
  std::string text =
      fb::testing::read_file(fb::testing::source_dir() / "examples/quickstart/faultbox.star");
  auto replace = [&](const std::string& from, const std::string& to) {
    auto at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
  };
  replace("build/examples/quickstart/kvstore", FB_QUICKSTART_KVSTORE);
  replace("build/examples/quickstart/api", FB_QUICKSTART_API);
  replace("examples/quickstart/.faultbox/kv.wal", "kv.wal");
  Spec spec(text);
  auto r = faultbox_test(spec, {"--seed", "1"});
  EXPECT_EQ(r.code, 2) << r.out << r.err;
  for (const char* name :
       {"test_put_then_get", "test_wal_is_synced_before_the_reply",
        "test_store_keeps_nothing_it_could_not_log", "test_slow_store_connection",
        "test_store_unreachable", "test_wal_write_denied"})
    EXPECT_NE(r.out.find(std::string("PASS ") + name + " ("), std::string::npos) << name << r.out;
  EXPECT_NE(r.out.find("FAIL test_api_reports_store_failures"), std::string::npos);
  EXPECT_NE(r.out.find("the API claimed 201 stored for a write the store refused"),
            std::string::npos);
  EXPECT_NE(r.out.find("\n6 passed, 1 failed\n"), std::string::npos);
}

TEST(TestCommand, TheQuickstartStoreOutlivesAClientThatLeavesEarly) {
  // A caller that hangs up before reading its replies (as a proxy's cut connection
  // does) made the store's next write raise SIGPIPE, which killed it.
  fs::path dir = fs::temp_directory_path() / ("fb-kv-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::string wal = (dir / "kv.wal").string();
  pid_t store = ::fork();
  if (store == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // gone with the test, however it ends
    ::setenv("PORT", "18451", 1);
    ::setenv("WAL", wal.c_str(), 1);
    ::execl(FB_QUICKSTART_KVSTORE, FB_QUICKSTART_KVSTORE, nullptr);
    ::_exit(127);
  }
  auto ask = [](const std::string& lines, bool read_reply) {
    for (int attempt = 0; attempt < 200; ++attempt) {
      int fd = fb::testing::dial_local(18451, 1);
      if (fd < 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      (void)!::write(fd, lines.data(), lines.size());
      std::string reply;
      char buffer[256];
      if (read_reply) {
        ::shutdown(fd, SHUT_WR);
        for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;) reply.append(buffer, n);
      }
      ::close(fd);
      return reply;
    }
    return std::string("<no connection>");
  };
  EXPECT_EQ(ask("PING\n", true), "PONG\n");
  std::string many;
  for (int i = 0; i < 800; ++i) many += "PING\n";
  for (int round = 0; round < 5; ++round) ask(many, false);  // gone before the replies
  EXPECT_EQ(ask("PING\n", true), "PONG\n") << "the store survived";
  int status = 0;
  EXPECT_EQ(::waitpid(store, &status, WNOHANG), 0) << "exited with status " << status;
  ::kill(store, SIGKILL);
  ::waitpid(store, nullptr, 0);
  fs::remove_all(dir);
}

TEST(TestCommand, SpecsThatCannotLoadExitOne) {
  Spec syntax("def test_x(:\n    pass\n");
  auto r = faultbox_test(syntax, {"--seed", "1"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("faultbox.star:1:"), std::string::npos) << r.err;
  Spec cycle(R"(
a = service('a', '/bin/true', depends_on = ['b'])
b = service('b', '/bin/true', depends_on = ['a'])
def test_x():
    pass
)");
  r = faultbox_test(cycle, {"--seed", "1"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("depends_on has a cycle: a -> b -> a"), std::string::npos) << r.err;
  Spec top(R"(
service('a', '/bin/true', interface('x', 'tcp', 0))
)");
  r = faultbox_test(top, {"--seed", "1"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("interface: port must be between 1 and 65535, got 0"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("faultbox.star:2:"), std::string::npos) << "with the backtrace";

  // The reference's run-time --explore is refused with what to write instead.
  auto explore = faultbox_test(cycle, {"--explore", "all"});
  EXPECT_EQ(explore.code, 1);
  EXPECT_NE(explore.err.find("parallel(..., interleavings=\"all\")"), std::string::npos)
      << explore.err;
}

TEST(TestCommand, ReportsAsJsonRepeatsWithSeedsAndShowsOnlyFailures) {
  Spec spec(web_with_wal(18239) + R"(
def test_denied():
    print('to stderr under --format json')
    r = fault(web, fsync = deny('EIO', probability = 0.5), run = lambda: web.main.post(path = '/o', body = 'x'))
    assert_true(r.status in (200, 500))

def test_ok():
    assert_eq(web.main.get(path = '/a').status, 200)
)");
  auto r = faultbox_test(spec, {"--seed", "10", "--runs", "3", "--format", "json"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  auto report = nlohmann::json::parse(r.out);  // stdout is the report alone
  EXPECT_NE(r.err.find("to stderr under --format json"), std::string::npos) << r.err;
  ASSERT_EQ(report["tests"].size(), 6u) << "two tests, three runs each";
  std::vector<std::uint64_t> seeds;
  std::uint64_t hits = 0, matches = 0;
  for (const auto& t : report["tests"]) {
    if (t["name"] != "test_denied") continue;
    seeds.push_back(t["seed"]);
    ASSERT_EQ(t["faults"].size(), 1u);
    hits += t["faults"][0]["hits"].get<std::uint64_t>();
    matches += t["faults"][0]["matches"].get<std::uint64_t>();
  }
  EXPECT_EQ(seeds, (std::vector<std::uint64_t>{10, 11, 12}));
  EXPECT_EQ(matches, 3u) << "one fsync per run";
  // The counts come from the decisions: the same runs again give the same hits.
  auto again = nlohmann::json::parse(
      faultbox_test(spec, {"--seed", "10", "--runs", "3", "--format", "json"}).out);
  std::uint64_t hits_again = 0;
  for (const auto& t : again["tests"])
    if (t["name"] == "test_denied") hits_again += t["faults"][0]["hits"].get<std::uint64_t>();
  EXPECT_EQ(hits, hits_again);

  auto only = faultbox_test(spec, {"--seed", "1", "--show", "fail", "--test", "ok"});
  EXPECT_EQ(only.code, 0);
  EXPECT_EQ(only.out.find("PASS"), std::string::npos) << only.out;
  EXPECT_TRUE(only.out.ends_with("1 passed, 0 failed\n")) << only.out;

  for (std::vector<std::string> bad :
       {std::vector<std::string>{"--format", "xml"}, {"--runs", "0"}, {"--show", "some"}}) {
    auto e = faultbox_test(spec, bad);
    EXPECT_EQ(e.code, 1) << bad[0];
    EXPECT_NE(e.err.find(bad[0]), std::string::npos) << e.err;
  }
}

TEST(TestCommand, DryRunShowsEachServicesTrapSetAndRunsNothing) {
  Spec spec(web_with_wal(18240) + R"(
db = service('db', '/bin/sleep', args = ['60'], depends_on = [web],
             ops = {'persist': op(syscalls = ['fsync'], path = '*.wal')})

def test_a():
    fault(db, persist = deny('EIO'), run = lambda: None)
    fault(web, connect = delay('1s'), run = lambda: None)
)");
  auto r = faultbox_test(spec, {"--dry-run"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("  web: "), std::string::npos) << r.out;
  EXPECT_LT(r.out.find("  web: "), r.out.find("  db: ")) << "start order";
  EXPECT_NE(r.out.find("    traps: connect\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("    traps: fsync fdatasync\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tests (1):\n  test_a\n"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(spec.file("orders.wal"))) << "nothing was started";
}

}  // namespace
