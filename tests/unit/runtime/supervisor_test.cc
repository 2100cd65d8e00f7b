// The supervisor with real targets under real filters (label: syscall): holds, rule sets
// changed while a target runs, threads, sockets, and a supervisor that dies.
#include "runtime/supervisor.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <set>
#include <thread>

#include "tests/unit/test_support.h"

namespace fb::runtime {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::vector<int> trap(const std::vector<std::string>& families) {
  std::vector<int> numbers;
  for (const auto& f : families)
    for (const auto& name : expand(host_arch(), f))
      numbers.push_back(*syscall_number(host_arch(), name));
  return numbers;
}

FaultRule rule(const std::string& spec, const std::string& label = "") {
  std::string error;
  auto r = parse_fault(spec, host_arch(), error);
  EXPECT_TRUE(r) << error;
  r->label = label;
  return *r;
}

FaultRule hold(const std::string& syscall, const std::string& glob, const std::string& label) {
  FaultRule r;
  r.action = FaultRule::Action::kHold;
  r.syscalls = expand(host_arch(), syscall);
  r.path_glob = glob;
  r.label = label;
  return r;
}

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("fb-supervisor-" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

std::vector<Event> of_type(const EventLog& log, const std::string& type) {
  std::vector<Event> out;
  for (auto& e : log.snapshot())
    if (e.type == type) out.push_back(e);
  return out;
}

TEST(Supervisor, AHeldCallWaitsUntilReleased) {
  TempDir dir;
  for (int error : {0, EIO}) {
    EventLog log;
    Supervisor supervisor(log, 1);
    LaunchSpec spec{FB_SUT_PROBE, {"fsync", dir.file("a.wal")}, {}, trap({"fsync"})};
    spec.stdout_path = dir.file("out");
    std::string message;
    auto id = supervisor.launch("db", spec, {hold("fsync", "**/*.wal", "wal-sync")}, message);
    ASSERT_TRUE(id) << message;
    ASSERT_TRUE(supervisor.wait_held(*id, 1, 60s));
    auto held = supervisor.held(*id);
    ASSERT_EQ(held.size(), 1u);
    EXPECT_EQ(held[0].syscall, "fsync");
    EXPECT_EQ(held[0].path, dir.file("a.wal"));
    EXPECT_EQ(held[0].label, "wal-sync");
    EXPECT_FALSE(supervisor.wait_for(*id, 50ms)) << "a held call must not go on by itself";
    EXPECT_EQ(supervisor.release(*id, "other-*", error), 0u);
    EXPECT_EQ(supervisor.release(*id, "wal-*", error), 1u);
    ExitStatus status = supervisor.wait(*id);
    EXPECT_EQ(status.exit_code, error ? 1 : 0);
    EXPECT_EQ(testing::read_file(dir.file("out")), error ? "fsync EIO\n" : "fsync ok\n");
    std::vector<std::string> decisions;
    for (const auto& e : of_type(log, "syscall"))
      if (e.text("syscall") == "fsync") decisions.push_back(e.text("decision"));
    EXPECT_EQ(decisions,
              (std::vector<std::string>{
                  "hold", error ? "deny(input/output error) (released)" : "allow (released)"}));
  }
}

TEST(Supervisor, ASignalDuringAHeldCallDoesNotTrapItTwice) {
  TempDir dir;
  EventLog log;
  Supervisor supervisor(log, 1);
  LaunchSpec spec{FB_SUT_PROBE, {"fsync", dir.file("a.wal")}, {}, trap({"fsync"})};
  std::string error;
  auto id = supervisor.launch("db", spec, {hold("fsync", "", "sync")}, error);
  ASSERT_TRUE(id) << error;
  ASSERT_TRUE(supervisor.wait_held(*id, 1, 60s));
  ::kill(supervisor.pid(*id), SIGUSR1);  // handled, with SA_RESTART
  EXPECT_FALSE(supervisor.wait_held(*id, 2, 500ms)) << "the signal restarted the call";
  EXPECT_EQ(supervisor.release(*id, "sync"), 1u);
  EXPECT_EQ(supervisor.wait(*id).exit_code, 0);
  int holds = 0;
  for (const auto& e : of_type(log, "syscall")) holds += e.text("decision") == "hold";
  EXPECT_EQ(holds, 1);
}

TEST(Supervisor, OutputCanGoToAPipe) {
  TempDir dir;
  EventLog log;
  Supervisor supervisor(log, 1);
  int out[2];
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  LaunchSpec spec{FB_SUT_FILE_WRITER, {dir.file("a.dat")}, {}, trap({"write"})};
  spec.stdout_fd = out[1];
  std::string error;
  auto id = supervisor.launch("w", spec, {}, error);
  ::close(out[1]);
  ASSERT_TRUE(id) << error;
  std::string text;
  char buffer[256];
  for (ssize_t n; (n = ::read(out[0], buffer, sizeof buffer)) > 0;)
    text.append(buffer, static_cast<std::size_t>(n));
  ::close(out[0]);
  EXPECT_EQ(supervisor.wait(*id).exit_code, 0);
  EXPECT_EQ(text, dir.file("a.dat") + ": ok\n");
}

TEST(Supervisor, RuleSetsComeAndGoWhileTheTargetRuns) {
  TempDir dir;
  EventLog log;
  Supervisor supervisor(log, 1);
  std::vector<std::string> files{dir.file("f1.dat"), dir.file("f2.dat"), dir.file("f3.dat")};
  LaunchSpec spec{FB_SUT_FILE_WRITER, files, {}, trap({"write", "open"})};
  spec.stdout_path = dir.file("out");
  std::string error;
  // Opening f2 and f3 parks the writer, so rules change at known points.
  auto id = supervisor.launch(
      "writer", spec, {hold("open", "**/f2.dat", "f2"), hold("open", "**/f3.dat", "f3")}, error);
  ASSERT_TRUE(id) << error;
  ASSERT_TRUE(supervisor.wait_held(*id, 1, 60s));
  auto set = supervisor.install(*id, {rule("write=ENOSPC")}, error);
  ASSERT_TRUE(set) << error;
  EXPECT_EQ(supervisor.release(*id, "f2"), 1u);
  ASSERT_TRUE(supervisor.wait_held(*id, 1, 60s));
  EXPECT_TRUE(supervisor.remove(*set));
  EXPECT_FALSE(supervisor.remove(*set));
  EXPECT_EQ(supervisor.release(*id, "f3"), 1u);
  EXPECT_EQ(supervisor.wait(*id).exit_code, 1);
  EXPECT_EQ(testing::read_file(dir.file("out")),
            files[0] + ": ok\n" + files[1] + ": ENOSPC\n" + files[2] + ": ok\n");
  // The log tells the same story, in order.
  std::vector<std::string> story;
  for (const auto& e : log.snapshot()) {
    if (e.type == "fault_applied" || e.type == "fault_removed") story.push_back(e.type);
    if (e.type == "syscall" && e.text("path").ends_with(".dat") && e.text("syscall") == "write")
      story.push_back(e.text("decision"));
  }
  // The first fault_applied is the launch's own rule set (the two holds).
  EXPECT_EQ(story,
            (std::vector<std::string>{"fault_applied", "allow", "fault_applied",
                                      "deny(no space left on device)", "fault_removed", "allow"}));
}

TEST(Supervisor, TwoTargetsEachGetTheirOwnListenerAndRules) {
  TempDir dir;
  EventLog log;
  Supervisor supervisor(log, 1);
  std::string a_file = dir.file("a.dat"), b_file = dir.file("b.dat");
  LaunchSpec a{FB_SUT_FILE_WRITER, {a_file}, {}, trap({"write", "open"})};
  a.stdout_path = dir.file("a.out");
  LaunchSpec b{FB_SUT_FILE_WRITER, {b_file}, {}, trap({"write", "open"})};
  b.stdout_path = dir.file("b.out");
  std::string error;
  // A stays parked at its open while B starts, so both listeners live at once (B's
  // child inherits A's listener until it closes what it inherited).
  auto ida =
      supervisor.launch("a", a, {rule("write=EIO:**/*.dat"), hold("open", "**/a.dat", "a")}, error);
  ASSERT_TRUE(ida) << error;
  ASSERT_TRUE(supervisor.wait_held(*ida, 1, 60s));
  auto idb = supervisor.launch("b", b, {rule("write=ENOSPC:**/*.dat")}, error);
  ASSERT_TRUE(idb) << error;
  EXPECT_EQ(supervisor.wait(*idb).exit_code, 1);
  EXPECT_EQ(supervisor.release(*ida, "a"), 1u);
  EXPECT_EQ(supervisor.wait(*ida).exit_code, 1);
  EXPECT_EQ(testing::read_file(dir.file("a.out")), a_file + ": EIO\n");
  EXPECT_EQ(testing::read_file(dir.file("b.out")), b_file + ": ENOSPC\n");
  for (const auto& e : of_type(log, "syscall")) {
    if (e.text("path") == a_file) {
      EXPECT_EQ(e.service, "a");
    }
    if (e.text("path") == b_file) {
      EXPECT_EQ(e.service, "b");
    }
  }
}

TEST(Supervisor, RulesOnFaultboxsOwnCallsCannotHideAnExecFailure) {
  EventLog log;
  Supervisor supervisor(log, 1);
  std::string error;
  // The child reports a failed exec with write() and ends with exit: neither may be
  // denied or parked, or the launch would look fine or never return.
  LaunchSpec spec{"/nonexistent/program", {}, {}, trap({"write", "exit_group"})};
  EXPECT_FALSE(supervisor.launch("t", spec, {rule("write=EIO")}, error));
  EXPECT_EQ(error, "cannot run /nonexistent/program: No such file or directory");
  EXPECT_FALSE(
      supervisor.launch("t", spec, {hold("write", "", "w"), hold("exit_group", "", "x")}, error));
  EXPECT_EQ(error, "cannot run /nonexistent/program: No such file or directory");
  EXPECT_EQ(log.size(), 0u) << "a launch that failed logs nothing";
}

TEST(Supervisor, ASetUpThatBlocksFailsTheLaunchInsteadOfHanging) {
  TempDir dir;
  std::string fifo = dir.file("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EventLog log;
  Supervisor supervisor(log, 1);
  LaunchSpec spec{"/bin/true", {}, {}, trap({"write"})};
  spec.stdout_path = fifo;  // opening a FIFO nobody reads blocks
  spec.start_timeout = 300ms;
  std::string error;
  EXPECT_FALSE(supervisor.launch("t", spec, {}, error));
  EXPECT_NE(error.find("did not reach its exec"), std::string::npos) << error;
  // The supervisor still serves other targets.
  auto id = supervisor.launch("ok", {"/bin/sh", {"-c", "exit 4"}, {}, trap({"write"})}, {}, error);
  ASSERT_TRUE(id) << error;
  EXPECT_EQ(supervisor.wait(*id).exit_code, 4);
}

std::size_t open_fds() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

TEST(Supervisor, ManyShortLivedProcessesDoNotUseUpOurFds) {
  TempDir dir;
  EventLog log;
  Supervisor supervisor(log, 1);
  std::size_t before = open_fds();
  std::string marker = dir.file("done");
  // 300 processes, each closing files: every close needs a path (the glob rule).
  std::string script = "for i in $(seq 300); do /bin/true; done; : > " + marker;
  std::string error;
  auto id =
      supervisor.launch("sh", {"/bin/sh", {"-c", script}, {}, trap({"close", "open"})},
                        {rule("close=EIO:**/nothing"), hold("open", "**/done", "end")}, error);
  ASSERT_TRUE(id) << error;
  ASSERT_TRUE(supervisor.wait_held(*id, 1, 120s));
  EXPECT_LT(open_fds(), before + 100) << "per-thread /proc directories must be capped";
  supervisor.release(*id, "end");
  EXPECT_EQ(supervisor.wait(*id).exit_code, 0);
}

TEST(Supervisor, AnIgnoredSigchldDoesNotLoseExitStatuses) {
  struct sigaction ignore {
  }, old{};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGCHLD, &ignore, &old);
  std::string error;
  auto result = run_supervised({"/bin/sh", {"-c", "exit 5"}, {}, trap({"write"})}, {}, 1, error);
  ::sigaction(SIGCHLD, &old, nullptr);
  ASSERT_TRUE(result) << error;
  EXPECT_EQ(result->exit_code, 5);
}

TEST(Supervisor, ARuleForAnUntrappedSyscallIsRefused) {
  EventLog log;
  Supervisor supervisor(log, 1);
  std::string error;
  LaunchSpec spec{"/bin/true", {}, {}, trap({"write"})};
  EXPECT_FALSE(supervisor.launch("t", spec, {rule("fsync=EIO")}, error));
  EXPECT_NE(error.find("fsync"), std::string::npos) << error;
  EXPECT_NE(error.find("does not trap"), std::string::npos) << error;
}

TEST(Supervisor, EveryThreadIsDecidedAndCountedOnce) {
  TempDir dir;
  EventLog log;
  Supervisor supervisor(log, 1);
  LaunchSpec spec{FB_SUT_PROBE, {"threads", "8", dir.file("t.log")}, {}, trap({"write"})};
  spec.stdout_path = dir.file("out");
  std::string error;
  // Four writes go through and four fail, whichever threads get there first.
  auto id = supervisor.launch("mt", spec, {rule("write=EIO:**/t.log:after=4")}, error);
  ASSERT_TRUE(id) << error;
  ExitStatus status = supervisor.wait(*id);
  EXPECT_EQ(status.exit_code, 4);
  EXPECT_EQ(testing::read_file(dir.file("out")), "ok 4 fail 4\n");
  std::set<std::int64_t> tids;
  int denied = 0;
  for (const auto& e : of_type(log, "syscall")) {
    if (!e.text("path").ends_with("t.log")) continue;
    tids.insert(std::get<std::int64_t>(*e.field("tid")));
    EXPECT_EQ(e.text("pid"), std::to_string(supervisor.pid(*id)));
    if (e.text("errno") == "EIO") ++denied;
  }
  EXPECT_EQ(tids.size(), 8u);
  EXPECT_EQ(denied, 4);
}

TEST(Supervisor, SocketsAreNamedByTheirEndpoints) {
  int server = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(server, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(server, 8), 0);
  socklen_t size = sizeof address;
  ::getsockname(server, reinterpret_cast<sockaddr*>(&address), &size);
  std::string port = std::to_string(ntohs(address.sin_port));
  TempDir dir;
  for (bool refuse : {true, false}) {
    EventLog log;
    Supervisor supervisor(log, 1);
    LaunchSpec spec{FB_SUT_PROBE, {"connect", port}, {}, trap({"connect", "write"})};
    spec.stdout_path = dir.file("out");
    std::vector<FaultRule> rules;
    if (refuse) {
      rules.push_back(rule("connect=ECONNREFUSED"));
      rules.back().path_glob = "*:" + port;  // the --fault grammar cannot carry a ':'
    }
    std::string error;
    auto id = supervisor.launch("client", spec, rules, error);
    ASSERT_TRUE(id) << error;
    supervisor.wait(*id);
    EXPECT_EQ(testing::read_file(dir.file("out")),
              refuse ? "connect ECONNREFUSED\n" : "connect ok\n");
    std::string connect_path, write_path;
    for (const auto& e : of_type(log, "syscall")) {
      if (e.text("syscall") == "connect") connect_path = e.text("path");
      if (e.text("syscall") == "write" && e.text("path").starts_with("socket"))
        write_path = e.text("path");
    }
    EXPECT_EQ(connect_path, "socket:tcp:127.0.0.1:" + port);
    if (!refuse) {
      EXPECT_TRUE(write_path.starts_with("socket:tcp:127.0.0.1:")) << write_path;
      EXPECT_TRUE(write_path.ends_with("->127.0.0.1:" + port)) << write_path;
    }
  }
  ::close(server);
}

TEST(Supervisor, WithoutRecordPathsOnlyCallsThatNeedAPathGetOne) {
  TempDir dir;
  EventLog log;
  Supervisor supervisor(log, 1);
  std::string wal = dir.file("a.wal"), other = dir.file("b.log");
  LaunchSpec spec{FB_SUT_FILE_WRITER, {wal, other}, {}, trap({"write", "close"})};
  spec.stdout_path = dir.file("out");
  spec.record_paths = false;
  std::string error;
  // The glob rule needs the path of every write to decide; no rule needs a close's.
  auto id = supervisor.launch("w", spec, {rule("write=EIO:**/*.wal")}, error);
  ASSERT_TRUE(id) << error;
  EXPECT_EQ(supervisor.wait(*id).exit_code, 1);
  EXPECT_EQ(testing::read_file(dir.file("out")), wal + ": EIO\n" + other + ": ok\n");
  int writes = 0, writes_with_path = 0, closes = 0, closes_with_path = 0;
  for (const auto& e : of_type(log, "syscall")) {
    bool has_path = e.field("path") != nullptr;
    if (e.text("syscall") == "write") ++writes, writes_with_path += has_path;
    if (e.text("syscall") == "close") ++closes, closes_with_path += has_path;
  }
  EXPECT_GE(writes, 2);
  EXPECT_EQ(writes_with_path, writes);
  EXPECT_GE(closes, 2);
  EXPECT_EQ(closes_with_path, 0) << "an allowed call logs no path unless asked to";
}

TEST(Supervisor, LifecycleEventsFrameTheRunWithClocks) {
  EventLog log;
  {
    Supervisor supervisor(log, 1);
    std::string error;
    auto id = supervisor.launch("sh", {"/bin/sh", {"-c", "exit 3"}, {}, trap({"write"})},
                                {rule("write=EIO")}, error);
    ASSERT_TRUE(id) << error;
    EXPECT_EQ(supervisor.wait(*id).exit_code, 3);
  }
  auto events = log.snapshot();
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.front().type, "service_started");
  EXPECT_EQ(events[1].type, "fault_applied");
  EXPECT_EQ(events[1].text("rules"), "write=EIO");
  EXPECT_EQ(events.back().type, "service_exited");
  EXPECT_EQ(events.back().text("code"), "3");
  for (std::size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].seq, i + 1);
    EXPECT_EQ(events[i].clock.at("sh"), i + 1);
  }
}

