// What probing as an attacker and as a busy CI machine found, each case run against the
// real binary (label: security): names that would reach outside the spec's folder, two
// runs of one spec at once, programs that crashed or exhausted memory, and a listener
// that is not the service's.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/unit/cli/faultbox_process.h"
#include "tests/unit/test_support.h"

namespace {

namespace fs = std::filesystem;
using fb::testing::Finished;
using fb::testing::read_file;

/// A folder of the test's: D/spec holds the spec, and D itself is "outside" it.
struct Sandbox {
  fs::path root = fs::temp_directory_path() / ("fb-security-" + std::to_string(::getpid()));
  fs::path spec_dir = root / "spec";
  Sandbox() {
    fs::remove_all(root);
    fs::create_directories(spec_dir);
  }
  ~Sandbox() { fs::remove_all(root); }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(spec_dir / name) << text;
  }
  Finished faultbox(std::vector<std::string> args) const {
    return fb::testing::run_in(spec_dir, FB_FAULTBOX, std::move(args));
  }
};

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (std::size_t at = 0; (at = text.find(from, at)) != std::string::npos; at += to.size())
    text.replace(at, from.size(), to);
  return text;
}

TEST(Security, NamesCannotReachOutsideTheSpecsFolder) {
  Sandbox box;
  // What the names would have reached: logs/test_x/../../../../v is D/v, and a service
  // "../../../../victim/evil" logs to D/victim/evil.stdout.
  fs::create_directories(box.root / "v");
  std::ofstream(box.root / "v" / "keep.txt") << "precious";
  fs::create_directories(box.root / "victim");
  box.write("literal.star", R"(def body():
    pass

test("x/../../../../v", body)
evil = service("../../../../victim/evil", "/bin/true")
)");
  Finished check = box.faultbox({"check", "literal.star"});
  EXPECT_EQ(check.code, 2) << check.err;
  EXPECT_NE(check.err.find("literal.star:4:6: error[SPEC_BAD_NAME]: test(): a test name may not "
                           "contain '/' (at position 2): names may use letters, digits, '_', "
                           "'-' and '.'"),
            std::string::npos)
      << check.err;
  EXPECT_NE(check.err.find("literal.star:5:16: error[SPEC_BAD_NAME]: service(): a service name "
                           "may not contain '/'"),
            std::string::npos)
      << check.err;
  // Built at run time, the names get past the static check; the builtins refuse them.
  box.write("computed.star", R"(def body():
    pass

up = "../../../../"
test("x/" + up + "v", body)
def test_svc():
    pass
)");
  Finished computed_check = box.faultbox({"check", "computed.star"});
  EXPECT_EQ(computed_check.code, 2);
  EXPECT_NE(computed_check.err.find("computed.star:5:5: error[SPEC_LOAD_FAILED]"),
            std::string::npos)
      << computed_check.err;
  for (const char* spec : {"literal.star", "computed.star"})
    for (int run = 0; run < 2; ++run) {
      Finished test = box.faultbox({"test", spec, "--seed", "1"});
      EXPECT_EQ(test.code, 1) << spec << test.out << test.err;
      EXPECT_NE(test.err.find("a test name may not contain '/'"), std::string::npos) << test.err;
    }
  EXPECT_EQ(read_file(box.root / "v" / "keep.txt"), "precious");
  EXPECT_TRUE(fs::is_empty(box.root / "victim"));
}

