// match.event/any/all/never, and await_event: wait for an event the test expects.
#include "stdlib/matchers.h"

#include <chrono>
#include <thread>

#include "runtime/rules.h"
#include "stdlib/builtins.h"
#include "stdlib/parallel.h"
#include "stdlib/queries.h"
#include "stdlib/session.h"
#include "vm/methods.h"
#include "vm/ops.h"
#include "vm/thread.h"

namespace fb::stdlib {

using vm::Args;
using vm::Thread;
using vm::Value;

bool MatcherValue::matches(const runtime::Event& e) const {
  switch (kind) {
    case Kind::kNever: return false;
    case Kind::kAny:
      for (const Value& c : children)
        if (c.as<MatcherValue>()->matches(e)) return true;
      return false;
    case Kind::kAll:
      for (const Value& c : children)
        if (!c.as<MatcherValue>()->matches(e)) return false;
      return true;
    case Kind::kEvent: break;
  }
  for (const auto& [key, glob] : globs) {
    std::string value = key == "type" ? e.type : key == "service" ? e.service : e.text(key);
    if (!filter_match(glob, value)) return false;
  }
  return true;
}

std::string_view MatcherValue::type_name() const { return "matcher"; }
bool MatcherValue::attr(const Value&, std::string_view, Value&) const { return false; }
std::vector<std::string> MatcherValue::attr_names() const { return {}; }
void MatcherValue::repr(std::string& out) const {
  switch (kind) {
    case Kind::kNever: out += "match.never()"; return;
    case Kind::kAny:
    case Kind::kAll: {
      out += kind == Kind::kAny ? "match.any(" : "match.all(";
      for (std::size_t i = 0; i < children.size(); ++i) {
        if (i) out += ", ";
        children[i].as<MatcherValue>()->repr(out);
      }
      out += ")";
      return;
    }
    case Kind::kEvent: break;
  }
  out += "match.event(";
  for (std::size_t i = 0; i < globs.size(); ++i)
    out += (i ? ", " : "") + globs[i].first + "=" + vm::repr(vm::make_string(globs[i].second));
  out += ")";
}
bool is_matcher(const Value& v) { return v.is(vm::Type::kHost) && vm::type_of(v) == "matcher"; }

void MatcherValue::freeze_values() {
  for (Value& c : children) vm::freeze(c);
}

namespace {

bool match_event(Thread& t, const Value&, Args& a, Value& r) {
  if (!a.positional.empty())
    return t.fail(
        "match.event: takes field=glob keywords only, like "
        "match.event(type=\"syscall\", syscall=\"write\")");
  auto* m = new MatcherValue();
  r = Value::adopt(m);
  for (auto& [key, v] : a.keywords) {
    if (!v.is(vm::Type::kString))
      return t.fail("match.event: " + std::string(key) + "= must be a string glob, got " +
                    std::string(vm::type_of(v)));
    m->globs.emplace_back(std::string(key), vm::str(v));
  }
  return true;
}

bool compose(Thread& t, Args& a, Value& r, MatcherValue::Kind kind, const char* fn) {
  if (!a.keywords.empty())
    return t.fail(std::string(fn) + ": takes matchers as positional arguments only");
  auto* m = new MatcherValue();
  r = Value::adopt(m);
  m->kind = kind;
  for (std::size_t i = 0; i < a.positional.size(); ++i) {
    if (!is_matcher(a.positional[i]))
      return t.fail(std::string(fn) + ": argument " + std::to_string(i + 1) +
                    " must be a matcher like match.event(...), got " +
                    std::string(vm::type_of(a.positional[i])));
    m->children.push_back(a.positional[i]);
  }
  return true;
}

bool match_any(Thread& t, const Value&, Args& a, Value& r) {
  return compose(t, a, r, MatcherValue::Kind::kAny, "match.any");
}
bool match_all(Thread& t, const Value&, Args& a, Value& r) {
  return compose(t, a, r, MatcherValue::Kind::kAll, "match.all");
}
bool match_never(Thread& t, const Value&, Args& a, Value& r) {
  if (!a.positional.empty() || !a.keywords.empty())
    return t.fail("match.never: takes no arguments");
  auto* m = new MatcherValue();
  r = Value::adopt(m);
  m->kind = MatcherValue::Kind::kNever;
  return true;
}

/// await_event(matcher_or_fn, timeout=None, clock="wall"): the first event of the test
/// that matches, waiting for it when there is none yet. Without timeout= it waits as
/// long as the test may run.
bool await_event(Thread& t, const Value&, Args& a, Value& r) {
  if (a.positional.size() != 1)
    return t.fail(
        "await_event: give one matcher or function, like "
        "await_event(match.event(type=\"stdout\"))");
  Value what = a.positional[0];
  bool callable = what.is(vm::Type::kFunction) || what.is(vm::Type::kBuiltin);
  if (!callable && !is_matcher(what))
    return t.fail("await_event: the argument must be a matcher or a function of an event, got " +
                  std::string(vm::type_of(what)));
  using Clock = std::chrono::steady_clock;
  std::optional<Clock::time_point> until;
  std::string limit_text;
  for (auto& [key, v] : a.keywords) {
    if (key == "clock") {
      if (!v.is(vm::Type::kString) || vm::str(v) != "wall")
        return t.fail("await_event: clock must be \"wall\"");
    } else if (key == "timeout") {
      std::string why;
      std::optional<std::chrono::nanoseconds> d;
      if (v.is(vm::Type::kString)) d = runtime::parse_duration(vm::str(v), why);
      if (!d || d->count() <= 0)
        return t.fail("await_event: timeout must be a positive duration like \"2s\"");
      until = Clock::now() + std::chrono::ceil<Clock::duration>(*d);
      limit_text = vm::str(v);
    } else {
      return t.fail("await_event: unexpected keyword argument " + std::string(key) +
                    " (valid: timeout, clock)");
    }
  }
  Session* session = Session::of(t);
  Session::Run* run = session ? session->run : nullptr;
  if (!run) return t.fail("await_event: there is no running test here");
  // Reaching the test's own deadline is the test timing out (inconclusive), not this
  // wait failing: then the wait goes on until the runner cancels the body.
  if (run->deadline && until && *run->deadline <= *until) until.reset();
  std::size_t seen = 0;
  for (;;) {
    // Only what was appended since the last look: the log shares its events.
    std::vector<runtime::EventLog::Shared> fresh = run->log->since(seen);
    seen += fresh.size();
    for (const auto& e : fresh) {
      bool hit = false;
      if (callable) {
        Args args;
        args.positional.push_back(EventValue::make(e));
        Value result;
        if (!vm::call(t, what, args, result))
          return t.fail("await_event: the function failed: " + t.error());
        hit = vm::truth(result);
      } else {
        hit = what.as<MatcherValue>()->matches(*e);
      }
      if (hit) {
        r = EventValue::make(e);
        return true;
      }
    }
    if (t.cancelled.load()) return t.fail("await_event: cancelled");
    if (until && Clock::now() >= *until)
      return t.fail("await_event: no matching event within " + limit_text + " (waited for " +
                    vm::repr(what) + ")");
    VmUnlocked unlocked;  // services and other branches go on meanwhile
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

void add_matchers(const std::function<void(std::string_view, vm::NativeFn)>& add,
                  const std::function<void(std::string_view, vm::Value)>& add_value) {
  add("await_event", await_event);
  add_value("match", namespace_value("match", {{"all", match_all},
                                               {"any", match_any},
                                               {"event", match_event},
                                               {"never", match_never}}));
}

}  // namespace fb::stdlib
