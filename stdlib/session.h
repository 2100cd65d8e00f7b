#pragma once
/// What a spec declares and what a run of it needs: the services (topology) registered
/// by service() while the module's top level runs, and their start order. The spec
/// builtins reach it through vm::Thread::host.

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runtime/event_log.h"
#include "runtime/supervisor.h"
#include "vm/value.h"

namespace fb::vm {
class Thread;
}

namespace fb::stdlib {

struct InterfaceDecl {
  std::string name;
  std::string protocol;  // "http", "tcp", "redis", "postgres", ...
  int port = 0;
};

struct Healthcheck {
  enum class Kind { kNone, kTcp, kHttp } kind = Kind::kNone;
  std::string target;  // "localhost:5432" or "http://localhost:8080/health"
  std::chrono::milliseconds timeout{10000};
};

/// A named operation of a service: syscalls (family names as written) and a path glob,
/// faulted by name as fault(svc, NAME=deny(...)).
struct OpDecl {
  std::vector<std::string> syscalls;
  std::string path;  // empty: any path
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
  const InterfaceDecl* find_interface(std::string_view wanted) const;
};

/// Fails `t` with `message` as the assertion `fn`, so that the report can tell an
/// assertion failure from any other error in a test body.
bool fail_assertion(vm::Thread& t, std::string_view fn, std::string message);

class Session {
 public:
  /// The session whose builtins `thread` runs, or nullptr (a plain `faultbox eval`).
  static Session* of(vm::Thread& thread);
  /// Makes this the session of `thread`'s builtins.
  void attach(vm::Thread& thread);

  std::vector<ServiceDecl> services;  // in declaration order

  /// What a running test's builtins act on: its event log, its supervisor and the
  /// targets of its services. Null outside a test body.
  struct Run {
    runtime::EventLog* log = nullptr;
    runtime::Supervisor* supervisor = nullptr;
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
  };
  Run* run = nullptr;

  const ServiceDecl* find(std::string_view name) const;
  /// FAULTBOX_<SVC>_<IFACE>_{HOST,PORT,ADDR} for every service and interface, with the
  /// names upper-cased as the reference does (dashes kept).
  std::vector<std::pair<std::string, std::string>> wiring() const;
  /// Services in start order: dependencies first, otherwise declaration order. nullopt
  /// with `error` for an unknown dependency or a cycle (named in full).
  std::optional<std::vector<const ServiceDecl*>> start_order(std::string& error) const;
};

}  // namespace fb::stdlib
