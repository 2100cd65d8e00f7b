// The builtins that make a test more than one run: choose() and the probability sites
// are axes of a plan, whose leaves `faultbox test` runs one by one; halt() and assume()
// end a leaf as halted; test() registers a test with its own setup, timeout and
// assumptions; nondet() names services that interleaving control leaves alone.
#include <algorithm>

#include "runtime/rules.h"
#include "stdlib/fanout.h"
#include "stdlib/session.h"
#include "stdlib/topology.h"
#include "vm/methods.h"
#include "vm/ops.h"
#include "vm/thread.h"

namespace fb::stdlib {

using vm::Args;
using vm::Thread;
using vm::Value;

bool is_callable(const Value& v) { return v.is(vm::Type::kFunction) || v.is(vm::Type::kBuiltin); }

std::string callable_name(const Value& v) {
  return v.is(vm::Type::kFunction) ? v.as<vm::Function>()->code().name : vm::repr(v);
}

Session* registering(Thread& t, std::string_view fn) {
  Session* session = Session::of(t);
  if (!session) {
    t.fail(std::string(fn) + ": tests are registered by faultbox test");
    return nullptr;
  }
  if (session->run) {
    t.fail(std::string(fn) + ": register tests at the top level, not in a test body");
    return nullptr;
  }
  return session;
}

bool register_test(Thread& t, std::string_view fn, Session& session, TestDecl decl) {
  // The name becomes a folder of the run's logs: a matrix cell's, made of a function's
  // and an assumption's names, is checked whole.
  if (!want_name(t, fn, grammar::NameKind::kTest, decl.name)) return false;
  for (const auto& other : session.registered)
    if (other.name == decl.name)
      return t.fail(std::string(fn) + ": \"" + decl.name + "\" is registered twice");
  session.registered.push_back(std::move(decl));
  return true;
}

bool want_timeout(Thread& t, std::string_view where, const Value& v,
                  std::chrono::milliseconds& out) {
  if (v.is(vm::Type::kNone)) return true;
  if (!v.is(vm::Type::kString))
    return t.fail(std::string(where) + ": timeout must be a duration string like \"30s\"");
  std::string why;
  auto d = runtime::parse_duration(vm::str(v), why);
  if (!d) return t.fail(std::string(where) + ": timeout: " + why);
  if (d->count() <= 0) return t.fail(std::string(where) + ": timeout must be positive");
  out = std::chrono::ceil<std::chrono::milliseconds>(*d);
  return true;
}

namespace {

Session::Run* in_body(Thread& t) {
  Session* s = Session::of(t);
  return s ? s->run : nullptr;
}

/// choose(options) / choose(name, options): in a test body, or in the top level of a
/// spec the runner fans out, a named choice with two or more options is an axis and
/// returns the option this leaf takes; anywhere else, and for an anonymous choice, it
/// returns the first option.
bool choose_fn(Thread& t, const Value&, Args& a, Value& r) {
  if (!a.keywords.empty()) return t.fail("choose: takes positional arguments only");
  if (a.positional.empty() || a.positional.size() > 2)
    return t.fail("choose: want choose(options) or choose(name, options), got " +
                  std::to_string(a.positional.size()) + " arguments");
  std::string name;
  if (a.positional.size() == 2) {
    if (!a.positional[0].is(vm::Type::kString))
      return t.fail("choose: the name must be a string, got " +
                    std::string(vm::type_of(a.positional[0])));
    name = vm::str(a.positional[0]);
    if (name.empty()) return t.fail("choose: the name must not be empty");
  }
  const Value& options = a.positional.back();
  std::vector<Value> from_range;
  if (options.is(vm::Type::kRange)) {
    // range(3) is as countable as [0, 1, 2], and the planner counts it too.
    const auto* range = options.as<vm::Range>();
    if (range->length() > 1'000'000) return t.fail("choose: a range of options is too long");
    for (std::int64_t i = 0; i < range->length(); ++i)
      from_range.push_back(Value::integer(range->at(i)));
  } else if (!options.is(vm::Type::kList)) {
    return t.fail("choose: options must be a list or a range, got " +
                  std::string(vm::type_of(options)));
  }
  const auto& items = options.is(vm::Type::kList) ? options.as<vm::List>()->items : from_range;
  if (items.empty()) return t.fail("choose: options must not be empty");
  Session::Run* run = in_body(t);
  if (Session* s = Session::of(t); !run && s) run = s->top;
  if (name.empty() || !run || items.size() < 2) {
    r = items.front();
    return true;
  }
  Axis axis;
  axis.kind = Axis::Kind::kChoose;
  axis.name = name;
  axis.cardinality = items.size();
  axis.site = t.call_site();
  for (const Value& item : items) {
    axis.options.push_back(vm::repr(item));
    axis.values.push_back(item);
  }
  std::string error;
  auto digit = run->meet(axis, error);
  if (!digit) return t.fail("choose: " + error);
  r = items[*digit];
  // The runner may have listed the choice before the body ran (for assume=), with the
  // options another load of the spec had: what the body chose is what it reports.
  auto listed = std::find_if(run->choices.begin(), run->choices.end(),
                             [&](const auto& c) { return c.first == name; });
  if (listed == run->choices.end()) {
    run->choices.emplace_back(name, vm::repr(r));
  } else {
    listed->second = vm::repr(r);
  }
  auto value = std::find_if(run->chosen.begin(), run->chosen.end(),
                            [&](const auto& c) { return c.first == name; });
  if (value == run->chosen.end()) {
    run->chosen.emplace_back(name, r);
  } else {
    value->second = r;
  }
  return true;
}

bool halt_with(Thread& t, Session::Run& run, std::string reason) {
  run.halted = true;
  run.halt_reason = reason;
  return t.fail("halted: " + reason);
}

bool halt_fn(Thread& t, const Value&, Args& a, Value&) {
  if (!a.keywords.empty()) return t.fail("halt: takes the reason as its only argument");
  if (a.positional.size() > 1) return t.fail("halt: takes at most one argument, the reason");
  std::string reason;
  if (!a.positional.empty()) {
    if (!a.positional[0].is(vm::Type::kString))
      return t.fail("halt: the reason must be a string, got " +
                    std::string(vm::type_of(a.positional[0])));
    reason = vm::str(a.positional[0]);
  }
  Session::Run* run = in_body(t);
  if (!run) return t.fail("halt: only a test body can halt");
  return halt_with(t, *run, reason.empty() ? "halt()" : reason);
}

}  // namespace

Value named_choices(const Session::Run* run) {
  Value dict = Value::adopt(new vm::Dict());
  if (run) {
    Thread scratch;
    for (const auto& [name, value] : run->chosen)
      vm::dict_set(scratch, *dict.as<vm::Dict>(), vm::make_string(name), value);
  }
  return dict;
}

bool evaluate_assumption(Thread& t, const Value& assumption, const Session::Run* run, bool& holds) {
  if (assumption.is(vm::Type::kBool)) {
    holds = vm::truth(assumption);
    return true;
  }
  if (!is_callable(assumption))
    return t.fail("assume: want a bool or a predicate over the named choices, got " +
                  std::string(vm::type_of(assumption)));
  Args args;
  args.positional.push_back(named_choices(run));
  Value result;
  if (!vm::call(t, assumption, args, result)) return false;
  holds = vm::truth(result);
  return true;
}

namespace {

/// assume(pred_or_bool): in a body, a false assumption halts the leaf. At the top level
/// it sees the top level's named choices: false stops the load, which makes the leaves
/// of that combination of choices halted (or the spec not load, for the first one).
bool assume_fn(Thread& t, const Value&, Args& a, Value& r) {
  if (!a.keywords.empty() || a.positional.size() != 1)
    return t.fail("assume: want one bool or predicate");
  Session::Run* run = in_body(t);
  Session* session = Session::of(t);
  Session::Run* top = !run && session ? session->top : nullptr;
  bool holds = false;
  if (!evaluate_assumption(t, a.positional[0], run ? run : top, holds)) return false;
  r = Value();
  if (holds) return true;
  if (run) return halt_with(t, *run, "assumption does not hold");
  if (top) {
    top->halted = true;
    top->halt_reason = "the top level's assume() does not hold";
  }
  return t.fail("assume: the spec's assumption does not hold");
}

/// nondet(svc, ...): services whose own timing interleaving control leaves alone.
/// nondet() with no services is an anonymous choice of [True, False]: True, as in the
/// reference, and never an axis.
bool nondet_fn(Thread& t, const Value&, Args& a, Value& r) {
  if (!a.keywords.empty()) return t.fail("nondet: takes services only");
  Session* session = Session::of(t);
  for (const Value& v : a.positional) {
    if (!v.is(vm::Type::kHost) || vm::type_of(v) != "service")
      return t.fail("nondet: want services, got " + std::string(vm::type_of(v)));
    // In a body it holds for that test; at the top level, for every test.
    if (session && session->run)
      session->run->nondeterministic.push_back(v.as<ServiceValue>()->name);
    else if (session)
      session->nondeterministic.push_back(v.as<ServiceValue>()->name);
  }
  r = a.positional.empty() ? Value::boolean(true) : Value();
  return true;
}

/// test(name, body, setup=, timeout=, assume=[...]): registers test_<name>.
bool test_fn(Thread& t, const Value&, Args& a, Value& r) {
  Value name, body, setup, expect, timeout, terminate_when, assume, clock;
  if (!vm::unpack(t, "test", a,
                  {{"name", &name},
                   {"body", &body},
                   {"setup?", &setup},
                   {"expect?", &expect},
                   {"timeout?", &timeout},
                   {"terminate_when?", &terminate_when},
                   {"assume?", &assume},
                   {"clock?", &clock}}))
    return false;
  Session* session = registering(t, "test");
  if (!session) return false;
  if (!name.is(vm::Type::kString))
    return t.fail("test: name must be a string, got " + std::string(vm::type_of(name)));
  if (!want_name(t, "test", grammar::NameKind::kTest, vm::str(name))) return false;
  TestDecl decl;
  decl.name = "test_" + vm::str(name);
  if (!is_callable(body))
    return t.fail("test: body must be a function, got " + std::string(vm::type_of(body)));
  decl.body = body;
  if (!setup.is(vm::Type::kNone)) {
    if (!is_callable(setup))
      return t.fail("test: setup must be a function, got " + std::string(vm::type_of(setup)));
    decl.setup = setup;
  }
  // expect=: an eventually()/always() value, or a list of them (one reference document
  // shows a list; its code took a single value only).
  auto is_property = [](const Value& v) {
    return v.is(vm::Type::kHost) && (vm::type_of(v) == "eventually" || vm::type_of(v) == "always");
  };
  if (is_property(expect)) {
    decl.properties.push_back(expect);
  } else if (expect.is(vm::Type::kList) || expect.is(vm::Type::kTuple)) {
    for (const Value& item : expect.as<vm::List>()->items) {
      if (!is_property(item))
        return t.fail("test: expect= must hold eventually(...) or always(...) values, got " +
                      std::string(vm::type_of(item)));
      decl.properties.push_back(item);
    }
  } else if (!expect.is(vm::Type::kNone)) {
    return t.fail("test: expect= must be eventually(...) or always(...) (or a list of them), got " +
                  std::string(vm::type_of(expect)));
  }
  if (!terminate_when.is(vm::Type::kNone)) {
    if (!terminate_when.is(vm::Type::kHost) || vm::type_of(terminate_when) != "eventually")
      return t.fail(
          "test: terminate_when= must be eventually(...), the condition that ends the "
          "test, got " +
          std::string(vm::type_of(terminate_when)));
    decl.terminate_when = terminate_when;
  }
  if (!clock.is(vm::Type::kNone) && !(clock.is(vm::Type::kString) && vm::str(clock) == "wall"))
    return t.fail("test: clock must be \"wall\" (virtual time is not supported yet)");
  if (!want_timeout(t, "test", timeout, decl.timeout)) return false;
  if (!assume.is(vm::Type::kNone)) {
    if (!assume.is(vm::Type::kList))
      return t.fail("test: assume must be a list of bools or predicates, got " +
                    std::string(vm::type_of(assume)));
    for (const Value& item : assume.as<vm::List>()->items) {
      if (!item.is(vm::Type::kBool) && !is_callable(item))
        return t.fail("test: assume must hold bools or predicates, got " +
                      std::string(vm::type_of(item)));
      decl.assume.push_back(item);
    }
  }
  if (!register_test(t, "test", *session, std::move(decl))) return false;
  r = Value();
  return true;
}

}  // namespace

void add_fanout(const std::function<void(std::string_view, vm::NativeFn)>& add) {
  add("choose", choose_fn);
  add("halt", halt_fn);
  add("assume", assume_fn);
  add("nondet", nondet_fn);
  add("test", test_fn);
}

}  // namespace fb::stdlib
