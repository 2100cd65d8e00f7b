#pragma once
/// What a spec declares and what a run of it needs: the services (topology) registered
/// by service() while the module's top level runs, and their start order. The spec
/// builtins reach it through vm::Thread::host.

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "grammar/names.h"
#include "proxy/proxy.h"
#include "runtime/event_log.h"
#include "runtime/line_decoder.h"
#include "runtime/supervisor.h"
#include "vm/value.h"

namespace fb::vm {
class Thread;
}

namespace fb::stdlib {

class Temporal;

struct InterfaceDecl {
  std::string name;
  std::string protocol;  // "http", "tcp", "redis", "postgres", ...
  int port = 0;
  /// interface(idle_timeout=): how long the proxies give a request head to arrive.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(30)};
};

struct Healthcheck {
  /// kReady asks the service through its own first interface, in its protocol (an HTTP
  /// GET /, a redis PING with the env's credentials; other protocols a TCP connect).
  enum class Kind { kNone, kTcp, kHttp, kReady } kind = Kind::kNone;
  std::string target;  // "localhost:5432" or "http://localhost:8080/health"
  std::chrono::milliseconds timeout{10000};
};

/// A named operation of a service: syscalls (family names as written) and a path glob,
/// faulted by name as fault(svc, NAME=deny(...)).
struct OpDecl {
  std::vector<std::string> syscalls;
  std::string path;  // empty: any path
};

/// service(observe=[observe.stdout(decoder=...)]): a stream of the service's output
/// whose lines become events of type "stdout" or "stderr" in its lane.
struct Observation {
  std::string stream;  // "stdout" or "stderr"
  std::shared_ptr<const runtime::LineDecoder> decoder;
};

struct ServiceDecl {
  std::string name;
  std::string binary;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;  // in the order given
  std::vector<InterfaceDecl> interfaces;
  Healthcheck healthcheck;
  std::vector<std::string> depends_on;
  bool seccomp = true;
  bool reuse = false;
  std::map<std::string, OpDecl, std::less<>> ops;
  std::vector<Observation> observe;
  const InterfaceDecl* find_interface(std::string_view wanted) const;
};

/// A name as the FAULTBOX_<SVC>_<IFACE>_* variables spell it: upper-cased, dashes kept.
std::string env_name(std::string_view name);

/// True when `name` is a valid name of its kind (grammar/names.h); else fails `t` with
/// "fn: why", naming the allowed characters.
bool want_name(vm::Thread& t, std::string_view fn, grammar::NameKind kind, std::string_view name);

/// Fails `t` with `message` as the assertion `fn`, so that the report can tell an
/// assertion failure from any other error in a test body.
bool fail_assertion(vm::Thread& t, std::string_view fn, std::string message);

/// A fan-out axis a test met while it ran: a named choose(), an exhaustive probability
/// site (deny/delay with max_fires=N and probability < 1: 2^N outcomes), or the
/// orderings of an ordered parallel().
struct Axis {
  enum class Kind { kChoose, kProbability, kInterleaving } kind = Kind::kChoose;
  std::string name;
  std::uint64_t cardinality = 0;
  std::vector<std::string> options;  // how each option reads (choose), for reports
  std::vector<vm::Value> values;     // the options themselves (choose)
  std::string site;                  // file:line:col of the call that met it first
};

/// A test registered by a builtin: test(name, body, setup=, timeout=, assume=[...]),
/// scenario(fn), fault_scenario(...) or a cell of fault_matrix(...).
struct TestDecl {
  std::string name;                   // "test_<name>"
  std::string kind = "test_builtin";  // or "scenario", "fault_scenario", "fault_matrix"
  vm::Value body, setup;
  std::chrono::milliseconds timeout{30000};
  std::vector<vm::Value> assume;  // bools and predicates over the named choices
  // fault_scenario and matrix cells: the faults (fault_assumption values) applied while
  // the body (the scenario) runs, and what judges its result.
  std::vector<vm::Value> faults;
  vm::Value expect;  // None, an expect_*() value, or a predicate over the result
  bool require_faults_fire = false;
  std::string cell_scenario, cell_fault;  // a matrix cell's coordinates
  int matrix = -1;                        // which fault_matrix() made the cell
  /// Monitors of this test alone (fault_scenario/fault_matrix monitors=); those of its
  /// fault assumptions come with them.
  std::vector<vm::Value> monitors;
  /// test(expect=): eventually()/always() values; test(terminate_when=): an eventually().
  std::vector<vm::Value> properties;
  vm::Value terminate_when;
};

/// One fault_matrix() call: its axes in the order given, and the cells it left out.
struct MatrixDecl {
  std::vector<std::string> scenarios, faults;
  std::vector<std::pair<std::string, std::string>> excluded;
};

class Session {
 public:
  /// The session whose builtins `thread` runs, or nullptr (a plain `faultbox eval`).
  static Session* of(vm::Thread& thread);
  /// Makes this the session of `thread`'s builtins.
  void attach(vm::Thread& thread);

