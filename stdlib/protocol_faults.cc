// Protocol faults: rules for the proxies between services, and the fault() window that
// installs them on an interface.
#include "stdlib/protocol_faults.h"

#include <algorithm>

#include "runtime/rules.h"
#include "stdlib/faults.h"
#include "stdlib/session.h"
#include "stdlib/topology.h"
#include "vm/methods.h"
#include "vm/ops.h"
#include "vm/thread.h"

namespace fb::stdlib {

using vm::Args;
using vm::Thread;
using vm::Value;

std::string_view ProxyRuleValue::type_name() const { return "proxy_fault"; }
bool ProxyRuleValue::attr(const Value&, std::string_view name, Value& out) const {
  if (name == "action") return out = vm::make_string(proxy::action_name(rule.action)), true;
  return false;
}
std::vector<std::string> ProxyRuleValue::attr_names() const { return {"action"}; }
void ProxyRuleValue::repr(std::string& out) const { out += rule.text; }

namespace {

/// The keywords every protocol rule takes, and their aliases.
constexpr std::string_view kMatchers[] = {"method", "op",         "path",  "query",  "command",
                                          "key",    "collection", "topic", "subject"};

bool want_string(Thread& t, std::string_view fn, std::string_view key, const Value& v,
                 std::string& out) {
  if (!v.is(vm::Type::kString))
    return t.fail(std::string(fn) + ": " + std::string(key) + " must be a string, got " +
                  std::string(vm::type_of(v)));
  out = vm::str(v);
  return true;
}

/// Reads the keywords of a protocol rule builtin `fn`: the matchers, probability=,
/// nth=, after=, label=, and the builtin's own `extra` keywords (handled by `own`).
bool rule_keywords(Thread& t, std::string_view fn, Args& a, proxy::Rule& rule,
                   std::initializer_list<std::string_view> extra,
                   const std::function<bool(std::string_view, const Value&)>& own) {
  for (auto& [key, v] : a.keywords) {
    std::string_view k = key;
    if (k == "method" || k == "op") {
      if (!want_string(t, fn, k, v, rule.method)) return false;
    } else if (k == "path") {
      if (!want_string(t, fn, k, v, rule.path)) return false;
    } else if (k == "query") {
      if (!want_string(t, fn, k, v, rule.query)) return false;
    } else if (k == "command") {
      if (!want_string(t, fn, k, v, rule.command)) return false;
    } else if (k == "key" || k == "collection") {
      if (!want_string(t, fn, k, v, rule.key)) return false;
    } else if (k == "topic" || k == "subject") {
      if (!want_string(t, fn, k, v, rule.topic)) return false;
    } else if (k == "probability") {
      if (!want_probability(t, fn, v, rule.probability)) return false;
      if (rule.probability <= 0) return t.fail(std::string(fn) + ": probability must be above 0%");
    } else if (k == "label") {
      if (!want_string(t, fn, k, v, rule.label) ||
          !want_name(t, fn, grammar::NameKind::kLabel, rule.label))
        return false;
    } else if (k == "nth" || k == "after") {
      std::int64_t n = 0;
      if (!vm::want_int(t, fn, v, n)) return false;
      if (n < (k == "nth" ? 1 : 0))
        return t.fail(std::string(fn) + ": " + std::string(k) + "= must be at least " +
                      (k == "nth" ? "1" : "0"));
      (k == "nth" ? rule.nth : rule.after) = static_cast<std::uint64_t>(n);
    } else if (k == "trigger") {
      if (!want_trigger(t, fn, v, rule.nth, rule.after)) return false;
    } else if (std::find(extra.begin(), extra.end(), k) != extra.end()) {
      if (!own(k, v)) return false;
    } else {
      std::string valid;
      for (auto m : kMatchers) valid += std::string(valid.empty() ? "" : ", ") + std::string(m);
      for (auto e : extra) valid += ", " + std::string(e);
      return t.fail(std::string(fn) + ": unexpected keyword argument " + std::string(k) +
                    " (valid: " + valid + ", probability, nth, after, trigger, label)");
    }
  }
  std::string text = std::string(fn) + "(";
  for (const auto& [key, v] : a.keywords)
    text += (text.back() == '(' ? "" : ", ") + std::string(key) + "=" + vm::repr(v);
  rule.text = text + ")";
  return true;
}

bool make_rule(Thread& t, std::string_view fn, Args& a, Value& r, proxy::Rule::Action action,
               std::initializer_list<std::string_view> extra,
               const std::function<bool(proxy::Rule&, std::string_view, const Value&)>& own) {
  if (!a.positional.empty())
    return t.fail(std::string(fn) + ": takes keyword arguments only, like " + std::string(fn) +
                  "(path=\"/orders\")");
  auto* value = new ProxyRuleValue();
  r = Value::adopt(value);
  value->rule.action = action;
  return rule_keywords(t, fn, a, value->rule, extra,
                       [&](std::string_view k, const Value& v) { return own(value->rule, k, v); });
}

bool want_status(Thread& t, std::string_view fn, const Value& v, int& out) {
  std::int64_t n = 0;
  if (!vm::want_int(t, fn, v, n)) return false;
  if (n < 100 || n > 999) return t.fail(std::string(fn) + ": status must be 100..999");
  out = static_cast<int>(n);
  return true;
}

bool response_fn(Thread& t, const Value&, Args& a, Value& r) {
  return make_rule(t, "response", a, r, proxy::Rule::Action::kRespond, {"status", "body", "value"},
                   [&](proxy::Rule& rule, std::string_view k, const Value& v) {
                     if (k == "status") return want_status(t, "response", v, rule.status);
                     return want_string(t, "response", k, v, rule.body);
                   });
}

bool error_fn(Thread& t, const Value&, Args& a, Value& r) {
  return make_rule(t, "error", a, r, proxy::Rule::Action::kError, {"message", "status", "sqlstate"},
                   [&](proxy::Rule& rule, std::string_view k, const Value& v) {
                     if (k == "status") return want_status(t, "error", v, rule.status);
                     if (k == "sqlstate") {
                       if (!want_string(t, "error", k, v, rule.sqlstate)) return false;
                       bool valid = rule.sqlstate.size() == 5;
                       for (char ch : rule.sqlstate)
                         valid = valid && ((ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z'));
                       if (!valid)
                         return t.fail(
                             "error: sqlstate= must be five digits or capital "
                             "letters, like \"40P01\", got " +
                             vm::repr(v));
                       return true;
                     }
                     return want_string(t, "error", k, v, rule.message);
                   });
}

bool drop_fn(Thread& t, const Value&, Args& a, Value& r) {
  return make_rule(t, "drop", a, r, proxy::Rule::Action::kDrop, {},
                   [](proxy::Rule&, std::string_view, const Value&) { return true; });
}

bool duplicate_fn(Thread& t, const Value&, Args& a, Value& r) {
  return make_rule(t, "duplicate", a, r, proxy::Rule::Action::kDuplicate, {},
                   [](proxy::Rule&, std::string_view, const Value&) { return true; });
}

}  // namespace

bool check_protocol_rule(Thread& t, const std::string& protocol, const proxy::Rule& rule,
                         const std::string& where) {
  if (protocol == "http") {
    if (rule.action == proxy::Rule::Action::kDuplicate)
      return t.fail("fault: duplicate() is for message queues, not http (" + where + ")");
    if (!rule.query.empty() || !rule.command.empty() || !rule.key.empty() || !rule.topic.empty())
      return t.fail("fault: an http rule matches method= and path= only: " + rule.text);
    return true;
  }
  if (protocol == "redis") {
    if (rule.action == proxy::Rule::Action::kDuplicate)
      return t.fail("fault: duplicate() is for message queues, not redis (" + where + ")");
    if (!rule.method.empty() || !rule.path.empty() || !rule.query.empty() || !rule.topic.empty())
      return t.fail("fault: a redis rule matches command= and key= only: " + rule.text);
    return true;
  }
  if (!rule.sqlstate.empty() && protocol != "postgres")
    return t.fail("fault: sqlstate= is for postgres interfaces (" + where + " is " + protocol +
                  ")");
  if (protocol == "postgres") {
    if (rule.action == proxy::Rule::Action::kDuplicate ||
        rule.action == proxy::Rule::Action::kRespond)
      return t.fail("fault: " + std::string(proxy::action_name(rule.action)) +
                    "() has no postgres form (" + where +
                    "); use error(), drop() or delay(delay=...)");
    if (!rule.method.empty() || !rule.path.empty() || !rule.command.empty() || !rule.key.empty() ||
        !rule.topic.empty())
      return t.fail("fault: a postgres rule matches query= only (SQL, like \"INSERT*\"): " +
                    rule.text);
    return true;
  }
  if (protocol != "tcp")
    return t.fail("fault: protocol rules on " + protocol + " interfaces are not supported yet (" +
                  where + " is " + protocol +
                  "; tcp, http, redis and postgres interfaces take rules)");
  if (rule.action == proxy::Rule::Action::kError || rule.action == proxy::Rule::Action::kDuplicate)
    return t.fail("fault: " + std::string(proxy::action_name(rule.action)) +
                  "() means nothing to a tcp byte stream (" + where +
                  "); use drop(), response(body=...) or delay()");
  if (!rule.path.empty() || !rule.query.empty() || !rule.command.empty() || !rule.key.empty() ||
      !rule.topic.empty())
    return t.fail(
        "fault: a tcp rule matches only method= (a prefix of the first bytes the "
        "caller sends): " +
        rule.text);
  return true;
}

bool protocol_delay(Thread& t, Args& a, Value& r) {
  bool has_delay = false;
  bool ok = make_rule(t, "delay", a, r, proxy::Rule::Action::kDelay, {"delay"},
                      [&](proxy::Rule& rule, std::string_view, const Value& v) {
                        if (!v.is(vm::Type::kString))
                          return t.fail("delay: delay= must be a duration string like \"2s\"");
                        std::string why;
                        auto d = runtime::parse_duration(vm::str(v), why);
                        if (!d) return t.fail("delay: delay=: " + why);
                        if (d->count() <= 0) return t.fail("delay: delay= must be positive");
                        rule.delay = *d;
                        has_delay = true;
                        return true;
                      });
  if (!ok) return false;
  if (!has_delay)
    return t.fail(
        "delay: want delay(\"500ms\") for a syscall or delay(delay=\"500ms\", ...) "
        "for a protocol rule");
  return true;
}

bool protocol_fault_window(Thread& t, Args& a, Value& r) {
  const auto& ref = *a.positional[0].as<InterfaceRef>();
  std::string where = ref.service + "." + ref.decl.name;
  Value run, source;
  for (auto& [key, v] : a.keywords) {
    if (key == "run") {
      run = v;
    } else if (key == "source") {
      source = v;
    } else {
      return t.fail("fault: on an interface (" + where +
                    ") the keywords are run= and source=; rules are positional, like "
                    "fault(" +
                    where + ", drop(), run=fn), got " + std::string(key) + "=");
    }
  }
  if (run.is(vm::Type::kNone))
    return t.fail("fault: missing run=, the function to run under the rules");
  std::string caller;
  if (!source.is(vm::Type::kNone)) {
    if (!source.is(vm::Type::kHost) || vm::type_of(source) != "service")
      return t.fail("fault: source= must be a service, got " + std::string(vm::type_of(source)));
    caller = source.as<ServiceValue>()->name;
  }
  if (a.positional.size() < 2)
    return t.fail("fault: no rules for " + where + " (give drop(), response(), delay(delay=...))");
  std::vector<proxy::Rule> rules;
  for (std::size_t i = 1; i < a.positional.size(); ++i) {
    const Value& v = a.positional[i];
    if (!v.is(vm::Type::kHost) || vm::type_of(v) != "proxy_fault")
      return t.fail("fault: argument " + std::to_string(i + 1) +
                    " must be a protocol rule like "
                    "drop() or response(...), got " +
                    std::string(vm::type_of(v)));
    proxy::Rule rule = v.as<ProxyRuleValue>()->rule;
    if (!check_protocol_rule(t, ref.decl.protocol, rule, where)) return false;
    rule.source = caller;
    rules.push_back(std::move(rule));
  }
  Session* session = Session::of(t);
  if (!session || !session->run || !session->run->proxies)
    return t.fail(
        "fault: there are no running services here (faults are installed from a "
        "test body)");
  Session::Run& state = *session->run;
  auto set = state.proxies->install(ref.service, ref.decl.name, rules);
  state.proxy_installed.push_back({ref.service, ref.decl.name, set, std::move(rules)});
  Args none;
  bool ok = vm::call(t, run, none, r);
  state.proxies->remove(set);
  return ok;
}

void add_protocol_faults(const std::function<void(std::string_view, vm::NativeFn)>& add) {
  add("response", response_fn);
  add("error", error_fn);
  add("drop", drop_fn);
  add("duplicate", duplicate_fn);
}

}  // namespace fb::stdlib
