#pragma once
/// Fault composition: fault_assumption() bundles faults under a name, scenario() and
/// fault_scenario() register a scenario to run under them, fault_matrix() registers one
/// test per (scenario, fault) cell, and expect_success/expect_error_within/expect_hang
/// judge a scenario's result on its real fields.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/rules.h"
#include "runtime/rules.h"
#include "runtime/supervisor.h"
#include "vm/objects.h"

namespace fb::stdlib {

/// What fault_assumption() returns: rules per service, its own and its children's.
struct AssumptionValue final : vm::HostObject {
  std::string name;
  std::string description;
  struct Group {
    std::string service;
    std::vector<runtime::FaultRule> rules;
  };
  std::vector<Group> groups;
  /// Protocol rules on an interface (target=svc.iface, rules=[...]).
  struct ProxyGroup {
    std::string service, interface;
    std::vector<proxy::Rule> rules;
  };
  std::vector<ProxyGroup> proxy_groups;
  /// monitors=[...], its own and its children's: they check the tests it applies to.
  std::vector<vm::Value> monitors;
  void freeze_values() override;
  bool hashable() const override { return true; }  // a key of fault_matrix(overrides=)
  std::string_view type_name() const override;
  bool attr(const vm::Value& self, std::string_view name, vm::Value& out) const override;
  std::vector<std::string> attr_names() const override;
  void repr(std::string& out) const override;
};

/// What expect_success(), expect_error_within(ms=) and expect_hang() return.
struct ExpectValue final : vm::HostObject {
  enum class Kind { kSuccess, kErrorWithin, kHang } kind = Kind::kSuccess;
  std::int64_t ms = 0;
  std::string_view type_name() const override;
  bool attr(const vm::Value& self, std::string_view name, vm::Value& out) const override;
  std::vector<std::string> attr_names() const override;
  void repr(std::string& out) const override;
};

/// Installs every rule group of the assumptions (fault_assumption values) on their
/// running services; on failure removes what it installed and leaves the error on `t`.
bool apply_assumptions(vm::Thread& t, std::string_view fn, const std::vector<vm::Value>& faults,
                       std::vector<runtime::RuleSetId>& sets);
void remove_sets(vm::Thread& t, const std::vector<runtime::RuleSetId>& sets);

/// Judges a scenario's result (None when it did not return) with an expectation: an
/// expect_*() value or a predicate. False with `why` when the expectation is violated;
/// false with the thread's error set (and `why` empty) when a predicate failed to run.
bool judge(vm::Thread& t, const vm::Value& expect, const vm::Value& result, std::string& why);

/// How an expectation reads in a report ("expect_error_within(ms=500)", "check").
std::string expectation_name(const vm::Value& expect);

void add_scenarios(const std::function<void(std::string_view, vm::NativeFn)>& add);

}  // namespace fb::stdlib
