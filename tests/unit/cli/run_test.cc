// `faultbox run` as a user runs it: the real binary, real targets, real signals
// (label: syscall).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "tests/unit/cli/faultbox_process.h"
#include "tests/unit/test_support.h"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("fb-run-" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

/// Starts faultbox with `args` in `dir`, its stdout and stderr going to files there.
pid_t spawn(const TempDir& dir, std::vector<std::string> args) {
  return fb::testing::start_in(dir.path, FB_FAULTBOX, std::move(args), dir.file("stdout"),
                               dir.file("stderr"));
}

using Outcome = fb::testing::Finished;

Outcome run(const TempDir& dir, std::vector<std::string> args) {
  return fb::testing::finish(spawn(dir, std::move(args)), dir.file("stdout"), dir.file("stderr"));
}

TEST(RunCommand, FaultsHitOnlyWhatTheyNameAndTheExitCodeIsTheTargets) {
  TempDir dir;
  std::string wal = dir.file("a.wal"), log = dir.file("b.log");
  auto r = run(dir, {"run", "--fault", "write=EIO:**/*.wal", "--", FB_SUT_FILE_WRITER, wal, log});
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_EQ(r.out, wal + ": EIO\n" + log + ": ok\n");
  // faultbox's flags end at the binary: the target's own flags reach it untouched.
  r = run(dir, {"run", "/bin/sh", "-c", "exit 7", "--fault"});
  EXPECT_EQ(r.code, 7) << r.err;
  r = run(dir, {"run", "/bin/sh", "-c", "kill -KILL $$"});
  EXPECT_EQ(r.code, 128 + SIGKILL);
  r = run(dir, {"run", "--env", "FB_RUN_TEST=42", "/bin/sh", "-c", "echo $FB_RUN_TEST"});
  EXPECT_EQ(r.out, "42\n");
}

TEST(RunCommand, ARuleWithoutAGlobLeavesSystemFilesAlone) {
  TempDir dir;
  std::string data = dir.file("data");
  { std::ofstream(data) << "payload\n"; }
  // head loads libc with read() before it reads the file: only the file's read fails.
  auto r = run(dir, {"run", "--fault", "read=EIO", "--events", dir.file("events"), "/usr/bin/head",
                     "-n1", data});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("error reading '" + data + "': Input/output error"), std::string::npos)
      << r.err;
  std::string events = fb::testing::read_file(dir.file("events"));
  EXPECT_NE(events.find("libc.so.6\",\"decision\":\"allow (system path)\""), std::string::npos);
  EXPECT_NE(events.find(data + "\",\"decision\":\"deny(input/output error)\""), std::string::npos);
}

TEST(RunCommand, BadInputIsAFaultboxErrorNamingThePart) {
  TempDir dir;
  std::string data = dir.file("data");  // not executable
  { std::ofstream(data) << "x"; }
  struct Case {
    std::vector<std::string> args;
    std::string message;
  } cases[] = {
      {{"run", "--fault", "wrte=EIO", "true"},
       "unknown syscall \"wrte\" on x86_64 (did you mean \"write\"?)"},
      {{"run", "--fault", "write=EIOO", "true"}, "unknown errno \"EIOO\" (did you mean \"EIO\"?)"},
      {{"run", "--fault", "write=EIO:150%", "true"}, "probability \"150%\" is outside 0%..100%"},
      {{"run", "--fault", "write=EIO:nth=0", "true"}, "nth= wants a count from 1"},
      {{"run", "--fault", "write=delay:soon", "true"}, "invalid duration \"soon\""},
      {{"run", "--fault", "write", "true"}, "expected SYSCALL=ERRNO or SYSCALL=delay:DURATION"},
      {{"run", "--seed", "-3", "true"}, "--seed wants a non-negative integer, got '-3'"},
      {{"run", "--env", "NOEQUALS", "true"}, "--env wants KEY=VALUE, got 'NOEQUALS'"},
      {{"run", "--timeout", "0s", "true"}, "--timeout: wants a positive duration"},
      {{"run", "--faults", "write=EIO", "true"},
       "unknown flag '--faults' (did you mean '--fault'?)"},
      {{"run"}, "expects a BINARY to run"},
      {{"run", "/nonexistent/binary"}, "cannot run /nonexistent/binary: No such file or directory"},
      {{"run", data}, "cannot run " + data + ": Permission denied"},
      {{"run", "no-such-program-anywhere"}, "cannot run no-such-program-anywhere: No such file"},
  };
  for (const auto& c : cases) {
    auto r = run(dir, c.args);
    EXPECT_EQ(r.code, 1) << c.message;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
  }
}

