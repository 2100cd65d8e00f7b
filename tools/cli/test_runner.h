#pragma once
/// Running a spec's tests: loads the spec once, then runs each `def test_*` with freshly
/// started services (dependency order, ports checked free, healthchecks), and stops
/// every service after it, whatever happened.

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "compiler/plan.h"
#include "grammar/diagnostic.h"
#include "proxy/proxy.h"
#include "runtime/event_log.h"
#include "runtime/ports.h"
#include "runtime/supervisor.h"
#include "stdlib/session.h"
#include "tools/cli/loader.h"
#include "vm/thread.h"

namespace fb::cli {

/// One fault rule of a test, with how often it saw its syscalls and fired, as the
/// supervisor counted them where it decided (identical rules installed again, as in a
/// loop, are summed).
struct FaultHits {
  std::string service;
  std::string syscall;  // the keyword as written: a syscall, family or op name
  std::string action;   // deny, delay, allow, trace
  std::string error;    // errno name for deny
  std::string label;
  std::string op;    // the op's name when the keyword named one
  std::string path;  // the op's path glob
  std::string rule;  // the rule as written, e.g. fsync=deny("EIO")
  std::uint64_t matches = 0;
  std::uint64_t hits = 0;
  std::string pinned;     // an exhaustive leaf's fire decisions, "[1,0,1]"; "" when drawn
  std::string interface;  // a protocol rule's interface ("" for a syscall rule)
  std::vector<std::string> syscalls;  // what a syscall rule traps, families expanded
};

/// A finding about a test (or the whole run) that is not its verdict.
struct Diagnostic {
  std::string level;  // "warning", "info"
  std::string code;   // FAULT_NOT_FIRED, TEST_NO_ASSERTIONS, ...
  std::string test;   // empty for a run-level finding
  std::string message;
  std::string suggestion;
};

struct TestOutcome {
  std::string name;
  std::uint64_t seed = 0;
  /// kHalted: halt() or a false assume() ended the leaf; neither passed nor failed.
  /// kInconclusive: the test ran out of time (TEST_TIMEOUT) or a temporal property was
  /// still pending: neither a pass nor a failure was established.
  enum class Verdict { kPass, kFail, kError, kHalted, kInconclusive } verdict = Verdict::kPass;
  std::string reason;  // why it failed, with the backtrace for a failure in the body
  std::string code;    // HEALTHCHECK_TIMEOUT, SERVICE_START_FAILED, ... for kError
  std::chrono::milliseconds duration{0};
  int assertions = 0;            // assert_* calls the body made
  std::string failed_assertion;  // the assert_* that failed it ("" for other failures)
  std::string expectation;       // a scenario's expect, as it reads
  bool expectation_violated = false;
  std::vector<FaultHits> faults;
  std::vector<Diagnostic> diagnostics;
  /// The plan leaf: its index, the axes the run met and what each one chose.
  std::uint64_t leaf = 0;
  std::vector<stdlib::Axis> axes;
  std::vector<std::pair<std::string, std::string>> choices;
  std::vector<runtime::Event> events;
  /// The event a monitor or an always() failed on (PROPERTY_VIOLATED), when it was one.
  std::optional<runtime::Event> violation;
  /// A fault_matrix cell: which matrix (its index in matrices()) and its coordinates.
  int matrix = -1;
  std::string cell_scenario, cell_fault;
};

class TestRunner {
 public:
  /// `print` receives what the spec's print() writes, a line at a time.
  TestRunner(std::string spec_path, std::string log_dir,
             std::function<void(std::string_view)> print);
  ~TestRunner();

  /// The option each plan axis takes in a leaf (axes not named take option 0).
  using Pins = std::map<std::string, std::uint64_t, std::less<>>;

