// events() and the assertions over the recorded trace: assert_eventually, assert_never,
// assert_before. Filters match event fields with globs; where= takes a predicate.
#include "stdlib/queries.h"
#include "runtime/rules.h"
#include "stdlib/session.h"
#include "stdlib/steps.h"
#include "vm/methods.h"
#include "vm/ops.h"
#include "vm/thread.h"

namespace fb::stdlib {

using vm::Args;
using vm::Thread;
using vm::Value;

std::string_view EventValue::type_name() const { return "event"; }

Value EventValue::make(std::shared_ptr<const runtime::Event> event) {
  auto* value = new EventValue();
  value->ptr = std::move(event);
  return Value::adopt(value);
}

Value EventValue::make(const runtime::Event& event) {
  return make(std::make_shared<const runtime::Event>(event));
}

namespace {

/// The other event of a causal method: e.happens_before(other).
const runtime::Event* other_event(Thread& t, std::string_view fn, Args& a) {
  if (a.positional.size() != 1 || !a.keywords.empty() || !a.positional[0].is(vm::Type::kHost) ||
      vm::type_of(a.positional[0]) != "event") {
    t.fail("event." + std::string(fn) + ": want one event, like e." + std::string(fn) + "(other)");
    return nullptr;
  }
  return &a.positional[0].as<EventValue>()->event();
}

const runtime::Event& self_event(const Value& self) { return self.as<EventValue>()->event(); }

bool happens_before_fn(Thread& t, const Value& self, Args& a, Value& r) {
  const runtime::Event* other = other_event(t, "happens_before", a);
  if (!other) return false;
  r = Value::boolean(runtime::happens_before(self_event(self).clock, other->clock));
  return true;
}
bool happens_after_fn(Thread& t, const Value& self, Args& a, Value& r) {
  const runtime::Event* other = other_event(t, "happens_after", a);
  if (!other) return false;
  r = Value::boolean(runtime::happens_before(other->clock, self_event(self).clock));
  return true;
}
bool concurrent_with_fn(Thread& t, const Value& self, Args& a, Value& r) {
  const runtime::Event* other = other_event(t, "concurrent_with", a);
  if (!other) return false;
  const auto& mine = self_event(self);
  r = Value::boolean(mine.seq != other->seq && !runtime::happens_before(mine.clock, other->clock) &&
                     !runtime::happens_before(other->clock, mine.clock));
  return true;
}
bool same_service_as_fn(Thread& t, const Value& self, Args& a, Value& r) {
  const runtime::Event* other = other_event(t, "same_service_as", a);
  if (!other) return false;
  r = Value::boolean(self_event(self).service == other->service);
  return true;
}
bool same_correlation_as_fn(Thread& t, const Value& self, Args& a, Value& r) {
  const runtime::Event* other = other_event(t, "same_correlation_as", a);
  if (!other) return false;
  std::string mine = self_event(self).text("correlation_id");
  r = Value::boolean(!mine.empty() && mine == other->text("correlation_id"));
  return true;
}
bool duration_since_fn(Thread& t, const Value& self, Args& a, Value& r) {
  const runtime::Event* other = other_event(t, "duration_since", a);
  if (!other) return false;
  r = Value::integer(
      std::chrono::duration_cast<std::chrono::nanoseconds>(self_event(self).time - other->time)
          .count());
  return true;
}

constexpr std::pair<std::string_view, vm::NativeFn> kEventMethods[] = {
    {"concurrent_with", concurrent_with_fn},
    {"duration_since", duration_since_fn},
    {"happens_after", happens_after_fn},
    {"happens_before", happens_before_fn},
    {"same_correlation_as", same_correlation_as_fn},
    {"same_service_as", same_service_as_fn},
};

}  // namespace

bool EventValue::attr(const Value& self, std::string_view name, Value& out) const {
  const runtime::Event& e = *ptr;
  if (name == "seq") return out = Value::integer(static_cast<std::int64_t>(e.seq)), true;
  if (name == "type") return out = vm::make_string(e.type), true;
  if (name == "service") return out = vm::make_string(e.service), true;
  if (name == "timestamp") return out = vm::make_string(runtime::rfc3339(e.time)), true;
  if (name == "fields" || (name == "data" && !e.field("data"))) {
    auto* d = new vm::Dict();
    out = Value::adopt(d);
    Thread scratch;
    for (const auto& [k, v] : e.fields) vm::dict_set(scratch, *d, vm::make_string(k), field(v));
    return true;
  }
  if (name == "data") {
    // A "data" field holding JSON reads as the value it encodes, otherwise as text.
    Thread scratch;
    std::string text = e.text("data");
    if (!json_to_value(scratch, text, out)) out = vm::make_string(std::move(text));
    return true;
  }
  if (event_context_method(self, name, out)) return true;
  for (const auto& [method, fn] : kEventMethods)
    if (name == method)
      return out = Value::adopt(new vm::Builtin(std::string(method), fn, self)), true;
  // Any other name is a field, "" when absent, as in the reference: a predicate can ask
  // e.path of an event that has none.
  const runtime::FieldValue* v = e.field(name);
  out = v ? field(*v) : vm::make_string("");
  return true;
}

std::vector<std::string> EventValue::attr_names() const {
  std::vector<std::string> names{"data", "fields", "seq", "service", "timestamp", "type"};
  for (const auto& [method, fn] : kEventMethods) names.emplace_back(method);
  for (const auto& method : kEventContextMethods) names.push_back(method);
  for (const auto& [k, v] : ptr->fields) names.push_back(k);
  return names;
}

void EventValue::repr(std::string& out) const {
  const runtime::Event& event = *ptr;
  out += "<event #" + std::to_string(event.seq) + " " + event.type;
  if (!event.service.empty()) out += " " + event.service;
  for (const auto& [k, v] : event.fields)
    out += " " + k + "=" +
           (std::holds_alternative<std::int64_t>(v) ? std::to_string(std::get<std::int64_t>(v))
                                                    : std::get<std::string>(v));
  out += ">";
}

Value EventValue::field(const runtime::FieldValue& v) {
  if (const auto* n = std::get_if<std::int64_t>(&v)) return Value::integer(*n);
  return vm::make_string(std::get<std::string>(v));
}

bool filter_match(std::string_view pattern, std::string_view value) {
  if (pattern.empty()) return true;
  if (pattern.find_first_of("*?") == std::string_view::npos) return pattern == value;
  if (runtime::glob_match(pattern, value)) return true;
  // As in the reference: a glob that does not match as a path still matches as a prefix
  // ("deny*" and "deny(input/output error)") or a suffix.
  if (pattern.size() > 1 && pattern.back() == '*' &&
      pattern.find_first_of("*?") == pattern.size() - 1)
    return value.starts_with(pattern.substr(0, pattern.size() - 1));
  if (pattern.size() > 1 && pattern.front() == '*' &&
      pattern.find_first_of("*?", 1) == std::string_view::npos)
    return value.ends_with(pattern.substr(1));
  return false;
}

namespace {

struct Query {
  Value where;
  std::vector<std::pair<std::string, std::string>> filters;  // field → pattern
  std::string describe() const {
    std::string text;
    for (const auto& [k, p] : filters) text += (text.empty() ? "" : ", ") + k + "=\"" + p + "\"";
    return text;
  }
};

bool parse_query(Thread& t, std::string_view fn, Args& a, Query& q) {
  if (!a.positional.empty())
    return t.fail(std::string(fn) + ": takes keyword arguments only (where=, field=pattern)");
  for (auto& [key, v] : a.keywords) {
    if (key == "where") {
      if (!v.is(vm::Type::kFunction) && !v.is(vm::Type::kBuiltin))
        return t.fail(std::string(fn) + ": where= must be a function, got " +
                      std::string(vm::type_of(v)));
      q.where = v;
      continue;
    }
    std::string pattern;
    if (v.is(vm::Type::kString))
      pattern = vm::str(v);
    else if (v.is(vm::Type::kInt))
      pattern = std::to_string(v.as_int());
    else
      return t.fail(std::string(fn) + ": " + std::string(key) + "= must be a string pattern, got " +
                    std::string(vm::type_of(v)));
    q.filters.emplace_back(std::string(key), std::move(pattern));
  }
  return true;
}

std::string text_of(const runtime::Event& e, std::string_view key) {
  if (key == "type") return e.type;
  if (key == "service") return e.service;
  return e.text(key);
}

/// Whether `e` matches; false with an error on the thread when where= failed.
bool matches(Thread& t, std::string_view fn, const Query& q, const runtime::EventLog::Shared& e,
             bool& match) {
  match = false;
  for (const auto& [k, p] : q.filters)
    if (!filter_match(p, text_of(*e, k))) return true;
  if (!q.where.is(vm::Type::kNone)) {
    Args args;
    args.positional.push_back(EventValue::make(e));
    Value result;
    if (!vm::call(t, q.where, args, result))
      return t.fail(std::string(fn) + ": where= failed: " + t.error());
    if (!vm::truth(result)) return true;
  }
  match = true;
  return true;
}

Session::Run* running(Thread& t, std::string_view fn) {
  Session* s = Session::of(t);
  if (!s || !s->run) {
    t.fail(std::string(fn) + ": there is no running test here (the trace exists in a test body)");
    return nullptr;
  }
  return s->run;
}

bool events_fn(Thread& t, const Value&, Args& a, Value& r) {
  Query q;
  if (!parse_query(t, "events", a, q)) return false;
  Session::Run* run = running(t, "events");
  if (!run) return false;
  std::vector<Value> out;
  for (const auto& e : run->log->since(0)) {
    bool match = false;
    if (!matches(t, "events", q, e, match)) return false;
    if (!match) continue;
    out.push_back(EventValue::make(e));
  }
  r = vm::make_list(std::move(out));
  return true;
}

bool assert_eventually_fn(Thread& t, const Value&, Args& a, Value& r) {
  Query q;
  if (!parse_query(t, "assert_eventually", a, q)) return false;
  Session::Run* run = running(t, "assert_eventually");
  if (!run) return false;
  ++run->assertions;
  r = Value();
  for (const auto& e : run->log->since(0)) {
    bool match = false;
    if (!matches(t, "assert_eventually", q, e, match)) return false;
    if (match) return true;
  }
  std::string what = q.describe();
  if (!q.where.is(vm::Type::kNone)) what += std::string(what.empty() ? "" : ", ") + "where=";
  return fail_assertion(t, "assert_eventually",
                        "assert_eventually: no matching event found (" + what + ")");
}

bool assert_never_fn(Thread& t, const Value&, Args& a, Value& r) {
  Query q;
  if (!parse_query(t, "assert_never", a, q)) return false;
  Session::Run* run = running(t, "assert_never");
  if (!run) return false;
  ++run->assertions;
  r = Value();
  for (const auto& e : run->log->since(0)) {
    bool match = false;
    if (!matches(t, "assert_never", q, e, match)) return false;
    if (!match) continue;
    std::string text = vm::repr(EventValue::make(e));
    return fail_assertion(t, "assert_never", "assert_never: found matching event " + text);
  }
  return true;
}

bool dict_query(Thread& t, std::string_view fn, std::string_view which, const Value& v, Query& q) {
  if (!v.is(vm::Type::kDict))
    return t.fail(std::string(fn) + ": " + std::string(which) +
                  "= must be a dict of filters, got " + std::string(vm::type_of(v)));
  for (const auto& e : v.as<vm::Dict>()->entries) {
    if (!e.key.is(vm::Type::kString) || !e.value.is(vm::Type::kString))
      return t.fail(std::string(fn) + ": " + std::string(which) +
                    "= must map field names to patterns");
    q.filters.emplace_back(vm::str(e.key), vm::str(e.value));
  }
  return true;
}

bool assert_before_fn(Thread& t, const Value&, Args& a, Value& r) {
  Value first, then;
  if (!vm::unpack(t, "assert_before", a, {{"first", &first}, {"then", &then}})) return false;
  Query qf, qt;
  if (!dict_query(t, "assert_before", "first", first, qf) ||
      !dict_query(t, "assert_before", "then", then, qt))
    return false;
  Session::Run* run = running(t, "assert_before");
  if (!run) return false;
  ++run->assertions;
  r = Value();
  std::uint64_t first_seq = 0, then_seq = 0;
  for (const auto& e : run->log->since(0)) {
    bool match = false;
    if (!first_seq && matches(t, "assert_before", qf, e, match) && match) first_seq = e->seq;
    if (!then_seq && matches(t, "assert_before", qt, e, match) && match) then_seq = e->seq;
  }
  if (!first_seq)
    return fail_assertion(
        t, "assert_before",
        "assert_before: no event matching 'first' filters (" + qf.describe() + ")");
  if (!then_seq)
    return fail_assertion(
        t, "assert_before",
        "assert_before: no event matching 'then' filters (" + qt.describe() + ")");
  if (first_seq >= then_seq)
    return fail_assertion(
        t, "assert_before",
        "assert_before: 'first' event (seq=" + std::to_string(first_seq) +
            ") did not occur before 'then' event (seq=" + std::to_string(then_seq) + ")");
  return true;
}

}  // namespace

void add_queries(const std::function<void(std::string_view, vm::NativeFn)>& add) {
  add("events", events_fn);
  add("assert_eventually", assert_eventually_fn);
  add("assert_never", assert_never_fn);
  add("assert_before", assert_before_fn);
}

}  // namespace fb::stdlib