  std::vector<ServiceDecl> services;  // in declaration order
  std::vector<TestDecl> registered;   // by test(), in registration order
  std::vector<MatrixDecl> matrices;   // by fault_matrix(), in call order
  /// monitor() calls of the top level, in order: each checks every test unless a
  /// monitors= list claimed it for some tests only.
  std::vector<vm::Value> monitors;
  /// Services nondet() exempts from interleaving control.
  std::vector<std::string> nondeterministic;

  /// What a running test's builtins act on: its event log, its supervisor and the
  /// targets of its services. Null outside a test body.
  struct Run {
    runtime::EventLog* log = nullptr;
    runtime::Supervisor* supervisor = nullptr;
    /// The test driver's proxy port for each "service.interface": steps dial it, so
    /// protocol faults reach the test's own traffic too. An interface without one is
    /// dialled directly.
    std::map<std::string, int, std::less<>> step_ports;
    /// The proxies of the run, where protocol faults are installed.
    proxy::Manager* proxies = nullptr;
    /// Every protocol rule set a fault installed, for the report's per-rule counts.
    struct ProxyInstalled {
      std::string service, interface;
      std::uint64_t set = 0;
      std::vector<proxy::Rule> rules;
    };
    std::vector<ProxyInstalled> proxy_installed;
    std::map<std::string, runtime::TargetId, std::less<>> targets;
    int assertions = 0;            // assert_* calls made, passing or not
    std::string failed_assertion;  // the assert_* that failed the body, if one did
    /// Rule sets fault_start()/trace_start() installed, per service, until their _stop.
    std::map<std::string, std::vector<runtime::RuleSetId>, std::less<>> started;
    std::map<std::string, std::vector<runtime::RuleSetId>, std::less<>> traced;
    /// Every rule set a builtin installed, in order, with its rules: what the report's
    /// per-rule fault hits are counted for.
    struct Installed {
      std::string service;
      runtime::RuleSetId set = 0;
      std::vector<runtime::FaultRule> rules;
    };
    std::vector<Installed> installed;

    /// The leaf this run is: the option each axis takes (axes it does not name take
    /// option 0, as every axis does outside a plan).
    std::map<std::string, std::uint64_t, std::less<>> pins;
    /// The axes the body met, in the order it met them, and what each one chose.
    std::vector<Axis> axes;
    std::vector<std::pair<std::string, std::string>> choices;  // as they read
    std::vector<std::pair<std::string, vm::Value>> chosen;     // the values
    /// When the test's timeout runs out, if it has one: a sleep() may not outlast it.
    std::optional<std::chrono::steady_clock::time_point> deadline;
    /// Services nondet() named in this test's body.
    std::vector<std::string> nondeterministic;
    /// The monitors and temporal properties of the test (null outside `faultbox test`).
    Temporal* temporal = nullptr;
    /// halt() or a false assume() stopped the body: the leaf is halted, not failed.
    bool halted = false;
    std::string halt_reason;

    /// Records an axis met at run time and returns the option this leaf takes for it.
    /// Fails (nullopt, `error`) when one name is used for axes of different sizes.
    std::optional<std::uint64_t> meet(const Axis& axis, std::string& error);
  };
  Run* run = nullptr;
  /// The spec's top level while it runs, when the runner fans it out: a named choose()
  /// there is an axis of every test, and the whole spec is loaded once per option.
  /// Null otherwise (a top-level choice then takes its first option).
  Run* top = nullptr;

  const ServiceDecl* find(std::string_view name) const;
  /// FAULTBOX_<SVC>_<IFACE>_{HOST,PORT,ADDR} for every service and interface, with the
  /// names upper-cased as the reference does (dashes kept).
  std::vector<std::pair<std::string, std::string>> wiring() const;
  /// Services in start order: dependencies first, otherwise declaration order. nullopt
  /// with `error` for an unknown dependency or a cycle (named in full).
  std::optional<std::vector<const ServiceDecl*>> start_order(std::string& error) const;
};

}  // namespace fb::stdlib
