#pragma once
/// Running a spec's tests: loads the spec once, then runs each `def test_*` with freshly
/// started services (dependency order, ports checked free, healthchecks), and stops
/// every service after it, whatever happened.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "runtime/event_log.h"
#include "stdlib/session.h"
#include "tools/cli/loader.h"
#include "vm/thread.h"

namespace fb::cli {

struct TestOutcome {
  std::string name;
  enum class Verdict { kPass, kFail, kError } verdict = Verdict::kPass;
  std::string reason;  // why it failed, with the backtrace for a failure in the body
  std::string code;    // HEALTHCHECK_TIMEOUT, SERVICE_START_FAILED, ... for kError
  std::chrono::milliseconds duration{0};
  int assertions = 0;  // assert_* calls the body made
  std::vector<runtime::Event> events;
};

class TestRunner {
 public:
  /// `print` receives what the spec's print() writes, a line at a time.
  TestRunner(std::string spec_path, std::uint64_t seed, std::string log_dir,
             std::function<void(std::string_view)> print);
  ~TestRunner();

  /// Compiles and runs the spec's top level and checks its topology. False with
  /// `error` (diagnostics or a backtrace, ready to print) when it cannot run.
  bool load(std::string& error);
  /// The tests, in name order.
  const std::vector<std::string>& tests() const { return tests_; }
  TestOutcome run(const std::string& name);

  /// Per test: a body still running after this is stopped and the test is an error
  /// (TEST_TIMEOUT). Zero: no limit.
  std::chrono::milliseconds timeout{std::chrono::minutes(3)};
  /// From any thread (a signal watcher): stops the running test as soon as it can; the
  /// services are stopped as after any test. Later run() calls return at once.
  void interrupt();
  bool interrupted() const { return interrupted_.load(); }

 private:
  std::string spec_path_;
  std::uint64_t seed_;
  std::string log_dir_;
  std::function<void(std::string_view)> print_;
  stdlib::Session session_;
  vm::Thread thread_;
  std::unique_ptr<ModuleLoader> loader_;
  std::shared_ptr<vm::Program> program_;
  std::vector<std::string> tests_;
  std::vector<const stdlib::ServiceDecl*> order_;
  std::set<int> trapped_;  // syscall numbers every seccomp service traps
  std::atomic<bool> interrupted_{false};
};

}  // namespace fb::cli