TEST(Security, AServiceNamedWithOddCharactersStillLogsInsideItsRun) {
  // Letters, digits, '_', '-' and '.' are all a name may hold; the log files of a
  // service named with dots stay in the run's folder, created 0600 in folders 0700.
  Sandbox box;
  box.write("faultbox.star", std::string(R"(
svc = service("my.svc-1", "/bin/sh", interface("main", "http", 18431),
              args = ["-c", "echo secret-output; exec )") +
                                 FB_SUT_PROBE + R"( http 18431"],
              healthcheck = http("localhost:18431/health"))
def test_a():
    assert_eq(1, 1)
)");
  ::umask(0);  // the modes must not depend on it
  Finished r = box.faultbox({"test", "--seed", "1"});
  ::umask(022);
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  fs::path latest = box.spec_dir / ".faultbox" / "runs" / "latest";
  ASSERT_TRUE(fs::is_symlink(latest));
  fs::path log = latest / "logs" / "test_a" / "my.svc-1.stdout";
  EXPECT_EQ(read_file(log), "secret-output\n");
  struct stat st {};
  ASSERT_EQ(::stat(log.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  for (fs::path dir : {box.spec_dir / ".faultbox" / "runs", fs::path(latest), latest / "logs",
                       latest / "logs" / "test_a"}) {
    ASSERT_EQ(::stat(dir.c_str(), &st), 0) << dir;
    EXPECT_EQ(st.st_mode & 0777, 0700u) << dir;
  }
}

TEST(Security, ASymlinkPlantedInTheLogsFolderIsNotFollowed) {
  Sandbox box;
  fs::create_directories(box.root / "outside");
  fs::create_directories(box.root / "logs");
  fs::create_directory_symlink(box.root / "outside", box.root / "logs" / "test_a");
  box.write("faultbox.star", R"(
svc = service("svc", "/bin/sh", args = ["-c", "echo hi; sleep 30"], healthcheck = None)
def test_a():
    assert_eq(1, 1)
)");
  Finished r = box.faultbox({"test", "--seed", "1", "--logs", (box.root / "logs").string()});
  EXPECT_EQ(r.code, 2) << r.out << r.err;
  EXPECT_NE(r.out.find("ERROR test_a"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[LOGS_UNWRITABLE]"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::is_empty(box.root / "outside"));
}

TEST(Security, TwoRunsOfOneSpecAtOnceNeverTestEachOther) {
  // The quickstart, on ports of its own, started twice at the same moment ten times:
  // each run either tests its own services (the six passes and the planted bug's
  // failure) or stops before its first test, naming the run that holds the ports.
  std::string text = read_file(fb::testing::source_dir() / "examples/quickstart/faultbox.star");
  text = replace_all(text, "build/examples/quickstart/kvstore", FB_QUICKSTART_KVSTORE);
  text = replace_all(text, "build/examples/quickstart/api", FB_QUICKSTART_API);
  text = replace_all(text, "examples/quickstart/.faultbox/kv.wal", "kv.wal");
  text = replace_all(replace_all(text, "17001", "18411"), "17080", "18480");
  Sandbox box;
  box.write("faultbox.star", text);
  const char* passing[] = {"test_put_then_get",
                           "test_wal_is_synced_before_the_reply",
                           "test_store_keeps_nothing_it_could_not_log",
                           "test_slow_store_connection",
                           "test_store_unreachable",
                           "test_wal_write_denied"};
  int complete = 0, refused = 0, wrong = 0;
  for (int rep = 0; rep < 10; ++rep) {
    pid_t pids[2];
    for (int i = 0; i < 2; ++i) {
      std::string n = std::to_string(i);
      pids[i] = fb::testing::start_in(box.spec_dir, FB_FAULTBOX, {"test", "--seed", "1"},
                                      (box.spec_dir / ("out" + n)).string(),
                                      (box.spec_dir / ("err" + n)).string());
    }
    for (int i = 0; i < 2; ++i) {
      std::string n = std::to_string(i);
      Finished r =
          fb::testing::finish(pids[i], box.spec_dir / ("out" + n), box.spec_dir / ("err" + n));
      bool right = r.code == 2 &&
                   r.out.find("FAIL test_api_reports_store_failures") != std::string::npos &&
                   r.out.find("\n6 passed, 1 failed\n") != std::string::npos;
      for (const char* name : passing)
        right &= r.out.find(std::string("PASS ") + name + " (") != std::string::npos;
      if (right) {
        ++complete;
      } else if (r.code == 1 && r.out.empty() &&
                 r.err.find("is claimed by another faultbox run (pid ") != std::string::npos) {
        ++refused;
      } else {
        ++wrong;
        ADD_FAILURE() << "rep " << rep << " run " << i << ": exit " << r.code << "\n"
                      << r.out << r.err;
      }
    }
  }
  EXPECT_EQ(wrong, 0);
  EXPECT_GE(complete, 10) << "each pair had a run that tested its services";
  EXPECT_GE(refused, 1) << "no pair overlapped, so nothing was tested";
  // The runs wrote in folders of their own.
  std::size_t runs = 0;
  for (const auto& e : fs::directory_iterator(box.spec_dir / ".faultbox" / "runs"))
    runs += e.is_directory() && !e.is_symlink();
  EXPECT_EQ(runs, 20u);
}

/// A listener outside faultbox: the HTTP probe on `port`, until destroyed.
struct Stranger {
  pid_t pid;
  explicit Stranger(int port) {
    pid = ::fork();
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // gone with the test, however it ends
      ::execl(FB_SUT_PROBE, FB_SUT_PROBE, "http", std::to_string(port).c_str(), nullptr);
      ::_exit(127);
    }
    for (int i = 0; i < 200 && !listening(port); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ~Stranger() {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  static bool listening(int port) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "%04X", port);
    return read_file("/proc/net/tcp").find(std::string(":") + hex + " 00000000:0000 0A") !=
           std::string::npos;
  }
};

/// A spec whose service "web" is the HTTP probe on `port`, its healthcheck asking `checked`.
std::string probe_web(int port, int checked) {
  std::string p = std::to_string(port), c = std::to_string(checked);
  return std::string("web = service('web', '") + FB_SUT_PROBE + "', interface('main', 'http', " +
         p + "),\n    args = ['http', '" + p + "'], healthcheck = http('localhost:" + c +
         "/health'))\ndef test_a():\n    assert_eq(1, 1)\n";
}

TEST(Security, AHealthcheckAnsweredByAnotherProgramIsPortInUse) {
  Stranger stranger(18421);
  Sandbox box;
  // The service listens on 18422, but its healthcheck asks 18421, where the stranger
  // answers: that is not the service being ready.
  box.write("faultbox.star", probe_web(18422, 18421));
  Finished r = box.faultbox({"test", "--seed", "1", "--format", "json"});
  EXPECT_EQ(r.code, 2) << r.out << r.err;
  auto report = nlohmann::json::parse(r.out);
  const auto& test = report["tests"][0];
  EXPECT_EQ(test["result"], "error") << test.dump(2);
  EXPECT_EQ(test["error_code"], "PORT_IN_USE") << test.dump(2);
  std::string reason = test["reason"];
  EXPECT_NE(reason.find("port 18421 of service \"web\" is held by pid " +
                        std::to_string(stranger.pid) + " ("),
            std::string::npos)
      << reason;
  EXPECT_NE(reason.find("sut_probe http 18421"), std::string::npos) << reason;

  // A stranger on the service's own port is named at once, before the service starts.
  box.write("own.star", probe_web(18421, 18421));
  auto started = std::chrono::steady_clock::now();
  Finished own = box.faultbox({"test", "own.star", "--seed", "1"});
  EXPECT_EQ(own.code, 2) << own.out << own.err;
  EXPECT_NE(own.out.find("[PORT_IN_USE]"), std::string::npos) << own.out;
  EXPECT_NE(own.out.find("port 18421 of web.main is in use by pid " + std::to_string(stranger.pid)),
            std::string::npos)
      << own.out;
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(8))
      << "another program's port is not waited for";
}

TEST(Security, CredentialsNeverReachTheReportOrTheTrace) {
  if (::access("/usr/bin/redis-server", X_OK) != 0)
    GTEST_SKIP() << "needs redis-server (tools/bootstrap installs it)";
  Sandbox box;
  box.write("faultbox.star", std::string(R"(
load("@faultbox/recipes/redis.star", "redis")
cache = service("cache", "/usr/bin/redis-server", interface("main", "redis", 18441),
                args = ["--port", "18441", "--bind", "127.0.0.1", "--save", "",
                        "--requirepass", "redis-SECRET-ARG"],
                env = {"REDIS_PASSWORD": "redis-SECRET-ARG", "DSN": "redis://u:url-SECRET@x/0"},
                healthcheck = ready())
web = service("web", ")") + FB_SUT_PROBE +
                                 R"(", interface("raw", "tcp", 18442),
              args = ["http", "18442"], healthcheck = tcp("localhost:18442"))

def test_oom_spares_the_log_in():
    # key="*" matches every command but the connection's set-up: the AUTH the step's
    # client sends first goes through, and the GET gets the error.
    r = fault(cache.main, redis.oom(), run = lambda: cache.main.get(key = "k"))
    assert_eq(r.error, "redis error: OOM command not allowed when used memory > 'maxmemory'.")

def test_auth_is_faulted_only_by_name():
    r = fault(cache.main, error(command = "AUTH", message = "WRONGPASS no"),
              run = lambda: cache.main.get(key = "k"))
    assert_eq(r.ok, False)

def test_headers_in_first_bytes():
    data = "GET /x HTTP/1.1\r\nAuthorization: Bearer hdr-SECRET-VALUE\r\n\r\n"
    r = fault(web.raw, response(method = "GET", body = "refused"),
              run = lambda: web.raw.send(data = data))
    assert_eq(r, "refused")

def test_positive_controls():
    assert_true(cache.main.set(key = "k", value = "v").ok)
    assert_true(web.raw.send(data = "GET /health HTTP/1.1\r\n\r\n").startswith("HTTP/1.1 200"))
)");
  Finished r =
      box.faultbox({"test", "--seed", "1", "--output", "report.json", "--normalize", "trace.txt"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  std::string report = read_file(box.spec_dir / "report.json");
  std::string trace = read_file(box.spec_dir / "trace.txt");
  for (const std::string& text : {report, trace, r.out, r.err})
    for (const char* secret : {"redis-SECRET-ARG", "hdr-SECRET-VALUE", "url-SECRET"})
      EXPECT_EQ(text.find(secret), std::string::npos) << secret << " in:\n" << text.substr(0, 4000);
  // What stood there is still there, redacted: the rule fired on the AUTH it named, and
  // the header's name is kept.
  EXPECT_NE(report.find("\"first_bytes\": \"AUTH <redacted>\""), std::string::npos) << report;
  EXPECT_NE(report.find("Authorization: <redacted>"), std::string::npos);
  struct stat st {};
  ASSERT_EQ(::stat((box.spec_dir / "report.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  Finished dry = box.faultbox({"test", "--dry-run"});
  EXPECT_NE(dry.out.find("env: REDIS_PASSWORD=<redacted> DSN=redis://<redacted>@x/0"),
            std::string::npos)
      << dry.out;
}

TEST(Security, ProgramsThatCrashedOrExhaustedMemoryEndInErrors) {
  Sandbox box;
  struct Case {
    const char* name;
    const char* text;
    const char* error;
  } cases[] = {
      {"cycle.star", "a = [1]; a.append(a); print(a == a)\n",
       "comparison exceeded maximum recursion depth"},
      {"dict.star", "d = {}\nd['k'] = d\nprint(d == {'k': d})\n",
       "comparison exceeded maximum recursion depth"},
      {"deep.star",
       "def d(n):\n    x = []\n    for i in range(n):\n        x = [x]\n    return x\n"
       "print(d(200000) == d(200000))\n",
       "values nested more than 1000 deep"},
      {"double.star", "x = [0]\nfor i in range(100):\n    x = x + x\n",
       "memory budget of 64 MiB exceeded"},
      {"strings.star", "s = 'ab'\nfor i in range(100):\n    s = s + s\n",
       "memory budget of 64 MiB exceeded"},
      {"range.star", "l = [i for i in range(100000000)]\n", "memory budget of 64 MiB exceeded"},
  };
  for (const auto& c : cases) {
    box.write(c.name, c.text);
    Finished r = box.faultbox({"eval", c.name, "--max-memory", "64MiB"});
    EXPECT_EQ(r.code, 1) << c.name << "\n" << r.err;
    EXPECT_NE(r.err.find("Traceback (most recent call last):"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.error), std::string::npos) << c.name << "\n" << r.err;
  }
  // A global nested 300,000 deep loads (freezing it does not recurse), and prints.
  box.write("global.star", "x = []\nfor i in range(300000):\n    x = [x]\nprint(len(repr(x)))\n");
  Finished global = box.faultbox({"eval", "global.star"});
  EXPECT_EQ(global.code, 0) << global.err;
  EXPECT_EQ(global.out, "600002\n");

  // In a test body: the test errors, the others run, and the report is written.
  box.write("faultbox.star", R"(
deep = []
for i in range(300000):
    deep = [deep]

def nest(n):
    x = []
    for i in range(n):
        x = [x]
    return x

def test_deep_assert():
    assert_eq(nest(150000), nest(150000))

def test_hog():
    x = [0]
    for i in range(100):
        x = x + x

def test_fine():
    assert_eq(len(deep), 1)
)");
  Finished dry = box.faultbox({"test", "--dry-run"});
  EXPECT_EQ(dry.code, 0) << dry.err;
  EXPECT_NE(dry.out.find("tests (3):"), std::string::npos) << dry.out;
  Finished r = box.faultbox({"test", "--seed", "1", "--max-memory", "64MiB", "--output", "r.json"});
  EXPECT_EQ(r.code, 2) << r.out << r.err;
  EXPECT_NE(r.out.find("ERROR test_deep_assert"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ERROR test_hog"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[SPEC_LIMIT_EXCEEDED]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("faultbox.star:18:15: in test_hog"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("PASS test_fine"), std::string::npos) << r.out;
  auto report = nlohmann::json::parse(read_file(box.spec_dir / "r.json"));
  EXPECT_EQ(report["errored"], 2) << r.out;
}

}  // namespace
