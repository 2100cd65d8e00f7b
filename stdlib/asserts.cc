// assert_true and assert_eq, and the table of every builtin and namespace (lookup).
#include <algorithm>
#include <map>

#include "stdlib/builtins.h"
#include "stdlib/fanout.h"
#include "stdlib/faults.h"
#include "stdlib/matchers.h"
#include "stdlib/observe.h"
#include "stdlib/parallel.h"
#include "stdlib/protocol_faults.h"
#include "stdlib/queries.h"
#include "stdlib/scenarios.h"
#include "stdlib/session.h"
#include "stdlib/temporal.h"
#include "stdlib/topology.h"
#include "vm/methods.h"
#include "vm/ops.h"

namespace fb::stdlib {
namespace {

using vm::Args;
using vm::Thread;
using vm::Value;

/// Counts an assertion for the running test (TEST_NO_ASSERTIONS needs to know).
void count_assertion(Thread& t) {
  if (Session* s = Session::of(t); s && s->run) ++s->run->assertions;
}

/// The message of an assertion: positional (as the reference takes it), msg= or
/// message= (as its documentation shows); giving two is an error.
bool message_of(Thread& t, std::string_view fn, Value& msg, Value& message) {
  if (!msg.is(vm::Type::kNone) && !message.is(vm::Type::kNone))
    return t.fail(std::string(fn) + ": give the message once, as msg or message=");
  if (msg.is(vm::Type::kNone)) msg = std::move(message);
  return true;
}

/// assert_true(cond, msg).
bool assert_true(Thread& t, const Value&, Args& a, Value& r) {
  Value cond, msg, message;
  if (!vm::unpack(t, "assert_true", a, {{"cond", &cond}, {"msg?", &msg}, {"message?", &message}}) ||
      !message_of(t, "assert_true", msg, message))
    return false;
  count_assertion(t);
  r = Value();
  if (vm::truth(cond)) return true;
  return fail_assertion(t, "assert_true",
                        msg.is(vm::Type::kNone) ? "assertion failed" : vm::str(msg));
}

/// assert_eq(actual, expected, msg): "assert_eq failed: A != B (msg)".
bool assert_eq(Thread& t, const Value&, Args& a, Value& r) {
  Value actual, expected, msg, message;
  if (!vm::unpack(
          t, "assert_eq", a,
          {{"actual", &actual}, {"expected", &expected}, {"msg?", &msg}, {"message?", &message}}) ||
      !message_of(t, "assert_eq", msg, message))
    return false;
  count_assertion(t);
  r = Value();
  bool same = false;
  if (!vm::equals(t, actual, expected, same)) return false;
  if (same) return true;
  std::string text = "assert_eq failed: " + vm::repr(actual) + " != " + vm::repr(expected);
  if (!msg.is(vm::Type::kNone)) text += " (" + vm::str(msg) + ")";
  return fail_assertion(t, "assert_eq", text);
}

}  // namespace

Value namespace_value(std::string_view name,
                      std::vector<std::pair<std::string, vm::NativeFn>> members) {
  // A Struct keeps its fields sorted by name.
  std::sort(members.begin(), members.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  auto* ns = new vm::Struct();
  Value value = Value::adopt(ns);
  for (auto& [member, fn] : members) {
    Value builtin = Value::adopt(new vm::Builtin(std::string(name) + "." + member, fn));
    builtin.object()->frozen = true;
    builtin.object()->immortal = true;
    ns->fields.emplace_back(std::move(member), std::move(builtin));
  }
  return value;
}

Value lookup(std::string_view name) {
  // Never destroyed, so its immortal builtins stay reachable until exit.
  static const auto& table = *new std::map<std::string_view, Value>([] {
    std::map<std::string_view, Value> m;
    auto add = [&](std::string_view n, vm::NativeFn fn) {
      Value v = Value::adopt(new vm::Builtin(std::string(n), fn));
      v.object()->frozen = true;
      v.object()->immortal = true;
      m.emplace(n, std::move(v));
    };
    add("assert_true", assert_true);
    add("assert_eq", assert_eq);
    add_topology(add);
    add_faults(add);
    add_queries(add);
    add_fanout(add);
    add_scenarios(add);
    add_parallel(add);
    add_protocol_faults(add);
    auto add_value = [&](std::string_view n, Value v) {
      v.object()->frozen = true;
      v.object()->immortal = true;
      m.emplace(n, std::move(v));
    };
    add_observe(add, add_value);
    add_matchers(add, add_value);
    add_temporal(add);
    return m;
  }());
  auto it = table.find(name);
  return it == table.end() ? Value() : it->second;
}

}  // namespace fb::stdlib