TEST(RunCommand, EventsAreJsonLinesWithClocks) {
  TempDir dir;
  std::string wal = dir.file("a.wal");
  auto r = run(dir, {"run", "--fault", "write=ENOSPC:**/*.wal", "--events", dir.file("events"),
                     FB_SUT_FILE_WRITER, wal});
  ASSERT_EQ(r.code, 1) << r.err;
  std::istringstream lines(fb::testing::read_file(dir.file("events")));
  std::vector<nlohmann::json> events;
  for (std::string line; std::getline(lines, line);) events.push_back(nlohmann::json::parse(line));
  ASSERT_GE(events.size(), 4u);
  EXPECT_EQ(events.front()["type"], "service_started");
  EXPECT_EQ(events.back()["type"], "service_exited");
  EXPECT_EQ(events.back()["fields"]["code"], 1);
  bool denied = false;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    EXPECT_EQ(e["seq"], i + 1);
    EXPECT_EQ(e["service"], "sut_file_writer");
    EXPECT_EQ(e["vector_clock"]["sut_file_writer"], i + 1);
    if (e["type"] == "syscall" && e["fields"]["path"] == wal) {
      EXPECT_EQ(e["fields"]["decision"], "deny(no space left on device)");
      EXPECT_EQ(e["fields"]["errno"], "ENOSPC");
      EXPECT_TRUE(e["fields"]["latency_us"].is_number());
      denied = true;
    }
  }
  EXPECT_TRUE(denied);
}

std::vector<pid_t> wait_for_pids(const std::string& path) {
  // Bounded only so that a broken build fails instead of hanging; not a timing goal.
  for (int i = 0; i < 600 && !fs::exists(path); ++i) std::this_thread::sleep_for(50ms);
  std::istringstream in(fb::testing::read_file(path));
  std::vector<pid_t> pids;
  for (pid_t p; in >> p;) pids.push_back(p);
  return pids;
}

/// True once none of `pids` exists; zombies re-parented to this test are reaped.
bool all_gone(const std::vector<pid_t>& pids) {
  for (int i = 0; i < 600; ++i) {
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    bool any = false;
    for (pid_t p : pids) any = any || ::kill(p, 0) == 0 || errno != ESRCH;
    if (!any) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

TEST(RunCommand, InterruptingFaultboxLeavesNoProcessBehind) {
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  for (int signal : {SIGINT, SIGTERM, SIGKILL}) {
    TempDir dir;
    std::string pidfile = dir.file("pids");
    pid_t faultbox = spawn(dir, {"run", "--fault", "fsync=EIO", FB_SUT_PROBE, "tree", pidfile});
    auto pids = wait_for_pids(pidfile);
    ASSERT_EQ(pids.size(), 3u) << fb::testing::read_file(dir.file("stderr"));
    ::kill(faultbox, signal);
    int status = 0;
    ASSERT_EQ(::waitpid(faultbox, &status, 0), faultbox);
    if (signal == SIGKILL) {
      EXPECT_TRUE(WIFSIGNALED(status));
    } else {
      EXPECT_TRUE(WIFEXITED(status));
      EXPECT_EQ(WEXITSTATUS(status), 128 + signal);
      EXPECT_NE(fb::testing::read_file(dir.file("stderr")).find("interrupted by SIG"),
                std::string::npos);
    }
    EXPECT_TRUE(all_gone(pids)) << "signal " << signal;
  }
}

TEST(RunCommand, AnInteractiveTargetGetsTheTerminal) {
  // faultbox runs in the foreground of a fresh pseudo-terminal, as from a shell. The
  // target, in its own process group, can read the terminal only if faultbox handed it
  // over; otherwise SIGTTIN stops it and nothing comes back.
  int master = ::posix_openpt(O_RDWR | O_NOCTTY);
  ASSERT_GE(master, 0);
  ASSERT_EQ(::grantpt(master), 0);
  ASSERT_EQ(::unlockpt(master), 0);
  std::string slave = ::ptsname(master);
  pid_t faultbox = ::fork();
  if (faultbox == 0) {
    ::setsid();
    int tty = ::open(slave.c_str(), O_RDWR);  // becomes the controlling terminal
    ::dup2(tty, 0);
    ::dup2(tty, 1);
    ::dup2(tty, 2);
    ::execl(FB_FAULTBOX, FB_FAULTBOX, "run", "--fault", "fsync=EIO", "/bin/sh", "-c",
            "read line; echo \"got $line\"", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ASSERT_EQ(::write(master, "hello\n", 6), 6);
  std::string seen;
  char buffer[256];
  // Bounded only so that a broken build fails instead of hanging; not a timing goal.
  for (int i = 0; i < 400 && seen.find("got hello") == std::string::npos; ++i) {
    pollfd p{master, POLLIN, 0};
    if (::poll(&p, 1, 50) > 0) {
      ssize_t n = ::read(master, buffer, sizeof buffer);
      if (n > 0) seen.append(buffer, static_cast<std::size_t>(n));
    }
  }
  EXPECT_NE(seen.find("got hello"), std::string::npos) << seen;
  if (seen.find("got hello") == std::string::npos) ::kill(faultbox, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(faultbox, &status, 0), faultbox);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  ::close(master);
}

TEST(RunCommand, ATimeoutStopsTheTarget) {
  TempDir dir;
  auto r = run(dir, {"run", "--timeout", "200ms", "/bin/sleep", "600"});
  EXPECT_EQ(r.code, 128 + SIGTERM);
  EXPECT_NE(r.err.find("ran past --timeout"), std::string::npos) << r.err;
}

}  // namespace
