// The topology builtins: service(), interface(), and the tcp()/http() healthchecks. They
// run while a spec's top level runs and register services with the Session; the values
// they return are host objects (vm::HostObject) with the reference's attributes.
#include <algorithm>

#include "runtime/rules.h"
#include "stdlib/builtins.h"
#include "stdlib/faults.h"
#include "stdlib/observe.h"
#include "stdlib/session.h"
#include "stdlib/steps.h"
#include "stdlib/topology.h"
#include "vm/methods.h"
#include "vm/ops.h"
#include "vm/thread.h"

namespace fb::stdlib {

using vm::Args;
using vm::Thread;
using vm::Value;

// ---- values ----------------------------------------------------------------------------------

std::string_view InterfaceValue::type_name() const { return "interface"; }
bool InterfaceValue::attr(const Value&, std::string_view name, Value& out) const {
  if (name == "name") return out = vm::make_string(decl.name), true;
  if (name == "protocol") return out = vm::make_string(decl.protocol), true;
  if (name == "port") return out = Value::integer(decl.port), true;
  return false;
}
std::vector<std::string> InterfaceValue::attr_names() const { return {"name", "port", "protocol"}; }
void InterfaceValue::repr(std::string& out) const {
  out += "interface(\"" + decl.name + "\", \"" + decl.protocol + "\", " +
         std::to_string(decl.port) + ")";
}

std::string_view HealthcheckValue::type_name() const { return "healthcheck"; }
bool HealthcheckValue::attr(const Value&, std::string_view, Value&) const { return false; }
std::vector<std::string> HealthcheckValue::attr_names() const { return {}; }
void HealthcheckValue::repr(std::string& out) const {
  out += (check.kind == Healthcheck::Kind::kTcp ? "tcp(\"" : "http(\"") + check.target + "\")";
}

std::string_view OpValue::type_name() const { return "op"; }
bool OpValue::attr(const Value&, std::string_view name, Value& out) const {
  if (name == "path") return out = vm::make_string(decl.path), true;
  if (name == "syscalls") {
    std::vector<Value> items;
    for (const auto& s : decl.syscalls) items.push_back(vm::make_string(s));
    out = vm::make_list(std::move(items));
    return true;
  }
  return false;
}
std::vector<std::string> OpValue::attr_names() const { return {"path", "syscalls"}; }
void OpValue::repr(std::string& out) const {
  out += "op(syscalls = [";
  for (std::size_t i = 0; i < decl.syscalls.size(); ++i)
    out += (i ? ", \"" : "\"") + decl.syscalls[i] + "\"";
  out += "]";
  if (!decl.path.empty()) out += ", path = \"" + decl.path + "\"";
  out += ")";
}

std::string_view InterfaceRef::type_name() const { return "interface_ref"; }
bool InterfaceRef::attr(const Value& self, std::string_view name, Value& out) const {
  if (name == "addr") return out = vm::make_string("localhost:" + std::to_string(decl.port)), true;
  if (name == "host") return out = vm::make_string("localhost"), true;
  if (name == "port") return out = Value::integer(decl.port), true;
  if (name == "name") return out = vm::make_string(decl.name), true;
  if (name == "protocol") return out = vm::make_string(decl.protocol), true;
  if (name == "service") return out = vm::make_string(service), true;
  return step_method(*this, self, name, out);
}
std::vector<std::string> InterfaceRef::attr_names() const {
  std::vector<std::string> names{"addr", "host", "name", "port", "protocol", "service"};
  for (auto& m : step_methods(*this)) names.push_back(m);
  std::sort(names.begin(), names.end());
  return names;
}
void InterfaceRef::repr(std::string& out) const {
  out += "<interface " + service + "." + decl.name + " " + decl.protocol +
         " localhost:" + std::to_string(decl.port) + ">";
}

std::string_view ServiceValue::type_name() const { return "service"; }
bool ServiceValue::attr(const Value&, std::string_view wanted, Value& out) const {
  // Interface names come first, as in the reference: an interface called "name" wins.
  for (const auto& i : interfaces) {
    if (i.name == wanted) {
      auto* ref = new InterfaceRef();
      ref->service = name;
      ref->decl = i;
      out = Value::adopt(ref);
      return true;
    }
  }
  if (wanted == "name") return out = vm::make_string(name), true;
  // svc.get(...) and the like: the shorthand for a service with one interface.
  if (interfaces.size() == 1) {
    InterfaceRef ref;
    ref.service = name;
    ref.decl = interfaces[0];
    return step_method(ref, Value(), wanted, out);
  }
  return false;
}
std::vector<std::string> ServiceValue::attr_names() const {
  std::vector<std::string> names{"name"};
  for (const auto& i : interfaces) names.push_back(i.name);
  std::sort(names.begin(), names.end());
  return names;
}
void ServiceValue::repr(std::string& out) const { out += "<service " + name + ">"; }

// ---- builtins --------------------------------------------------------------------------------

namespace {

Session* session_for(Thread& t, std::string_view fn) {
  Session* s = Session::of(t);
  if (!s)
    t.fail(std::string(fn) + "() declares topology: it runs only in a spec run by faultbox test");
  return s;
}

bool want_text(Thread& t, std::string_view fn, std::string_view param, const Value& v,
               std::string& out) {
  if (!v.is(vm::Type::kString))
    return t.fail(std::string(fn) + ": " + std::string(param) + " must be a string, got " +
                  std::string(vm::type_of(v)));
  out = vm::str(v);
  return true;
}

/// A Go-style duration string ("10s", "500ms") as milliseconds.
bool want_duration(Thread& t, std::string_view fn, std::string_view param, const Value& v,
                   std::chrono::milliseconds& out) {
  std::string text;
  if (!want_text(t, fn, param, v, text)) return false;
  std::string why;
  auto d = runtime::parse_duration(text, why);
  if (!d) return t.fail(std::string(fn) + ": " + std::string(param) + ": " + why);
  if (d->count() <= 0)
    return t.fail(std::string(fn) + ": " + std::string(param) + " must be positive, got \"" + text +
                  "\"");
  out = std::chrono::ceil<std::chrono::milliseconds>(*d);
  return true;
}

bool interface_fn(Thread& t, const Value&, Args& a, Value& r) {
  Value name, protocol, port, spec, tls, idle_timeout;
  if (!vm::unpack(t, "interface", a,
                  {{"name", &name},
                   {"protocol", &protocol},
                   {"port", &port},
                   {"spec?", &spec},
                   {"tls?", &tls},
                   {"idle_timeout?", &idle_timeout}}))
    return false;
  auto* value = new InterfaceValue();
  r = Value::adopt(value);
  if (!want_text(t, "interface", "name", name, value->decl.name)) return false;
  if (!want_text(t, "interface", "protocol", protocol, value->decl.protocol)) return false;
  std::int64_t number = 0;
  if (!vm::want_int(t, "interface", port, number)) return false;
  if (number < 1 || number > 65535)
    return t.fail("interface: port must be between 1 and 65535, got " + std::to_string(number));
  value->decl.port = static_cast<int>(number);
  if (!want_name(t, "interface", grammar::NameKind::kInterface, value->decl.name)) return false;
  if (!idle_timeout.is(vm::Type::kNone) &&
      !want_duration(t, "interface", "idle_timeout", idle_timeout, value->decl.idle_timeout))
    return false;
  return true;
}

bool healthcheck_fn(Thread& t, Args& a, Value& r, Healthcheck::Kind kind) {
  std::string_view fn = kind == Healthcheck::Kind::kTcp ? "tcp" : "http";
  Value target, timeout;
  if (!vm::unpack(
          t, fn, a,
          {{kind == Healthcheck::Kind::kTcp ? "addr" : "url", &target}, {"timeout?", &timeout}}))
    return false;
  auto* value = new HealthcheckValue();
  r = Value::adopt(value);
  value->check.kind = kind;
  if (!want_text(t, fn, kind == Healthcheck::Kind::kTcp ? "addr" : "url", target,
                 value->check.target))
    return false;
  if (kind == Healthcheck::Kind::kTcp && value->check.target.starts_with("tcp://"))
    value->check.target.erase(0, 6);
  if (kind == Healthcheck::Kind::kHttp && !value->check.target.starts_with("http://") &&
      !value->check.target.starts_with("https://"))
    value->check.target = "http://" + value->check.target;
  if (!timeout.is(vm::Type::kNone) &&
      !want_duration(t, fn, "timeout", timeout, value->check.timeout))
    return false;
  return true;
}

bool tcp_fn(Thread& t, const Value&, Args& a, Value& r) {
  return healthcheck_fn(t, a, r, Healthcheck::Kind::kTcp);
}

/// ready(timeout="30s"): the service is asked in its own protocol, on its first
/// interface, when it starts (the runner knows which service it is for).
bool ready_fn(Thread& t, const Value&, Args& a, Value& r) {
  if (!a.positional.empty())
    return t.fail("ready: takes only timeout=, like ready(timeout=\"30s\")");
  Value timeout;
  if (!vm::unpack(t, "ready", a, {{"timeout?", &timeout}})) return false;
  auto* value = new HealthcheckValue();
  r = Value::adopt(value);
  value->check.kind = Healthcheck::Kind::kReady;
  value->check.timeout = std::chrono::seconds(30);
  if (!timeout.is(vm::Type::kNone) &&
      !want_duration(t, "ready", "timeout", timeout, value->check.timeout))
    return false;
  return true;
}
bool http_fn(Thread& t, const Value&, Args& a, Value& r) {
  return healthcheck_fn(t, a, r, Healthcheck::Kind::kHttp);
}

bool string_list(Thread& t, std::string_view param, const Value& v, std::vector<std::string>& out) {
  if (!v.is(vm::Type::kList) && !v.is(vm::Type::kTuple))
    return t.fail("service: " + std::string(param) + " must be a list of strings, got " +
                  std::string(vm::type_of(v)));
  for (const Value& item : v.as<vm::List>()->items) {
    if (!item.is(vm::Type::kString))
      return t.fail("service: " + std::string(param) + " must hold strings, got " +
                    std::string(vm::type_of(item)));
    out.push_back(vm::str(item));
  }
  return true;
}

/// op(syscalls = [...], path = ""): the syscalls are checked here, with a did-you-mean,
/// so a misspelt op fails where it is written rather than when it is faulted.
bool op_fn(Thread& t, const Value&, Args& a, Value& r) {
  if (!a.positional.empty())
    return t.fail("op: takes only keyword arguments (syscalls=, path=), got " +
                  std::to_string(a.positional.size()) + " positional");
  OpDecl decl;
  bool have_syscalls = false;
  for (auto& [key, v] : a.keywords) {
    if (key == "syscalls") {
      if (!v.is(vm::Type::kList) && !v.is(vm::Type::kTuple))
        return t.fail("op: syscalls must be a list of syscall names, got " +
                      std::string(vm::type_of(v)));
      for (const Value& item : v.as<vm::List>()->items) {
        if (!item.is(vm::Type::kString))
          return t.fail("op: syscalls must hold strings, got " + std::string(vm::type_of(item)));
        std::string name = vm::str(item);
        std::vector<std::string> expanded;
        if (!syscalls_of(t, "op", name, expanded)) return false;
        decl.syscalls.push_back(std::move(name));
      }
      have_syscalls = true;
    } else if (key == "path") {
      if (!v.is(vm::Type::kString))
        return t.fail("op: path must be a glob string, got " + std::string(vm::type_of(v)));
      decl.path = vm::str(v);
    } else {
      return t.fail("op: unexpected keyword argument " + std::string(key) +
                    " (valid: syscalls, path)");
    }
  }
  if (!have_syscalls || decl.syscalls.empty())
    return t.fail("op: syscalls= must name at least one syscall");
  auto* value = new OpValue();
  value->decl = std::move(decl);
  r = Value::adopt(value);
  return true;
}

bool service_fn(Thread& t, const Value&, Args& a, Value& r) {
  Session* session = session_for(t, "service");
  if (!session) return false;
  ServiceDecl decl;
  if (a.positional.empty()) return t.fail("service: missing argument for name");
  if (!want_text(t, "service", "name", a.positional[0], decl.name)) return false;
  if (!want_name(t, "service", grammar::NameKind::kService, decl.name)) return false;
  std::string where = "service(\"" + decl.name + "\")";
  if (session->find(decl.name))
    return t.fail(where + ": a service with this name is already declared");
  for (std::size_t i = 1; i < a.positional.size(); ++i) {
    const Value& v = a.positional[i];
    if (v.is(vm::Type::kString)) {
      if (!decl.binary.empty())
        return t.fail(where + ": two binaries given (\"" + decl.binary + "\" and \"" + vm::str(v) +
                      "\")");
      decl.binary = vm::str(v);
    } else if (v.is(vm::Type::kHost) && vm::type_of(v) == "interface") {
      const InterfaceDecl& iface = v.as<InterfaceValue>()->decl;
      if (decl.find_interface(iface.name))
        return t.fail(where + ": two interfaces named \"" + iface.name + "\"");
      decl.interfaces.push_back(iface);
    } else {
      return t.fail(where + ": positional argument " + std::to_string(i + 1) +
                    " must be the binary (a string) or an interface(), got " +
                    std::string(vm::type_of(v)));
    }
  }
  for (auto& [key, v] : a.keywords) {
    if (key == "binary") {
      if (!decl.binary.empty()) return t.fail(where + ": binary given twice");
      if (!want_text(t, where, "binary", v, decl.binary)) return false;
    } else if (key == "image" || key == "build" || key == "remote") {
      return t.fail(where + ": " + std::string(key) +
                    "= services (containers and remote hosts) are not supported yet; use binary=");
    } else if (key == "healthcheck") {
      if (v.is(vm::Type::kNone)) continue;
      if (!v.is(vm::Type::kHost) || vm::type_of(v) != "healthcheck")
        return t.fail(where + ": healthcheck must be tcp(...), http(...) or ready(), got " +
                      std::string(vm::type_of(v)));
      decl.healthcheck = v.as<HealthcheckValue>()->check;
    } else if (key == "env") {
      if (!v.is(vm::Type::kDict))
        return t.fail(where + ": env must be a dict of strings, got " +
                      std::string(vm::type_of(v)));
      for (const auto& e : v.as<vm::Dict>()->entries) {
        if (!e.key.is(vm::Type::kString) || !e.value.is(vm::Type::kString))
          return t.fail(where + ": env must map strings to strings, got " +
                        std::string(vm::type_of(e.key)) + ": " + std::string(vm::type_of(e.value)));
        decl.env.emplace_back(vm::str(e.key), vm::str(e.value));
      }
    } else if (key == "args") {
      if (!string_list(t, "args", v, decl.args)) return false;
    } else if (key == "depends_on") {
      if (!v.is(vm::Type::kList) && !v.is(vm::Type::kTuple))
        return t.fail(where + ": depends_on must be a list of services, got " +
                      std::string(vm::type_of(v)));
      for (const Value& dep : v.as<vm::List>()->items) {
        if (dep.is(vm::Type::kString))
          decl.depends_on.push_back(vm::str(dep));
        else if (dep.is(vm::Type::kHost) && vm::type_of(dep) == "service")
          decl.depends_on.push_back(dep.as<ServiceValue>()->name);
        else
          return t.fail(where + ": depends_on must hold services or names, got " +
                        std::string(vm::type_of(dep)));
      }
    } else if (key == "seccomp" || key == "reuse") {
      if (!v.is(vm::Type::kBool))
        return t.fail(where + ": " + std::string(key) + " must be True or False, got " +
                      std::string(vm::type_of(v)));
      (key == "seccomp" ? decl.seccomp : decl.reuse) = vm::truth(v);
    } else if (key == "ops") {
      if (!v.is(vm::Type::kDict))
        return t.fail(where + ": ops must be a dict of name: op(...), got " +
                      std::string(vm::type_of(v)));
      for (const auto& e : v.as<vm::Dict>()->entries) {
        if (!e.key.is(vm::Type::kString))
          return t.fail(where + ": ops keys must be names (strings), got " +
                        std::string(vm::type_of(e.key)));
        std::string name = vm::str(e.key);
        if (!want_name(t, where, grammar::NameKind::kOp, name)) return false;
        if (!e.value.is(vm::Type::kHost) || vm::type_of(e.value) != "op")
          return t.fail(where + ": ops[\"" + name + "\"] must be op(syscalls = [...]), got " +
                        std::string(vm::type_of(e.value)));
        if (name == "run" || name == "source")
          return t.fail(where + ": an op cannot be named \"" + name +
                        "\", which fault() takes as its own keyword");
        decl.ops[name] = e.value.as<OpValue>()->decl;
      }
    } else if (key == "observe") {
      if (!v.is(vm::Type::kList) && !v.is(vm::Type::kTuple))
        return t.fail(where + ": observe must be a list like [observe.stdout()], got " +
                      std::string(vm::type_of(v)));
      for (const Value& item : v.as<vm::List>()->items) {
        if (!item.is(vm::Type::kHost) || vm::type_of(item) != "observe_source")
          return t.fail(where +
                        ": observe items must be observe.stdout(...) or "
                        "observe.stderr(...), got " +
                        std::string(vm::type_of(item)));
        const Observation& o = item.as<ObserveValue>()->observation;
        for (const Observation& seen : decl.observe)
          if (seen.stream == o.stream)
            return t.fail(where + ": " + o.stream + " is observed twice; one decoder per stream");
        decl.observe.push_back(o);
      }
    } else if (key == "volumes" || key == "ports" || key == "seed" || key == "reset" ||
               key == "nondeterministic_ok") {
      return t.fail(where + ": " + std::string(key) + "= is not supported yet");
    } else {
      return t.fail(where + ": unexpected keyword argument " + std::string(key) +
                    " (valid: binary, healthcheck, env, args, depends_on, ops, seccomp, reuse, "
                    "observe)");
    }
  }
  if (decl.binary.empty())
    return t.fail(where + ": no binary given (a string after the name, or binary=)");
  if (decl.reuse && !decl.observe.empty())
    return t.fail(where +
                  ": observe= on a reused service is not supported yet (its output "
                  "outlives the test that would observe it)");
  if (decl.healthcheck.kind == Healthcheck::Kind::kReady && decl.interfaces.empty())
    return t.fail(where +
                  ": ready() asks the service through its interface, and it has none "
                  "(give an interface, or use tcp(...)/http(...))");
  auto* value = new ServiceValue();
  value->name = decl.name;
  value->interfaces = decl.interfaces;
  r = Value::adopt(value);
  session->services.push_back(std::move(decl));
  return true;
}

}  // namespace

void add_topology(const std::function<void(std::string_view, vm::NativeFn)>& add) {
  add("service", service_fn);
  add("interface", interface_fn);
  add("op", op_fn);
  add("tcp", tcp_fn);
  add("ready", ready_fn);
  add("http", http_fn);
}

}  // namespace fb::stdlib