TEST(Supervisor, SyncWakeUpIsUsedWhereTheKernelHasIt) {
  utsname name{};
  ::uname(&name);
  int major = 0, minor = 0;
  std::sscanf(name.release, "%d.%d", &major, &minor);
  EventLog log;
  Supervisor supervisor(log, 1);
  std::string error;
  auto id = supervisor.launch("t", {"/bin/true", {}, {}, trap({"write"})}, {}, error);
  ASSERT_TRUE(id) << error;
  supervisor.wait(*id);
  EXPECT_EQ(supervisor.sync_wake_up(), major > 6 || (major == 6 && minor >= 6)) << name.release;
}

bool wait_for_file(const std::string& path, const std::string& needle) {
  // Bounded only so that a broken build fails instead of hanging; not a timing goal.
  for (int i = 0; i < 600; ++i) {
    if (testing::read_file(path).find(needle) != std::string::npos) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

TEST(Supervisor, WhatATargetLeavesBehindIsKilledAndReaped) {
  TempDir dir;
  EventLog log;
  Supervisor supervisor(log, 1);
  std::string pidfile = dir.file("pid");
  std::string error;
  // The shell leaves a sleeper in its group and exits: the sleeper is orphaned,
  // re-parented to this process (the supervisor made it a subreaper), and must neither
  // run on nor stay a zombie.
  auto id = supervisor.launch(
      "sh", {"/bin/sh", {"-c", "sleep 600 & echo $! > " + pidfile}, {}, trap({"write"})}, {},
      error);
  ASSERT_TRUE(id) << error;
  EXPECT_EQ(supervisor.wait(*id).exit_code, 0);
  pid_t sleeper = std::stoi(testing::read_file(pidfile));
  bool gone = false;
  // Bounded only so that a broken build fails instead of hanging; not a timing goal.
  for (int i = 0; i < 600 && !gone; ++i) {
    gone = ::kill(sleeper, 0) != 0 && errno == ESRCH;
    if (!gone) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(gone) << "pid " << sleeper << " is still there";
}

TEST(Supervisor, WhenFaultboxDiesTrappedCallsFailInsteadOfHanging) {
  TempDir dir;
  // Orphans come to this process, so the test can reap them.
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  int pids[2];
  ASSERT_EQ(::pipe(pids), 0);
  pid_t helper = ::fork();
  if (helper == 0) {
    // A stand-in for faultbox: supervise a target, then get killed without warning.
    ::close(pids[0]);
    EventLog log;
    Supervisor supervisor(log, 1);
    LaunchSpec spec{FB_SUT_PROBE, {"escape", dir.file("marker")}, {}, trap({"fsync"})};
    spec.stdout_path = dir.file("out");
    std::string error;
    auto id = supervisor.launch("target", spec, {}, error);
    pid_t target = id ? supervisor.pid(*id) : -1;
    (void)!::write(pids[1], &target, sizeof target);
    for (;;) ::pause();
  }
  ::close(pids[1]);
  pid_t target = -1;
  ASSERT_EQ(::read(pids[0], &target, sizeof target), static_cast<ssize_t>(sizeof target));
  ::close(pids[0]);
  ASSERT_GT(target, 0);
  ASSERT_TRUE(wait_for_file(dir.file("out"), "child "));
  pid_t escapee = std::stoi(testing::read_file(dir.file("out")).substr(6));
  ::kill(helper, SIGKILL);
  ::waitpid(helper, nullptr, 0);
  // The target dies with faultbox (PR_SET_PDEATHSIG and the watchdog); the child that
  // left its session survives, and its next trapped call fails with ENOSYS.
  int status = 0;
  ASSERT_EQ(::waitpid(target, &status, 0), target);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  ASSERT_TRUE(wait_for_file(dir.file("marker"), "ENOSYS"))
      << testing::read_file(dir.file("marker"));
  EXPECT_EQ(::waitpid(escapee, &status, 0), escapee);
}

}  // namespace
}  // namespace fb::runtime