  /// Compiles and runs the spec's top level and checks its topology. False with
  /// `error` (diagnostics or a backtrace, ready to print) when it cannot run.
  /// `top_pins` fixes the options of the top level's named choose() calls, which are
  /// axes of every test: the whole spec is loaded once for each of their combinations.
  bool load(std::string& error, const Pins& top_pins = {});
  /// The axes the top level met while loading, in the order met, with their options.
  const std::vector<stdlib::Axis>& top_axes() const { return top_.axes; }
  /// The thread that ran the top level: after a failed load(), its error and backtrace.
  const vm::Thread& vm_thread() const { return thread_; }
  /// What a failed load() found in the spec file beyond a Starlark error (fault
  /// keywords that name nothing), with spans in the spec file.
  const std::vector<grammar::Diagnostic>& load_diagnostics() const { return load_diagnostics_; }
  /// Whether load() failed because a top-level assume() did not hold for its choices.
  bool load_halted() const { return top_.halted; }
  /// Bounds the VM steps of everything the runner evaluates (0: no bound), so that a
  /// spec whose top level never ends cannot hang a checker.
  void limit_steps(std::uint64_t steps) { thread_.max_steps = steps ? steps : UINT64_MAX; }
  /// Bounds what the top level, and then each test body, may allocate (vm/memory.h).
  void limit_memory(std::int64_t bytes) { thread_.memory->limit = bytes; }
  /// The tests, in name order.
  const std::vector<std::string>& tests() const { return tests_; }
  /// Runs one leaf of a test with `seed` for its probabilistic faults. `axes` are the
  /// test's axes known so far, which give test(assume=[...]) predicates their named
  /// choices before the body runs. A discovery run skips those predicates: it runs
  /// only to learn the axes.
  TestOutcome run(const std::string& name, std::uint64_t seed,
                  const std::vector<stdlib::Axis>& axes = {}, const Pins& pins = {},
                  bool discovery = false);
  /// The spec's fault_matrix() calls, in call order.
  const std::vector<stdlib::MatrixDecl>& matrices() const { return session_.matrices; }
  /// The scenario of a fault_matrix cell ("" for any other test), whose collapsed name
  /// test_matrix_<scenario> selects all of its cells.
  std::string matrix_scenario(const std::string& name) const;
  /// Whether the test was registered with assume=[...], whose predicates need the
  /// test's axes before its first leaf.
  bool has_assumptions(const std::string& name) const;

  /// The static plan of the loaded spec's tests (compiler/plan.h), with the top
  /// level's axes first in every test.
  plan::Plan plan() const;
  /// The dependencies between the declared services: depends_on, and env values that
  /// name another service's port.
  struct Topology {
    std::vector<std::pair<std::string, std::string>> depends_on, env;
  };
  Topology topology() const;
  const std::vector<stdlib::ServiceDecl>& services() const { return session_.services; }

  /// What load() found, for --dry-run: services in start order and their trap sets.
  const std::vector<const stdlib::ServiceDecl*>& start_order() const { return order_; }
  const std::set<int>& trapped(const std::string& service) { return trapped_[service]; }

  /// Where service output goes: a folder per test under `dir` (made by the caller).
  void set_log_dir(std::string dir) { log_dir_ = std::move(dir); }

  /// The ports the run has claimed (runtime/ports.h), shared by every load of the spec:
  /// a service's ports are claimed before it starts, and one another run holds makes
  /// the test an error (PORT_IN_USE). `who` is what the claim says about this run.
  void share_port_claims(runtime::PortClaims* claims, std::string who) {
    claims_ = claims;
    claimant_ = std::move(who);
  }

  /// Per test: a body still running after this is stopped and the test is an error
  /// (TEST_TIMEOUT). Zero: no limit.
  std::chrono::milliseconds timeout{std::chrono::minutes(3)};
  /// From any thread (a signal watcher): stops the running test as soon as it can; the
  /// services are stopped as after any test. Later run() calls return at once.
  void interrupt();
  bool interrupted() const { return interrupted_.load(); }

 private:
  /// The value of a module global once the top level has assigned it, or nullptr.
  const vm::Value* global(std::string_view name) const;
  /// The name of the service a global is bound to, or "".
  std::string service_named(std::string_view name) const;

  /// Load errors for fault() keywords that name no syscall and no op, rendered.
  bool check_fault_keywords(const grammar::SourceMap& sources, grammar::FileId file,
                            std::string& error);

  std::string spec_path_;
  std::string log_dir_;
  std::function<void(std::string_view)> print_;
  stdlib::Session session_;
  stdlib::Session::Run top_;  // what the top level's choices met while loading
  vm::Thread thread_;
  std::unique_ptr<ModuleLoader> loader_;
  std::unique_ptr<runtime::EventLog> log_;
  std::unique_ptr<runtime::Supervisor> supervisor_;
  /// Every connection to a service goes through a proxy for its caller's edge: another
  /// service (wired through its env) or the test's steps. Listeners live for the run,
  /// so a reused service's env stays right; connections are cut when a service stops.
  std::unique_ptr<proxy::Manager> proxies_;
  std::map<std::string, runtime::TargetId, std::less<>> reused_;  // reuse=True, running
  std::shared_ptr<vm::Program> program_;
  std::vector<std::string> tests_;
  std::vector<const stdlib::ServiceDecl*> order_;
  // Per service, the syscall numbers its filter traps.
  std::map<std::string, std::set<int>, std::less<>> trapped_;
  std::atomic<bool> interrupted_{false};
  std::vector<grammar::Diagnostic> load_diagnostics_;
  runtime::PortClaims* claims_ = nullptr;
  std::string claimant_;
};

}  // namespace fb::cli
