// deny(), delay(), allow() and fault(): syscall faults as the spec writes them.
#include "stdlib/faults.h"

#include <charconv>

#include <algorithm>
#include <cmath>

#include "grammar/suggest.h"
#include "runtime/syscalls.h"
#include "stdlib/protocol_faults.h"
#include "stdlib/scenarios.h"
#include "stdlib/session.h"
#include "stdlib/topology.h"
#include "vm/methods.h"
#include "vm/ops.h"
#include "vm/thread.h"

namespace fb::stdlib {

using vm::Args;
using vm::Thread;
using vm::Value;

std::string_view FaultValue::type_name() const { return "fault"; }
bool FaultValue::attr(const Value&, std::string_view name, Value& out) const {
  if (name == "label") return out = vm::make_string(rule.label), true;
  return false;
}
std::vector<std::string> FaultValue::attr_names() const { return {"label"}; }
void FaultValue::repr(std::string& out) const { out += text; }

namespace {

/// The most occurrences an exhaustive probability site may pin: 2^62 leaves still count
/// in 64 bits (the plan gate is what keeps a run sensible).
constexpr std::uint64_t kMaxExhaustive = 62;

// The reference's faultable names; with the families, what a computed fault may name.
constexpr std::string_view kDefaultTraps[] = {
    "write", "read",  "connect",  "openat",  "fsync",     "sendto",  "recvfrom", "writev",
    "readv", "close", "pwrite64", "pread64", "fdatasync", "sendmsg", "recvmsg",  "open"};

/// What an ordered parallel() watches to know that a service has settled after a step:
/// the calls by which a service changes files or talks to others.
constexpr std::string_view kSettleTraps[] = {"write",  "writev",  "pwrite64", "fsync",  "fdatasync",
                                             "openat", "connect", "sendto",   "sendmsg"};

}  // namespace

/// "20%", 20, 0.2 and "0.2" all mean 20%: a number above 1 is a percentage, as in the
/// reference (so 1 means 100%).
bool want_probability(Thread& t, std::string_view fn, const Value& v, double& out) {
  double p = 0;
  if (v.is(vm::Type::kInt)) {
    p = static_cast<double>(v.as_int());
  } else if (v.is(vm::Type::kFloat)) {
    p = v.as_float();
  } else if (v.is(vm::Type::kString)) {
    std::string text = vm::str(v);
    if (!text.empty() && text.back() == '%') text.pop_back();
    char* end = nullptr;
    p = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0')
      return t.fail(std::string(fn) + ": probability \"" + vm::str(v) +
                    "\" is not a number (write \"20%\" or 0.2)");
  } else {
    return t.fail(std::string(fn) + ": probability must be a number or \"N%\", got " +
                  std::string(vm::type_of(v)));
  }
  if (std::isnan(p)) return t.fail(std::string(fn) + ": probability is not a number");
  if (p > 1) p /= 100;
  if (p < 0 || p > 1)
    return t.fail(std::string(fn) + ": probability " + vm::repr(v) + " is outside 0%..100%");
  out = p;
  return true;
}

namespace {

/// The keywords deny() and delay() share.
bool common_options(Thread& t, std::string_view fn, Args& a, FaultValue& value) {
  for (auto& [key, v] : a.keywords) {
    auto& rule = value.rule;
    if (key == "probability") {
      if (!want_probability(t, fn, v, rule.probability)) return false;
    } else if (key == "label") {
      if (!v.is(vm::Type::kString))
        return t.fail(std::string(fn) + ": label must be a string, got " +
                      std::string(vm::type_of(v)));
      rule.label = vm::str(v);
      if (!want_name(t, fn, grammar::NameKind::kLabel, rule.label)) return false;
    } else if (key == "nth" || key == "after") {
      std::int64_t n = 0;
      if (!vm::want_int(t, fn, v, n)) return false;
      if (n < (key == "nth" ? 1 : 0))
        return t.fail(std::string(fn) + ": " + std::string(key) + "= must be at least " +
                      (key == "nth" ? "1" : "0"));
      (key == "nth" ? rule.nth : rule.after) = static_cast<std::uint64_t>(n);
    } else if (key == "trigger") {
      // The spelling of `faultbox run --fault`, "nth=3" or "after=5", as a keyword.
      if (!want_trigger(t, fn, v, rule.nth, rule.after)) return false;
    } else if (key == "max_fires") {
      std::int64_t n = 0;
      if (!vm::want_int(t, fn, v, n)) return false;
      if (n <= 0) return t.fail(std::string(fn) + ": max_fires must be > 0");
      rule.max_fires = static_cast<std::uint64_t>(n);
    } else if (key == "mode") {
      std::string mode = v.is(vm::Type::kString) ? vm::str(v) : "";
      if (mode != "exhaustive" && mode != "stochastic")
        return t.fail(std::string(fn) + ": mode must be \"exhaustive\" or \"stochastic\"");
      value.stochastic = mode == "stochastic";
    } else {
      return t.fail(std::string(fn) + ": unexpected keyword argument " + std::string(key) +
                    " (valid: probability, label, nth, after, trigger, max_fires, mode)");
    }
  }
  if (value.rule.nth && value.rule.after)
    return t.fail(std::string(fn) + ": nth= and after= cannot be combined");
  if (value.rule.max_fires && value.rule.probability >= 1.0)
    return t.fail(std::string(fn) + ": max_fires= is only meaningful with probability < 1");
  if (value.rule.max_fires > kMaxExhaustive && !value.stochastic)
    return t.fail(std::string(fn) + ": max_fires=" + std::to_string(value.rule.max_fires) +
                  " in exhaustive mode is 2^" + std::to_string(value.rule.max_fires) +
                  " plan leaves; the limit is " + std::to_string(kMaxExhaustive) +
                  " (or use mode=\"stochastic\")");
  return true;
}

std::string written(std::string_view fn, const std::string& first, const Args& a) {
  std::string text = std::string(fn) + "(" + first;
  for (const auto& [key, v] : a.keywords)
    text += (text.back() == '(' ? "" : ", ") + std::string(key) + "=" + vm::repr(v);
  return text + ")";
}

bool deny_fn(Thread& t, const Value&, Args& a, Value& r) {
  if (a.positional.size() != 1)
    return t.fail("deny: want one errno, like deny(\"EIO\"), got " +
                  std::to_string(a.positional.size()) + " positional arguments");
  if (!a.positional[0].is(vm::Type::kString))
    return t.fail("deny: errno must be a string like \"EIO\", got " +
                  std::string(vm::type_of(a.positional[0])));
  std::string name = vm::str(a.positional[0]);
  const runtime::ErrnoInfo* e = runtime::find_errno(name);
  if (!e) {
    std::string message = "deny: unknown errno \"" + name + "\"";
    if (auto near = grammar::closest_match(name, runtime::errno_names()))
      message += " (did you mean \"" + *near + "\"?)";
    return t.fail(message);
  }
  auto* value = new FaultValue();
  r = Value::adopt(value);
  value->rule.action = runtime::FaultRule::Action::kDeny;
  value->rule.error = e->number;
  value->text = written("deny", "\"" + std::string(e->name) + "\"", a);
  return common_options(t, "deny", a, *value);
}

bool delay_fn(Thread& t, const Value&, Args& a, Value& r) {
  if (a.positional.empty()) return protocol_delay(t, a, r);
  if (a.positional.size() != 1) return t.fail("delay: want one duration, like delay(\"500ms\")");
  if (!a.positional[0].is(vm::Type::kString))
    return t.fail("delay: the duration must be a string like \"500ms\", got " +
                  std::string(vm::type_of(a.positional[0])));
  std::string why;
  auto d = runtime::parse_duration(vm::str(a.positional[0]), why);
  if (!d) return t.fail("delay: " + why);
  if (d->count() < 0) return t.fail("delay: a delay cannot be negative");
  auto* value = new FaultValue();
  r = Value::adopt(value);
  value->rule.action = runtime::FaultRule::Action::kDelay;
  value->rule.delay = *d;
  value->text = written("delay", vm::repr(a.positional[0]), a);
  return common_options(t, "delay", a, *value);
}

bool allow_fn(Thread& t, const Value&, Args& a, Value& r) {
  if (!vm::no_args(t, "allow", a)) return false;
  auto* value = new FaultValue();
  value->rule.action = runtime::FaultRule::Action::kAllow;
  value->text = "allow()";
  r = Value::adopt(value);
  return true;
}

/// The service a fault builtin acts on: its first positional argument.
bool target_service(Thread& t, std::string_view fn, const Args& a, std::string& service) {
  if (a.positional.empty()) return t.fail(std::string(fn) + ": missing argument for the service");
  const Value& target = a.positional[0];
  if (!target.is(vm::Type::kHost) || vm::type_of(target) != "service")
    return t.fail(std::string(fn) + ": the target must be a service, got " +
                  std::string(vm::type_of(target)) +
                  " (faults on interfaces and assumptions are not supported yet)");
  if (a.positional.size() > 1)
    return t.fail(std::string(fn) +
                  ": protocol rules (fault(svc.iface, error(...))) are not supported yet");
  service = target.as<ServiceValue>()->name;
  return true;
}

/// An exhaustive probability site is a plan axis, named by its label or service:keyword;
/// this leaf fixes which of the rule's first max_fires matching calls it fires on.
bool pin_to_leaf(Thread& t, std::string_view fn, Session::Run& run, const std::string& service,
                 runtime::FaultRule& rule) {
  Axis axis;
  axis.kind = Axis::Kind::kProbability;
  std::string key = rule.op.empty() ? rule.source.substr(0, rule.source.find('=')) : rule.op;
  axis.name = rule.label.empty() ? service + ":" + key : rule.label;
  axis.cardinality = std::uint64_t{1} << rule.max_fires;
  std::string error;
  auto digit = run.meet(axis, error);
  if (!digit) return t.fail(std::string(fn) + ": " + error);
  std::string bits;
  for (std::uint64_t b = 0; b < rule.max_fires; ++b) {
    rule.pinned.push_back(((*digit >> b) & 1) != 0);
    bits += (b ? "," : "") + std::string(rule.pinned.back() ? "1" : "0");
  }
  if (std::none_of(run.choices.begin(), run.choices.end(),
                   [&](const auto& c) { return c.first == axis.name; }))
    run.choices.emplace_back(axis.name, "[" + bits + "]");
  return true;
}

/// Installs `rules` on the running `service` as one set.
std::optional<runtime::RuleSetId> install(Thread& t, std::string_view fn,
                                          const std::string& service,
                                          std::vector<runtime::FaultRule> rules) {
  Session* session = Session::of(t);
  if (!session || !session->run) {
    t.fail(std::string(fn) + ": there is no running service \"" + service +
           "\" here (faults are installed from a test body)");
    return std::nullopt;
  }
  auto target = session->run->targets.find(service);
  if (target == session->run->targets.end()) {
    t.fail(std::string(fn) + ": service \"" + service + "\" is not running");
    return std::nullopt;
  }
  for (auto& rule : rules)
    if (rule.exhaustive && rule.pinned.empty() && !pin_to_leaf(t, fn, *session->run, service, rule))
      return std::nullopt;
  std::string error;
  std::vector<runtime::FaultRule> copy = rules;
  auto set = session->run->supervisor->install(target->second, std::move(rules), error);
  if (set) {
    session->run->installed.push_back({service, *set, std::move(copy)});
    return set;
  }
  if (error.find("does not trap") != std::string::npos)
    t.fail("[FAULT_NOT_FILTERABLE] " + std::string(fn) + ": " + error +
           ". A service's filter is fixed when it starts, from the syscalls the spec names "
           "literally in fault() calls; name it in one (e.g. write=deny(\"EIO\"))");
  else
    t.fail(std::string(fn) + ": " + error);
  return std::nullopt;
}

/// Calls `run` under the rule set, then removes the set, also when run failed (the
/// error stays on the thread). Returns run's value.
bool run_under(Thread& t, runtime::RuleSetId set, const Value& run, Value& r) {
  Args none;
  bool ok = vm::call(t, run, none, r);
  Session::of(t)->run->supervisor->remove(set);
  return ok;
}

/// fault(), fault_start() and fault_all(): every keyword but run= names one of the
/// service's ops or a syscall or family, and its value is the fault for it. An op gives
/// a rule over the op's syscalls, limited to its path glob.
bool fault_rules(Thread& t, std::string_view fn, const std::string& service, Args& a, Value& run,
                 std::vector<runtime::FaultRule>& rules) {
  Session* session = Session::of(t);
  const ServiceDecl* decl = session ? session->find(service) : nullptr;
  for (auto& [key, v] : a.keywords) {
    if (key == "run") {
      run = v;
      continue;
    }
    if (key == "source")
      return t.fail(std::string(fn) +
                    ": source= applies to protocol faults, which are not supported yet");
    const OpDecl* op = nullptr;
    if (decl)
      if (auto it = decl->ops.find(key); it != decl->ops.end()) op = &it->second;
    std::vector<std::string> syscalls;
    if (op) {
      for (const auto& name : op->syscalls) {
        auto expanded = runtime::expand(runtime::host_arch(), name);
        syscalls.insert(syscalls.end(), expanded.begin(), expanded.end());
      }
    } else if (decl && !decl->ops.empty() && runtime::expand(runtime::host_arch(), key).empty()) {
      std::vector<std::string> names;
      std::string ops;
      for (const auto& [name, _] : decl->ops) {
        names.push_back(name);
        ops += (ops.empty() ? "" : ", ") + name;
      }
      std::string message = std::string(fn) + ": \"" + std::string(key) +
                            "\" is neither a syscall nor an op of service \"" + service +
                            "\" (its ops: " + ops + ")";
      if (auto near = grammar::closest_match(key, names))
        message += "; did you mean \"" + *near + "\"?";
      return t.fail(message);
    } else if (!syscalls_of(t, fn, key, syscalls)) {
      return false;
    }
    if (!v.is(vm::Type::kHost) || vm::type_of(v) != "fault")
      return t.fail(std::string(fn) + ": " + std::string(key) +
                    "= must be a fault (deny, delay or allow), got " + std::string(vm::type_of(v)) +
                    ", for example " + std::string(key) + "=deny(\"EIO\")");
    const FaultValue& given = *v.as<FaultValue>();
    runtime::FaultRule rule = given.rule;
    if (op) {
      rule.path_glob = op->path;
      rule.op = std::string(key);
    }
    rule.exhaustive = rule.max_fires && rule.probability < 1.0 && !given.stochastic;
    rule.syscalls = std::move(syscalls);
    rule.source = std::string(key) + "=" + v.as<FaultValue>()->text;
    rules.push_back(std::move(rule));
  }
  return true;
}

/// fault(assumption, run=fn): every rule group of the assumption for the window.
bool fault_assumption_window(Thread& t, Args& a, Value& r) {
  Value run;
  for (auto& [key, v] : a.keywords) {
    if (key != "run")
      return t.fail("fault: with a fault_assumption, the only keyword is run= (got " +
                    std::string(key) + ")");
    run = v;
  }
  if (a.positional.size() != 1)
    return t.fail("fault: with a fault_assumption, take no other positional arguments");
  if (run.is(vm::Type::kNone))
    return t.fail("fault: missing run=, the function to run under the faults");
  std::vector<runtime::RuleSetId> sets;
  if (!apply_assumptions(t, "fault", {a.positional[0]}, sets)) return false;
  Args none;
  bool ok = vm::call(t, run, none, r);
  remove_sets(t, sets);
  return ok;
}

bool fault_fn(Thread& t, const Value&, Args& a, Value& r) {
  if (!a.positional.empty() && a.positional[0].is(vm::Type::kHost) &&
      vm::type_of(a.positional[0]) == "fault_assumption")
    return fault_assumption_window(t, a, r);
  if (!a.positional.empty() && a.positional[0].is(vm::Type::kHost) &&
      vm::type_of(a.positional[0]) == "interface_ref")
    return protocol_fault_window(t, a, r);
  std::string service;
  if (!target_service(t, "fault", a, service)) return false;
  Value run;
  std::vector<runtime::FaultRule> rules;
  if (!fault_rules(t, "fault", service, a, run, rules)) return false;
  if (run.is(vm::Type::kNone))
    return t.fail("fault: missing run=, the function to run under the faults");
  auto set = install(t, "fault", service, std::move(rules));
  return set && run_under(t, *set, run, r);
}

bool fault_start_fn(Thread& t, const Value&, Args& a, Value& r) {
  std::string service;
  if (!target_service(t, "fault_start", a, service)) return false;
  Value run;
  std::vector<runtime::FaultRule> rules;
  if (!fault_rules(t, "fault_start", service, a, run, rules)) return false;
  if (!run.is(vm::Type::kNone))
    return t.fail("fault_start: takes no run= (use fault(..., run=fn) for a window)");
  auto set = install(t, "fault_start", service, std::move(rules));
  if (!set) return false;
  Session::of(t)->run->started[service].push_back(*set);
  r = Value();
  return true;
}

/// fault_all([svc, ...], run = fn, **faults): the same faults on every listed service
/// (each service's own ops resolve), installed before fn runs and all removed after it.
bool fault_all_fn(Thread& t, const Value&, Args& a, Value& r) {
  if (a.positional.size() != 1)
    return t.fail("fault_all: want one list of services first, like fault_all([db, cache], ...)");
  const Value& list = a.positional[0];
  if (!list.is(vm::Type::kList) && !list.is(vm::Type::kTuple))
    return t.fail("fault_all: the first argument must be a list of services, got " +
                  std::string(vm::type_of(list)));
  std::vector<std::string> services;
  for (const Value& item : list.as<vm::List>()->items) {
    if (!item.is(vm::Type::kHost) || vm::type_of(item) != "service")
      return t.fail("fault_all: the list must hold services, got " +
                    std::string(vm::type_of(item)));
    services.push_back(item.as<ServiceValue>()->name);
  }
  if (services.empty()) return t.fail("fault_all: the list of services is empty");
  std::vector<std::vector<runtime::FaultRule>> per_service;
  Value run;
  for (const auto& service : services) {
    per_service.emplace_back();
    if (!fault_rules(t, "fault_all", service, a, run, per_service.back())) return false;
  }
  if (run.is(vm::Type::kNone))
    return t.fail("fault_all: missing run=, the function to run under the faults");
  std::vector<runtime::RuleSetId> sets;
  auto remove_all = [&] {
    for (auto it = sets.rbegin(); it != sets.rend(); ++it)
      Session::of(t)->run->supervisor->remove(*it);
  };
  for (std::size_t i = 0; i < services.size(); ++i) {
    auto set = install(t, "fault_all", services[i], std::move(per_service[i]));
    if (!set) {
      remove_all();
      return false;
    }
    sets.push_back(*set);
  }
  Args none;
  bool ok = vm::call(t, run, none, r);
  remove_all();
  return ok;
}

/// fault_stop and trace_stop: remove what the _start builtin installed on a service.
bool stop_started(Thread& t, std::string_view fn, Args& a,
                  decltype(Session::Run::started) Session::Run::*which, Value& r) {
  std::string service;
  if (!target_service(t, fn, a, service)) return false;
  if (!a.keywords.empty()) return t.fail(std::string(fn) + ": takes only the service");
  Session* session = Session::of(t);
  if (!session || !session->run) return t.fail(std::string(fn) + ": there is no running test here");
  auto& sets = (session->run->*which)[service];
  for (auto it = sets.rbegin(); it != sets.rend(); ++it) session->run->supervisor->remove(*it);
  sets.clear();
  r = Value();
  return true;
}

bool fault_stop_fn(Thread& t, const Value&, Args& a, Value& r) {
  return stop_started(t, "fault_stop", a, &Session::Run::started, r);
}

/// trace() and trace_start(): syscalls= names what to record, as "trace" decisions.
bool trace_rules(Thread& t, std::string_view fn, Args& a, Value& run,
                 std::vector<runtime::FaultRule>& rules) {
  Value syscalls;
  for (auto& [key, v] : a.keywords) {
    if (key == "run")
      run = v;
    else if (key == "syscalls")
      syscalls = v;
    else
      return t.fail(std::string(fn) + ": unexpected keyword argument " + std::string(key) +
                    " (use syscalls= for the list)");
  }
  if (!syscalls.is(vm::Type::kList) && !syscalls.is(vm::Type::kTuple))
    return t.fail(std::string(fn) + ": syscalls= must be a list of syscall names");
  runtime::FaultRule rule;
  rule.action = runtime::FaultRule::Action::kTrace;
  for (const Value& item : syscalls.as<vm::List>()->items) {
    if (!item.is(vm::Type::kString))
      return t.fail(std::string(fn) + ": syscalls= must hold strings, got " +
                    std::string(vm::type_of(item)));
    std::vector<std::string> names;
    if (!syscalls_of(t, fn, vm::str(item), names)) return false;
    rule.syscalls.insert(rule.syscalls.end(), names.begin(), names.end());
    rule.source += (rule.source.empty() ? "" : ",") + vm::str(item);
  }
  if (rule.syscalls.empty()) return t.fail(std::string(fn) + ": syscalls= is empty");
  rule.source = "trace(" + rule.source + ")";
  rules.push_back(std::move(rule));
  return true;
}

bool trace_fn(Thread& t, const Value&, Args& a, Value& r) {
  std::string service;
  if (!target_service(t, "trace", a, service)) return false;
  Value run;
  std::vector<runtime::FaultRule> rules;
  if (!trace_rules(t, "trace", a, run, rules)) return false;
  if (run.is(vm::Type::kNone)) return t.fail("trace: missing run=, the function to trace");
  auto set = install(t, "trace", service, std::move(rules));
  return set && run_under(t, *set, run, r);
}

bool trace_start_fn(Thread& t, const Value&, Args& a, Value& r) {
  std::string service;
  if (!target_service(t, "trace_start", a, service)) return false;
  Value run;
  std::vector<runtime::FaultRule> rules;
  if (!trace_rules(t, "trace_start", a, run, rules)) return false;
  if (!run.is(vm::Type::kNone))
    return t.fail("trace_start: takes no run= (use trace(..., run=fn))");
  auto set = install(t, "trace_start", service, std::move(rules));
  if (!set) return false;
  Session::of(t)->run->traced[service].push_back(*set);
  r = Value();
  return true;
}

bool trace_stop_fn(Thread& t, const Value&, Args& a, Value& r) {
  return stop_started(t, "trace_stop", a, &Session::Run::traced, r);
}

}  // namespace

bool syscalls_of(Thread& t, std::string_view fn, std::string_view name,
                 std::vector<std::string>& out) {
  out = runtime::expand(runtime::host_arch(), name);
  if (!out.empty()) return true;
  std::vector<std::string> names = runtime::syscall_names(runtime::host_arch());
  for (auto& f : runtime::family_names()) names.push_back(f);
  std::string message = std::string(fn) + ": unknown syscall \"" + std::string(name) + "\"";
  if (auto near = grammar::closest_match(name, names))
    message += " (did you mean \"" + *near + "\"?)";
  return t.fail(message);
}

bool build_fault_rules(Thread& t, std::string_view fn, const std::string& service, Args& a,
                       Value& run, std::vector<runtime::FaultRule>& rules) {
  return fault_rules(t, fn, service, a, run, rules);
}

std::optional<runtime::RuleSetId> install_rules(Thread& t, std::string_view fn,
                                                const std::string& service,
                                                std::vector<runtime::FaultRule> rules) {
  return install(t, fn, service, std::move(rules));
}

bool faultable(std::string_view name) {
  return !runtime::expand(runtime::host_arch(), name).empty();
}

std::map<std::string, std::set<int>, std::less<>> trap_sets(
    const std::vector<ir::StaticFact>& facts, const std::vector<ServiceDecl>& services,
    const std::function<std::string(std::string_view global)>& service_of) {
  std::map<std::string, std::set<int>, std::less<>> sets;
  for (const auto& s : services) sets[s.name];
  auto add = [](std::set<int>& into, std::string_view name) {
    for (const auto& s : runtime::expand(runtime::host_arch(), name))
      if (auto nr = runtime::syscall_number(runtime::host_arch(), s)) into.insert(*nr);
  };
  for (const auto& fact : facts) {
    if (fact.builtin == "parallel") {
      // An ordered parallel() waits for the services to settle after each step, which
      // it sees by their trapped calls: every service traps the calls that change state.
      auto policy = std::find_if(fact.args.begin(), fact.args.end(),
                                 [](const auto& arg) { return arg.keyword == "interleavings"; });
      bool ordered =
          policy != fact.args.end() &&
          !(policy->literal &&
            ((policy->value.kind == ir::Constant::Kind::kInt && policy->value.int_value == 1) ||
             (policy->value.kind == ir::Constant::Kind::kString && policy->value.text == "1")));
      if (ordered)
        for (const auto& s : services)
          for (auto name : kSettleTraps) add(sets[s.name], name);
      continue;
    }
    bool faults = fact.builtin == "fault" || fact.builtin == "fault_start" ||
                  fact.builtin == "fault_all" || fact.builtin == "fault_assumption";
    bool traces = fact.builtin == "trace" || fact.builtin == "trace_start";
    if (!faults && !traces) continue;
    // The services this call can reach: one, when its target is a service's global.
    std::vector<const ServiceDecl*> targets;
    // fault_assumption names its service with target=; the others take it first.
    bool assumption = fact.builtin == "fault_assumption";
    auto first = std::find_if(fact.args.begin(), fact.args.end(), [&](const auto& arg) {
      return assumption ? arg.keyword == "target" : arg.keyword.empty();
    });
    std::string named;
    if (fact.builtin != "fault_all" && first != fact.args.end() && !first->literal &&
        first->shape.starts_with("name "))
      named = service_of(first->shape.substr(5));
    for (const auto& s : services)
      if (named.empty() || s.name == named) targets.push_back(&s);
    for (const ServiceDecl* target : targets) {
      std::set<int>& into = sets[target->name];
      if (traces) {
        for (auto name : kDefaultTraps) add(into, name);  // syscalls= lists are not folded
        continue;
      }
      for (const auto& arg : fact.args) {
        const std::string& key = arg.keyword;
        if (key == "**") {
          for (auto name : kDefaultTraps) add(into, name);
        } else if (auto op = target->ops.find(key); op != target->ops.end()) {
          for (const auto& name : op->second.syscalls) add(into, name);
        } else if (!key.empty() && key != "*" && key != "run" && key != "source" &&
                   !(assumption && (key == "target" || key == "faults" || key == "rules" ||
                                    key == "monitors" || key == "description")) &&
                   faultable(key)) {
          add(into, key);
        }
      }
    }
  }
  return sets;
}

void add_faults(const std::function<void(std::string_view, vm::NativeFn)>& add) {
  add("deny", deny_fn);
  add("delay", delay_fn);
  add("allow", allow_fn);
  add("fault", fault_fn);
  add("fault_start", fault_start_fn);
  add("fault_all", fault_all_fn);
  add("fault_stop", fault_stop_fn);
  add("trace", trace_fn);
  add("trace_start", trace_start_fn);
  add("trace_stop", trace_stop_fn);
}

bool want_trigger(Thread& t, std::string_view fn, const Value& v, std::uint64_t& nth,
                  std::uint64_t& after) {
  std::string text = v.is(vm::Type::kString) ? vm::str(v) : "";
  bool is_nth = text.starts_with("nth="), is_after = text.starts_with("after=");
  std::string_view digits = std::string_view(text).substr(is_nth ? 4 : 6);
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  bool ok = (is_nth || is_after) && !digits.empty() && ec == std::errc() &&
            end == digits.data() + digits.size() && (is_after || n > 0);
  if (!ok)
    return t.fail(std::string(fn) + ": trigger must be \"nth=N\" (N >= 1) or \"after=N\", got " +
                  vm::repr(v));
  (is_nth ? nth : after) = n;
  return true;
}

}  // namespace fb::stdlib
