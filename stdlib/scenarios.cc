// fault_assumption, scenario, fault_scenario, fault_matrix and the expect_* judges.
#include "stdlib/scenarios.h"

#include <algorithm>

#include "runtime/rules.h"
#include "stdlib/fanout.h"
#include "stdlib/faults.h"
#include "stdlib/protocol_faults.h"
#include "stdlib/session.h"
#include "stdlib/temporal.h"
#include "stdlib/topology.h"
#include "vm/methods.h"
#include "vm/ops.h"
#include "vm/thread.h"

namespace fb::stdlib {

using vm::Args;
using vm::Thread;
using vm::Value;

std::string_view AssumptionValue::type_name() const { return "fault_assumption"; }
bool AssumptionValue::attr(const Value&, std::string_view attr_name, Value& out) const {
  if (attr_name == "name") return out = vm::make_string(name), true;
  if (attr_name == "description") return out = vm::make_string(description), true;
  return false;
}
std::vector<std::string> AssumptionValue::attr_names() const { return {"description", "name"}; }
void AssumptionValue::repr(std::string& out) const { out += "<fault_assumption " + name + ">"; }
void AssumptionValue::freeze_values() {
  for (const Value& m : monitors) vm::freeze(m);
}

std::string_view ExpectValue::type_name() const { return "expectation"; }
bool ExpectValue::attr(const Value&, std::string_view, Value&) const { return false; }
std::vector<std::string> ExpectValue::attr_names() const { return {}; }
void ExpectValue::repr(std::string& out) const {
  switch (kind) {
    case Kind::kSuccess: out += "expect_success()"; break;
    case Kind::kErrorWithin: out += "expect_error_within(ms=" + std::to_string(ms) + ")"; break;
    case Kind::kHang: out += "expect_hang()"; break;
  }
}

namespace {

bool is_assumption(const Value& v) {
  return v.is(vm::Type::kHost) && vm::type_of(v) == "fault_assumption";
}
bool is_expectation(const Value& v) {
  return v.is(vm::Type::kHost) && vm::type_of(v) == "expectation";
}

/// A field of a scenario's result: an attribute (a step response, a struct) or a dict
/// key. None when it has none.
Value field(Thread& t, const Value& result, std::string_view name) {
  Value out;
  if (result.is(vm::Type::kDict)) {
    bool error = false;
    Value* found =
        vm::dict_find(t, *result.as<vm::Dict>(), vm::make_string(std::string(name)), error);
    if (error) t.clear_error();
    return found ? *found : Value();
  }
  if (result.is(vm::Type::kNone) || !vm::get_attr(t, result, name, out)) {
    t.clear_error();
    return Value();
  }
  return out;
}

/// The status of a result: .status of a step response, or status_code.
std::optional<std::int64_t> status_of(Thread& t, const Value& result) {
  for (std::string_view name : {"status", "status_code"}) {
    Value v = field(t, result, name);
    if (v.is(vm::Type::kInt)) return v.as_int();
  }
  return std::nullopt;
}

std::string error_of(Thread& t, const Value& result) {
  Value v = field(t, result, "error");
  return v.is(vm::Type::kString) ? vm::str(v) : "";
}

}  // namespace

std::string expectation_name(const Value& expect) {
  if (expect.is(vm::Type::kNone)) return "";
  if (is_expectation(expect)) {
    std::string out;
    expect.as<ExpectValue>()->repr(out);
    return out;
  }
  if (expect.is(vm::Type::kFunction)) return expect.as<vm::Function>()->code().name;
  return vm::repr(expect);
}

bool judge(Thread& t, const Value& expect, const Value& result, std::string& why) {
  why.clear();
  if (expect.is(vm::Type::kNone)) return true;
  if (!is_expectation(expect)) {
    Args args;
    args.positional.push_back(result);
    Value out;
    // A predicate judges by failing (an assertion in it) or by returning False.
    if (!vm::call(t, expect, args, out)) return false;
    if (out.is(vm::Type::kBool) && !vm::truth(out)) {
      why = expectation_name(expect) + " returned False for " + vm::repr(result);
      return false;
    }
    return true;
  }
  const auto& e = *expect.as<ExpectValue>();
  bool none = result.is(vm::Type::kNone);
  // -1: the result has no status (a failed step, a plain value).
  std::int64_t status = none ? -1 : status_of(t, result).value_or(-1);
  std::string error = none ? "" : error_of(t, result);
  switch (e.kind) {
    case ExpectValue::Kind::kSuccess:
      if (none)
        why = "expect_success: the scenario returned None (did it complete?)";
      else if (status >= 500)
        why = "expect_success: status " + std::to_string(status) + " (want < 500)";
      else if (!error.empty())
        // A step that got no answer (its connection reset or refused) has status 0 and
        // an error; a dict result with an error is no success either.
        why = "expect_success: the step failed: " + error;
      break;
    case ExpectValue::Kind::kErrorWithin: {
      std::string head = "expect_error_within(ms=" + std::to_string(e.ms) + "): ";
      if (none) {
        why = head + "the scenario did not return (a hang? use expect_hang)";
        break;
      }
      bool errored = status >= 500 || !error.empty();
      if (!errored) {
        why = head + "the scenario succeeded (status " +
              (status >= 0 ? std::to_string(status) : std::string("none")) +
              "), an error was expected";
        break;
      }
      Value d = field(t, result, "duration_ms");
      if (d.is(vm::Type::kInt) && d.as_int() > e.ms)
        why = head + "the error took " + std::to_string(d.as_int()) + " ms, over the budget";
      break;
    }
    case ExpectValue::Kind::kHang:
      if (!none)
        why = "expect_hang: the scenario returned " + vm::repr(result) + ", expected no return";
      break;
  }
  return why.empty();
}

bool apply_assumptions(Thread& t, std::string_view fn, const std::vector<Value>& faults,
                       std::vector<runtime::RuleSetId>& sets) {
  for (const Value& f : faults) {
    for (const auto& group : f.as<AssumptionValue>()->groups) {
      auto set = install_rules(t, fn, group.service, group.rules);
      if (!set) {
        remove_sets(t, sets);
        sets.clear();
        return false;
      }
      sets.push_back(*set);
    }
    for (const auto& group : f.as<AssumptionValue>()->proxy_groups) {
      Session* session = Session::of(t);
      if (!session || !session->run || !session->run->proxies) {
        remove_sets(t, sets);
        sets.clear();
        return t.fail(std::string(fn) + ": there are no running services here");
      }
      Session::Run& state = *session->run;
      auto set = state.proxies->install(group.service, group.interface, group.rules);
      state.proxy_installed.push_back({group.service, group.interface, set, group.rules});
      sets.push_back(kProxySet | set);
    }
  }
  return true;
}

void remove_sets(Thread& t, const std::vector<runtime::RuleSetId>& sets) {
  Session* session = Session::of(t);
  if (!session || !session->run) return;
  for (auto it = sets.rbegin(); it != sets.rend(); ++it) {
    if (*it & kProxySet)
      session->run->proxies->remove(*it & ~kProxySet);
    else
      session->run->supervisor->remove(*it);
  }
}

namespace {

/// A monitors=[...] list: monitor() values, which it claims, so that they check only
/// the tests it belongs to rather than every test.
bool take_monitors(Thread& t, std::string_view where, const Value& v, std::vector<Value>& out) {
  if (v.is(vm::Type::kNone)) return true;
  if (!v.is(vm::Type::kList) && !v.is(vm::Type::kTuple))
    return t.fail(std::string(where) + ": monitors must be a list of monitor() values, got " +
                  std::string(vm::type_of(v)));
  for (const Value& m : v.as<vm::List>()->items) {
    if (!m.is(vm::Type::kHost) || vm::type_of(m) != "monitor")
      return t.fail(std::string(where) + ": monitors must hold monitor() values, got " +
                    std::string(vm::type_of(m)));
    m.as<MonitorValue>()->claimed = true;
    out.push_back(m);
  }
  return true;
}

/// fault_assumption(name, target=, faults=[...], rules=[], monitors=[], description=,
/// **{syscall_or_op: fault}): the target's rules are resolved now (its ops included).
bool fault_assumption_fn(Thread& t, const Value&, Args& a, Value& r) {
  if (a.positional.size() != 1 || !a.positional[0].is(vm::Type::kString) ||
      vm::str(a.positional[0]).empty())
    return t.fail("fault_assumption: want a name first, like fault_assumption(\"db_down\", ...)");
  auto* value = new AssumptionValue();
  Value result = Value::adopt(value);
  value->name = vm::str(a.positional[0]);
  if (!want_name(t, "fault_assumption", grammar::NameKind::kAssumption, value->name)) return false;
  std::string where = "fault_assumption(\"" + value->name + "\")";
  std::string target;
  const InterfaceRef* iface = nullptr;  // target= named an interface
  std::vector<Value> rule_values;       // rules=[...]
  Args rule_args;                       // the syscall and op keywords
  std::vector<Value> children;
  for (auto& [key, v] : a.keywords) {
    if (key == "target") {
      if (v.is(vm::Type::kHost) && vm::type_of(v) == "interface_ref") {
        iface = v.as<InterfaceRef>();
        target = iface->service;
        continue;
      }
      if (!v.is(vm::Type::kHost) || vm::type_of(v) != "service")
        return t.fail(where + ": target must be a service or an interface (svc.iface), got " +
                      std::string(vm::type_of(v)));
      target = v.as<ServiceValue>()->name;
    } else if (key == "description") {
      if (!v.is(vm::Type::kString)) return t.fail(where + ": description must be a string");
      value->description = vm::str(v);
    } else if (key == "faults") {
      if (!v.is(vm::Type::kList) && !v.is(vm::Type::kTuple))
        return t.fail(where + ": faults must be a list of fault_assumption values");
      for (const Value& child : v.as<vm::List>()->items) {
        if (!is_assumption(child))
          return t.fail(where + ": faults must hold fault_assumption values, got " +
                        std::string(vm::type_of(child)));
        children.push_back(child);
      }
    } else if (key == "rules") {
      if ((!v.is(vm::Type::kList) && !v.is(vm::Type::kTuple)))
        return t.fail(where + ": rules must be a list of protocol rules");
      for (const Value& rule : v.as<vm::List>()->items) {
        if (!rule.is(vm::Type::kHost) || vm::type_of(rule) != "proxy_fault")
          return t.fail(where + ": rules must hold protocol rules like error(...) or drop(), got " +
                        std::string(vm::type_of(rule)));
        rule_values.push_back(rule);
      }
    } else if (key == "monitors") {
      if (!take_monitors(t, where, v, value->monitors)) return false;
    } else {
      rule_args.keywords.emplace_back(key, v);
    }
  }
  if (!rule_values.empty()) {
    if (!iface)
      return t.fail(where + ": rules= need target= to be an interface, like target=db.main");
    AssumptionValue::ProxyGroup group;
    group.service = iface->service;
    group.interface = iface->decl.name;
    std::string on = iface->service + "." + iface->decl.name;
    for (const Value& rule : rule_values) {
      const proxy::Rule& protocol_rule = rule.as<ProxyRuleValue>()->rule;
      if (!check_protocol_rule(t, iface->decl.protocol, protocol_rule, on)) return false;
      group.rules.push_back(protocol_rule);
    }
    value->proxy_groups.push_back(std::move(group));
  }
  if (!rule_args.keywords.empty()) {
    if (target.empty())
      return t.fail(where + ": syscall faults need target= (the service they apply to)");
    AssumptionValue::Group group;
    group.service = target;
    Value run;
    if (!build_fault_rules(t, "fault_assumption", target, rule_args, run, group.rules))
      return false;
    value->groups.push_back(std::move(group));
  }
  for (const Value& child : children) {
    for (const auto& group : child.as<AssumptionValue>()->groups) value->groups.push_back(group);
    for (const auto& group : child.as<AssumptionValue>()->proxy_groups)
      value->proxy_groups.push_back(group);
    for (const auto& m : child.as<AssumptionValue>()->monitors) value->monitors.push_back(m);
  }
  r = result;
  return true;
}

bool want_expect(Thread& t, std::string_view where, std::string_view param, const Value& v) {
  if (v.is(vm::Type::kNone) || is_expectation(v) || is_callable(v)) return true;
  return t.fail(std::string(where) + ": " + std::string(param) +
                " must be an expect_*() value or a function of the result, got " +
                std::string(vm::type_of(v)));
}

/// scenario(fn): fn runs as test_<fn name>; fault_matrix and fault_scenario reuse it.
bool scenario_fn(Thread& t, const Value&, Args& a, Value& r) {
  if (!a.keywords.empty() || a.positional.size() != 1 || !is_callable(a.positional[0]))
    return t.fail("scenario: want one function, like scenario(checkout)");
  Session* session = registering(t, "scenario");
  if (!session) return false;
  TestDecl decl;
  decl.kind = "scenario";
  decl.name = "test_" + callable_name(a.positional[0]);
  decl.body = a.positional[0];
  decl.timeout = std::chrono::minutes(3);
  if (!register_test(t, "scenario", *session, std::move(decl))) return false;
  r = Value();
  return true;
}

/// fault_scenario(name, scenario=fn, faults=fa|[fa], expect=, monitors=[], timeout="30s").
bool fault_scenario_fn(Thread& t, const Value&, Args& a, Value& r) {
  Value name, scenario, faults, expect, monitors, timeout;
  if (!vm::unpack(t, "fault_scenario", a,
                  {{"name", &name},
                   {"scenario", &scenario},
                   {"faults?", &faults},
                   {"expect?", &expect},
                   {"monitors?", &monitors},
                   {"timeout?", &timeout}}))
    return false;
  Session* session = registering(t, "fault_scenario");
  if (!session) return false;
  if (!name.is(vm::Type::kString))
    return t.fail("fault_scenario: name must be a string, got " + std::string(vm::type_of(name)));
  if (!want_name(t, "fault_scenario", grammar::NameKind::kScenario, vm::str(name))) return false;
  std::string where = "fault_scenario(\"" + vm::str(name) + "\")";
  if (!is_callable(scenario)) return t.fail(where + ": scenario must be a function");
  TestDecl decl;
  decl.kind = "fault_scenario";
  decl.name = "test_" + vm::str(name);
  decl.body = scenario;
  if (is_assumption(faults)) {
    decl.faults.push_back(faults);
  } else if (faults.is(vm::Type::kList) || faults.is(vm::Type::kTuple)) {
    for (const Value& f : faults.as<vm::List>()->items) {
      if (!is_assumption(f))
        return t.fail(where + ": faults must hold fault_assumption values, got " +
                      std::string(vm::type_of(f)));
      decl.faults.push_back(f);
    }
  } else if (!faults.is(vm::Type::kNone)) {
    return t.fail(where + ": faults must be a fault_assumption or a list of them");
  }
  if (!want_expect(t, where, "expect", expect)) return false;
  decl.expect = expect;
  if (!take_monitors(t, where, monitors, decl.monitors)) return false;
  if (!want_timeout(t, where, timeout, decl.timeout)) return false;
  if (!register_test(t, "fault_scenario", *session, std::move(decl))) return false;
  r = Value();
  return true;
}

/// fault_matrix(scenarios=[fn], faults=[fa], default_expect=, overrides={(fn, fa): e},
/// exclude=[(fn, fa)], monitors=[], require_faults_fire=False): one test per cell.
bool fault_matrix_fn(Thread& t, const Value&, Args& a, Value& r) {
  Value scenarios, faults, default_expect, overrides, exclude, monitors, require;
  if (!vm::unpack(t, "fault_matrix", a,
                  {{"scenarios", &scenarios},
                   {"faults", &faults},
                   {"default_expect?", &default_expect},
                   {"overrides?", &overrides},
                   {"exclude?", &exclude},
                   {"monitors?", &monitors},
                   {"require_faults_fire?", &require}}))
    return false;
  Session* session = registering(t, "fault_matrix");
  if (!session) return false;
  auto items = [&](const Value& v, std::string_view param, std::vector<Value>& out) -> bool {
    if (!v.is(vm::Type::kList) && !v.is(vm::Type::kTuple))
      return t.fail("fault_matrix: " + std::string(param) + " must be a list, got " +
                    std::string(vm::type_of(v)));
    out = v.as<vm::List>()->items;
    return true;
  };
  std::vector<Value> scenario_list, fault_list, excluded;
  if (!items(scenarios, "scenarios", scenario_list) || !items(faults, "faults", fault_list))
    return false;
  if (scenario_list.empty() || fault_list.empty())
    return t.fail("fault_matrix: scenarios and faults must not be empty");
  for (const Value& s : scenario_list)
    if (!is_callable(s))
      return t.fail("fault_matrix: scenarios must hold functions, got " +
                    std::string(vm::type_of(s)));
  for (const Value& f : fault_list)
    if (!is_assumption(f))
      return t.fail("fault_matrix: faults must hold fault_assumption values, got " +
                    std::string(vm::type_of(f)));
  if (!want_expect(t, "fault_matrix", "default_expect", default_expect)) return false;
  auto cell = [&](const Value& pair, std::string_view param) -> bool {
    if (!pair.is(vm::Type::kTuple) || pair.as<vm::List>()->items.size() != 2 ||
        !is_callable(pair.as<vm::List>()->items[0]) ||
        !is_assumption(pair.as<vm::List>()->items[1]))
      return t.fail("fault_matrix: " + std::string(param) +
                    " must hold (scenario, fault_assumption) tuples, got " + vm::repr(pair));
    return true;
  };
  if (!exclude.is(vm::Type::kNone)) {
    if (!items(exclude, "exclude", excluded)) return false;
    for (const Value& pair : excluded)
      if (!cell(pair, "exclude")) return false;
  }
  if (!overrides.is(vm::Type::kNone)) {
    if (!overrides.is(vm::Type::kDict))
      return t.fail("fault_matrix: overrides must be a dict {(scenario, fault): expect}");
    for (const auto& e : overrides.as<vm::Dict>()->entries) {
      if (!cell(e.key, "overrides") || !want_expect(t, "fault_matrix", "an override", e.value))
        return false;
    }
  }
  std::vector<Value> matrix_monitors;
  if (!take_monitors(t, "fault_matrix", monitors, matrix_monitors)) return false;
  bool require_fire = false;
  if (!require.is(vm::Type::kNone)) {
    if (!require.is(vm::Type::kBool))
      return t.fail("fault_matrix: require_faults_fire must be True or False");
    require_fire = vm::truth(require);
  }
  MatrixDecl matrix;
  for (const Value& s : scenario_list) matrix.scenarios.push_back(callable_name(s));
  for (const Value& f : fault_list) matrix.faults.push_back(f.as<AssumptionValue>()->name);
  int index = static_cast<int>(session->matrices.size());
  for (const Value& s : scenario_list) {
    for (const Value& f : fault_list) {
      auto same = [&](const Value& pair) {
        const auto& two = pair.as<vm::List>()->items;
        return two[0].object() == s.object() && two[1].object() == f.object();
      };
      if (std::any_of(excluded.begin(), excluded.end(), same)) {
        matrix.excluded.emplace_back(callable_name(s), f.as<AssumptionValue>()->name);
        continue;
      }
      TestDecl decl;
      decl.kind = "fault_matrix";
      decl.matrix = index;
      decl.cell_scenario = callable_name(s);
      decl.cell_fault = f.as<AssumptionValue>()->name;
      decl.name = "test_matrix_" + decl.cell_scenario + "_" + decl.cell_fault;
      decl.body = s;
      decl.faults.push_back(f);
      decl.expect = default_expect;
      if (overrides.is(vm::Type::kDict))
        for (const auto& e : overrides.as<vm::Dict>()->entries)
          if (same(e.key)) decl.expect = e.value;
      decl.timeout = std::chrono::minutes(3);
      decl.require_faults_fire = require_fire;
      decl.monitors = matrix_monitors;
      if (!register_test(t, "fault_matrix", *session, std::move(decl))) return false;
    }
  }
  session->matrices.push_back(std::move(matrix));
  r = Value();
  return true;
}

bool expect_success_fn(Thread& t, const Value&, Args& a, Value& r) {
  if (!vm::no_args(t, "expect_success", a)) return false;
  r = Value::adopt(new ExpectValue());
  return true;
}

bool expect_error_within_fn(Thread& t, const Value&, Args& a, Value& r) {
  Value ms;
  if (!vm::unpack(t, "expect_error_within", a, {{"ms", &ms}})) return false;
  std::int64_t n = 0;
  if (!vm::want_int(t, "expect_error_within", ms, n)) return false;
  if (n <= 0) return t.fail("expect_error_within: ms must be > 0, got " + std::to_string(n));
  auto* e = new ExpectValue();
  e->kind = ExpectValue::Kind::kErrorWithin;
  e->ms = n;
  r = Value::adopt(e);
  return true;
}

bool expect_hang_fn(Thread& t, const Value&, Args& a, Value& r) {
  if (!vm::no_args(t, "expect_hang", a)) return false;
  auto* e = new ExpectValue();
  e->kind = ExpectValue::Kind::kHang;
  r = Value::adopt(e);
  return true;
}

}  // namespace

void add_scenarios(const std::function<void(std::string_view, vm::NativeFn)>& add) {
  add("fault_assumption", fault_assumption_fn);
  add("scenario", scenario_fn);
  add("fault_scenario", fault_scenario_fn);
  add("fault_matrix", fault_matrix_fn);
  add("expect_success", expect_success_fn);
  add("expect_error_within", expect_error_within_fn);
  add("expect_hang", expect_hang_fn);
}

}  // namespace fb::stdlib
