// deny(), delay(), allow() and fault(): syscall faults as the spec writes them.
#include "stdlib/faults.h"

#include <cmath>

#include "grammar/suggest.h"
#include "runtime/syscalls.h"
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

// The reference's faultable names; with the families, what a computed fault may name.
constexpr std::string_view kDefaultTraps[] = {
    "write", "read",  "connect",  "openat",  "fsync",     "sendto",  "recvfrom", "writev",
    "readv", "close", "pwrite64", "pread64", "fdatasync", "sendmsg", "recvmsg",  "open"};

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
    } else if (key == "nth" || key == "after") {
      std::int64_t n = 0;
      if (!vm::want_int(t, fn, v, n)) return false;
      if (n < (key == "nth" ? 1 : 0))
        return t.fail(std::string(fn) + ": " + std::string(key) + "= must be at least " +
                      (key == "nth" ? "1" : "0"));
      (key == "nth" ? rule.nth : rule.after) = static_cast<std::uint64_t>(n);
    } else if (key == "max_fires") {
      std::int64_t n = 0;
      if (!vm::want_int(t, fn, v, n)) return false;
      if (n <= 0) return t.fail(std::string(fn) + ": max_fires must be > 0");
      rule.max_fires = static_cast<std::uint64_t>(n);
    } else if (key == "mode") {
      std::string mode = v.is(vm::Type::kString) ? vm::str(v) : "";
      if (mode != "exhaustive" && mode != "stochastic")
        return t.fail(std::string(fn) + ": mode must be \"exhaustive\" or \"stochastic\"");
    } else {
      return t.fail(std::string(fn) + ": unexpected keyword argument " + std::string(key) +
                    " (valid: probability, label, nth, after, max_fires, mode)");
    }
  }
  if (value.rule.nth && value.rule.after)
    return t.fail(std::string(fn) + ": nth= and after= cannot be combined");
  if (value.rule.max_fires && value.rule.probability >= 1.0)
    return t.fail(std::string(fn) + ": max_fires= is only meaningful with probability < 1");
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
  if (a.positional.size() != 1)
    return t.fail(
        a.positional.empty()
            ? "delay: protocol delays (delay(delay=..., method=...)) are not supported yet"
            : "delay: want one duration, like delay(\"500ms\")");
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

bool fault_fn(Thread& t, const Value&, Args& a, Value& r) {
  Session* session = Session::of(t);
  if (a.positional.empty()) return t.fail("fault: missing argument for target");
  const Value& target = a.positional[0];
  if (!target.is(vm::Type::kHost) || vm::type_of(target) != "service")
    return t.fail("fault: the target must be a service, got " + std::string(vm::type_of(target)) +
                  " (faults on interfaces and assumptions are not supported yet)");
  if (a.positional.size() > 1)
    return t.fail("fault: protocol rules (fault(svc.iface, error(...))) are not supported yet");
  std::string service = target.as<ServiceValue>()->name;
  Value run;
  std::vector<runtime::FaultRule> rules;
  for (auto& [key, v] : a.keywords) {
    if (key == "run") {
      run = v;
      continue;
    }
    if (key == "source")
      return t.fail("fault: source= applies to protocol faults, which are not supported yet");
    std::vector<std::string> syscalls = runtime::expand(runtime::host_arch(), key);
    if (syscalls.empty()) {
      std::vector<std::string> names = runtime::syscall_names(runtime::host_arch());
      for (auto& f : runtime::family_names()) names.push_back(f);
      std::string message = "fault: unknown syscall \"" + std::string(key) + "\"";
      if (auto near = grammar::closest_match(key, names))
        message += " (did you mean \"" + *near + "\"?)";
      return t.fail(message);
    }
    if (!v.is(vm::Type::kHost) || vm::type_of(v) != "fault")
      return t.fail("fault: " + std::string(key) +
                    "= must be a fault (deny, delay or allow), got " + std::string(vm::type_of(v)) +
                    ", for example " + std::string(key) + "=deny(\"EIO\")");
    runtime::FaultRule rule = v.as<FaultValue>()->rule;
    rule.syscalls = std::move(syscalls);
    rule.source = std::string(key) + "=" + v.as<FaultValue>()->text;
    rules.push_back(std::move(rule));
  }
  if (run.is(vm::Type::kNone))
    return t.fail("fault: missing run=, the function to run under the faults");
  if (!session || !session->run)
    return t.fail("fault: there is no running service \"" + service +
                  "\" here (faults are installed from a test body)");
  auto target_id = session->run->targets.find(service);
  if (target_id == session->run->targets.end())
    return t.fail("fault: service \"" + service + "\" is not running");
  std::string error;
  auto set = session->run->supervisor->install(target_id->second, rules, error);
  if (!set) {
    if (error.find("does not trap") != std::string::npos)
      return t.fail("[FAULT_NOT_FILTERABLE] fault: " + error +
                    ". A service's filter is fixed when it starts, from the syscalls the spec "
                    "names literally in fault() calls; name it in one (e.g. write=deny(\"EIO\"))");
    return t.fail("fault: " + error);
  }
  Args none;
  bool ok = vm::call(t, run, none, r);
  // Always removed, also when run failed; the error stays on the thread.
  session->run->supervisor->remove(*set);
  return ok;
}

}  // namespace

bool faultable(std::string_view name) {
  return !runtime::expand(runtime::host_arch(), name).empty();
}

std::set<int> trap_set(const std::vector<ir::StaticFact>& facts) {
  std::set<int> numbers;
  auto add = [&](std::string_view name) {
    for (const auto& s : runtime::expand(runtime::host_arch(), name))
      if (auto nr = runtime::syscall_number(runtime::host_arch(), s)) numbers.insert(*nr);
  };
  bool everything = false;
  for (const auto& fact : facts) {
    if (fact.builtin == "fault" || fact.builtin == "fault_start") {
      for (const auto& arg : fact.args) {
        if (arg.keyword == "**") everything = true;
        if (arg.keyword.empty() || arg.keyword == "*" || arg.keyword == "**" ||
            arg.keyword == "run" || arg.keyword == "source")
          continue;
        if (faultable(arg.keyword)) add(arg.keyword);
      }
    } else if (fact.builtin == "trace") {
      everything = true;  // its syscalls= list is not folded statically
    }
  }
  if (everything)
    for (auto name : kDefaultTraps) add(name);
  return numbers;
}

void add_faults(const std::function<void(std::string_view, vm::NativeFn)>& add) {
  add("deny", deny_fn);
  add("delay", delay_fn);
  add("allow", allow_fn);
  add("fault", fault_fn);
}

}  // namespace fb::stdlib
