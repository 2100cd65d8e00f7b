// monitor(), eventually(), always(), await_stable(), the trace of temporal predicates,
// and the engine that judges them as events are appended.
#include "stdlib/temporal.h"

#include <algorithm>
#include <chrono>

#include "runtime/rules.h"
#include "stdlib/fanout.h"
#include "stdlib/matchers.h"
#include "stdlib/parallel.h"
#include "stdlib/queries.h"
#include "stdlib/session.h"
#include "vm/methods.h"
#include "vm/ops.h"

namespace fb::stdlib {

using vm::Args;
using vm::Thread;
using vm::Value;

namespace {

constexpr std::string_view kAnchors[] = {"body_start", "body_end", "stable"};

bool is_anchor_name(const Value& v) {
  if (!v.is(vm::Type::kString)) return false;
  std::string s = vm::str(v);
  return std::find(std::begin(kAnchors), std::end(kAnchors), s) != std::end(kAnchors);
}

/// Why a builtin may not run inside a monitor or a temporal predicate, or nullptr. They
/// judge the run: they must not change it, wait in it, or assert in it.
const char* forbidden_reason(const vm::Builtin& b) {
  if (b.self.is(vm::Type::kHost)) {
    std::string_view owner = vm::type_of(b.self);
    if (owner == "interface_ref" || owner == "service")
      return "a step would send traffic from a check of the traffic";
    return nullptr;
  }
  std::string_view n = b.name;
  if (n.starts_with("fault") || n.starts_with("partition") || n == "nondet")
    return "fault injection from a check would change what it judges";
  if (n.starts_with("assert_"))
    return "a check answers by returning True or False, not by asserting";
  if (n == "service" || n == "interface" || n == "mock_service" || n == "test" || n == "scenario" ||
      n == "determinism")
    return "declarations belong at the top level";
  if (n == "monitor" || n == "eventually" || n == "always")
    return "temporal properties are declared at the top level or in a test body";
  if (n == "await_event" || n == "await_stable" || n == "sleep" || n == "parallel")
    return "a check must not wait";
  if (n == "events" || n == "trace" || n == "trace_start" || n == "trace_stop" ||
      n.starts_with("watch"))
    return "a check reads the event or trace it is given";
  if (n == "choose" || n == "halt") return "a check cannot change the plan";
  return nullptr;
}

bool check_guard(Thread& t, const vm::Builtin& b) {
  const char* why = forbidden_reason(b);
  if (!why) return true;
  return t.fail(b.name + "() cannot be called from a monitor or temporal predicate: " + why);
}

/// One line of an error, without the "Error: " framing of a backtrace.
std::string first_line(std::string text) {
  if (auto nl = text.find('\n'); nl != std::string::npos) text.resize(nl);
  return text;
}

// ---- trace ------------------------------------------------------------------------------

/// A selection of events: a matcher, a function of an event, or field=glob keywords.
struct Selector {
  Value matcher_or_fn;
  MatcherValue globs;  // used when keywords were given
  bool any = true;     // nothing given: every event
};

bool parse_selector(Thread& t, std::string_view fn, Args& a, Selector& s) {
  if (a.positional.size() > 1)
    return t.fail("trace." + std::string(fn) + ": give one matcher or field=glob keywords");
  if (a.positional.size() == 1) {
    if (!a.keywords.empty())
      return t.fail("trace." + std::string(fn) + ": give a matcher or keywords, not both");
    const Value& v = a.positional[0];
    if (!is_matcher(v) && !is_callable(v))
      return t.fail("trace." + std::string(fn) +
                    ": want a matcher or a function of an event, got " +
                    std::string(vm::type_of(v)));
    s.matcher_or_fn = v;
    s.any = false;
    return true;
  }
  for (auto& [key, v] : a.keywords) {
    if (!v.is(vm::Type::kString))
      return t.fail(std::string(fn) + ": " + std::string(key) + "= must be a string glob, got " +
                    std::string(vm::type_of(v)));
    s.globs.globs.emplace_back(std::string(key), vm::str(v));
    s.any = false;
  }
  return true;
}

/// Whether `e` is selected; false with the thread's error set when a function failed.
bool selects(Thread& t, const Selector& s, const std::shared_ptr<const runtime::Event>& e,
             bool& hit) {
  hit = true;
  if (s.any) return true;
  if (s.matcher_or_fn.is(vm::Type::kNone)) return hit = s.globs.matches(*e), true;
  if (is_matcher(s.matcher_or_fn))
    return hit = s.matcher_or_fn.as<MatcherValue>()->matches(*e), true;
  Args args;
  args.positional.push_back(EventValue::make(e));
  Value result;
  if (!vm::call(t, s.matcher_or_fn, args, result)) return false;
  hit = vm::truth(result);
  return true;
}

const TraceValue& trace_of(const Value& self) { return *self.as<TraceValue>(); }

/// An event read from a trace: it knows the trace, for preceded_by and its kin.
Value event_in(const std::shared_ptr<const runtime::Event>& e,
               const std::shared_ptr<const History>& history, std::size_t size) {
  auto* value = new EventValue();
  value->ptr = e;
  value->history = history;
  value->size = size;
  return Value::adopt(value);
}

/// The selected events of a trace, oldest first; `limit` stops after that many.
bool select(Thread& t, std::string_view fn, const Value& self, Args& a,
            std::vector<std::shared_ptr<const runtime::Event>>& out, bool newest_first = false,
            std::size_t limit = SIZE_MAX) {
  Selector s;
  if (!parse_selector(t, "trace." + std::string(fn), a, s)) return false;
  const TraceValue& trace = trace_of(self);
  const auto& events = trace.history->events;
  for (std::size_t i = 0; i < trace.size && out.size() < limit; ++i) {
    const auto& e = events[newest_first ? trace.size - 1 - i : i];
    bool hit = false;
    if (!selects(t, s, e, hit)) return false;
    if (hit) out.push_back(e);
  }
  return true;
}

bool trace_last(Thread& t, const Value& self, Args& a, Value& r) {
  std::vector<std::shared_ptr<const runtime::Event>> found;
  if (!select(t, "last", self, a, found, true, 1)) return false;
  const TraceValue& trace = trace_of(self);
  r = found.empty() ? Value() : event_in(found[0], trace.history, trace.size);
  return true;
}
bool trace_first(Thread& t, const Value& self, Args& a, Value& r) {
  std::vector<std::shared_ptr<const runtime::Event>> found;
  if (!select(t, "first", self, a, found, false, 1)) return false;
  const TraceValue& trace = trace_of(self);
  r = found.empty() ? Value() : event_in(found[0], trace.history, trace.size);
  return true;
}
bool trace_count(Thread& t, const Value& self, Args& a, Value& r) {
  std::vector<std::shared_ptr<const runtime::Event>> found;
  if (!select(t, "count", self, a, found)) return false;
  r = Value::integer(static_cast<std::int64_t>(found.size()));
  return true;
}
Value event_list(const std::vector<std::shared_ptr<const runtime::Event>>& events,
                 const Value& trace_value) {
  const TraceValue& trace = trace_of(trace_value);
  auto* list = new EventListValue();
  Value result = Value::adopt(list);
  list->items.reserve(events.size());
  for (const auto& e : events) list->items.push_back(event_in(e, trace.history, trace.size));
  return result;
}
bool trace_events(Thread& t, const Value& self, Args& a, Value& r) {
  std::vector<std::shared_ptr<const runtime::Event>> found;
  if (!select(t, "events", self, a, found)) return false;
  r = event_list(found, self);
  return true;
}

/// An event argument (or None), as the sequence number it stands for.
bool event_arg(Thread& t, std::string_view fn, const Value& v, std::optional<std::uint64_t>& seq) {
  if (v.is(vm::Type::kNone)) return seq.reset(), true;
  if (!v.is(vm::Type::kHost) || vm::type_of(v) != "event")
    return t.fail("trace." + std::string(fn) + ": want an event or None, got " +
                  std::string(vm::type_of(v)));
  seq = v.as<EventValue>()->event().seq;
  return true;
}

/// events_between(start, end): the events strictly after `start` and before `end`
/// (None: the trace's beginning or end).
bool trace_events_between(Thread& t, const Value& self, Args& a, Value& r) {
  if (a.positional.size() != 2 || !a.keywords.empty())
    return t.fail("trace.events_between: want two events (or None), like events_between(a, b)");
  std::optional<std::uint64_t> from, to;
  if (!event_arg(t, "events_between", a.positional[0], from) ||
      !event_arg(t, "events_between", a.positional[1], to))
    return false;
  const TraceValue& trace = trace_of(self);
  std::vector<std::shared_ptr<const runtime::Event>> found;
  for (std::size_t i = 0; i < trace.size; ++i) {
    const auto& e = trace.history->events[i];
    if ((!from || e->seq > *from) && (!to || e->seq < *to)) found.push_back(e);
  }
  r = event_list(found, self);
  return true;
}

/// events_within(matcher, window, of=event): the selected events no further than
/// `window` in time from `of` (default: the trace's last event), on either side.
bool trace_events_within(Thread& t, const Value& self, Args& a, Value& r) {
  if (a.positional.size() != 2)
    return t.fail(
        "trace.events_within: want a matcher and a window, like "
        "events_within(match.event(type=\"stdout\"), \"1s\")");
  Value of;
  for (auto& [key, v] : a.keywords) {
    if (key != "of") return t.fail("trace.events_within: unexpected keyword " + std::string(key));
    of = v;
  }
  std::string why;
  std::optional<std::chrono::nanoseconds> window;
  if (a.positional[1].is(vm::Type::kString))
    window = runtime::parse_duration(vm::str(a.positional[1]), why);
  if (a.positional[1].is(vm::Type::kInt))
    window = std::chrono::nanoseconds(a.positional[1].as_int());
  if (!window || window->count() < 0)
    return t.fail("trace.events_within: the window must be a duration like \"500ms\"");
  const TraceValue& trace = trace_of(self);
  std::optional<std::uint64_t> anchor_seq;
  if (!event_arg(t, "events_within", of, anchor_seq)) return false;
  std::chrono::system_clock::time_point at{};
  if (anchor_seq) {
    at = of.as<EventValue>()->event().time;
  } else if (trace.size) {
    at = trace.history->events[trace.size - 1]->time;
  }
  Args selector;
  selector.positional.push_back(a.positional[0]);
  std::vector<std::shared_ptr<const runtime::Event>> found, near;
  if (!select(t, "events_within", self, selector, found)) return false;
  for (const auto& e : found)
    if ((e->time > at ? e->time - at : at - e->time) <= *window) near.push_back(e);
  r = event_list(near, self);
  return true;
}

/// causal_chain(e): the events of the trace that happened before `e` by the vector
/// clocks, oldest first, then `e` itself.
bool trace_causal_chain(Thread& t, const Value& self, Args& a, Value& r) {
  if (a.positional.size() != 1 || !a.keywords.empty() || !a.positional[0].is(vm::Type::kHost) ||
      vm::type_of(a.positional[0]) != "event")
    return t.fail("trace.causal_chain: want one event");
  const runtime::Event& target = a.positional[0].as<EventValue>()->event();
  const TraceValue& trace = trace_of(self);
  std::vector<std::shared_ptr<const runtime::Event>> chain;
  for (std::size_t i = 0; i < trace.size; ++i) {
    const auto& e = trace.history->events[i];
    if (e->seq == target.seq || runtime::happens_before(e->clock, target.clock)) chain.push_back(e);
  }
  r = event_list(chain, self);
  return true;
}

constexpr std::pair<std::string_view, vm::NativeFn> kTraceMethods[] = {
    {"causal_chain", trace_causal_chain},
    {"count", trace_count},
    {"event", trace_last},
    {"events", trace_events},
    {"events_between", trace_events_between},
    {"events_within", trace_events_within},
    {"first", trace_first},
    {"last", trace_last},
};

// ---- event lists and the methods of an event that look around it -------------------------

bool list_map(Thread& t, const Value& self, Args& a, Value& r) {
  if (a.positional.size() != 1 || !a.keywords.empty() || !is_callable(a.positional[0]))
    return t.fail("event_list.map: want one function of an event");
  std::vector<Value> out;
  for (const Value& e : self.as<EventListValue>()->items) {
    Args args;
    args.positional.push_back(e);
    Value v;
    if (!vm::call(t, a.positional[0], args, v)) return false;
    out.push_back(std::move(v));
  }
  r = vm::make_list(std::move(out));
  return true;
}

bool list_filter(Thread& t, const Value& self, Args& a, Value& r) {
  if (a.positional.size() != 1 || !a.keywords.empty() || !is_callable(a.positional[0]))
    return t.fail("event_list.filter: want one function of an event");
  auto* list = new EventListValue();
  Value result = Value::adopt(list);
  for (const Value& e : self.as<EventListValue>()->items) {
    Args args;
    args.positional.push_back(e);
    Value keep;
    if (!vm::call(t, a.positional[0], args, keep)) return false;
    if (vm::truth(keep)) list->items.push_back(e);
  }
  r = result;
  return true;
}

/// reduce(fn(acc, event), initial): folds the events into one value.
bool list_reduce(Thread& t, const Value& self, Args& a, Value& r) {
  Value fn, acc;
  if (!vm::unpack(t, "event_list.reduce", a, {{"fn", &fn}, {"initial", &acc}})) return false;
  if (!is_callable(fn)) return t.fail("event_list.reduce: want a function of (acc, event)");
  for (const Value& e : self.as<EventListValue>()->items) {
    Args args;
    args.positional = {acc, e};
    Value next;
    if (!vm::call(t, fn, args, next)) return false;
    acc = std::move(next);
  }
  r = acc;
  return true;
}

constexpr std::pair<std::string_view, vm::NativeFn> kListMethods[] = {
    {"filter", list_filter}, {"map", list_map}, {"reduce", list_reduce}};

/// The events around an event: its trace, or the running test's log.
bool around(Thread& t, std::string_view fn, const EventValue& me,
            std::vector<std::shared_ptr<const runtime::Event>>& out) {
  if (me.history) {
    out.assign(me.history->events.begin(),
               me.history->events.begin() + static_cast<std::ptrdiff_t>(me.size));
    return true;
  }
  Session* session = Session::of(t);
  if (!session || !session->run || !session->run->log)
    return t.fail("event." + std::string(fn) + ": there is no trace here to look in");
  out = session->run->log->since(0);
  return true;
}

/// preceded_by(m) / followed_by(m), and with a window: preceded_by_within(m, "1s").
bool look(Thread& t, const Value& self, Args& a, Value& r, bool before, bool within) {
  std::string fn =
      std::string("event.") + (before ? "preceded_by" : "followed_by") + (within ? "_within" : "");
  std::optional<std::chrono::nanoseconds> window;
  Args selector = a;
  if (within) {
    if (a.positional.size() != 2)
      return t.fail(fn + ": want a matcher and a window, like " + fn +
                    "(match.event(type=\"stdout\"), \"1s\")");
    std::string why;
    if (a.positional[1].is(vm::Type::kString))
      window = runtime::parse_duration(vm::str(a.positional[1]), why);
    if (a.positional[1].is(vm::Type::kInt))
      window = std::chrono::nanoseconds(a.positional[1].as_int());
    if (!window || window->count() < 0)
      return t.fail(fn + ": the window must be a duration like \"500ms\"");
    selector.positional.pop_back();
  }
  Selector s;
  if (!parse_selector(t, fn, selector, s)) return false;
  const EventValue& me = *self.as<EventValue>();
  std::vector<std::shared_ptr<const runtime::Event>> events;
  if (!around(t, fn, me, events)) return false;
  const runtime::Event& at = me.event();
  for (const auto& e : events) {
    if (before ? e->seq >= at.seq : e->seq <= at.seq) continue;
    if (window && (before ? at.time - e->time : e->time - at.time) > *window) continue;
    bool hit = false;
    if (!selects(t, s, e, hit)) return false;
    if (hit) return r = Value::boolean(true), true;
  }
  r = Value::boolean(false);
  return true;
}

bool preceded_by(Thread& t, const Value& self, Args& a, Value& r) {
  return look(t, self, a, r, true, false);
}
bool followed_by(Thread& t, const Value& self, Args& a, Value& r) {
  return look(t, self, a, r, false, false);
}
bool preceded_by_within(Thread& t, const Value& self, Args& a, Value& r) {
  return look(t, self, a, r, true, true);
}
bool followed_by_within(Thread& t, const Value& self, Args& a, Value& r) {
  return look(t, self, a, r, false, true);
}

/// directly_caused_by(m): whether an immediate causal predecessor of the event matches:
/// one that happened before it with nothing else in between by the vector clocks.
bool directly_caused_by(Thread& t, const Value& self, Args& a, Value& r) {
  Selector s;
  if (!parse_selector(t, "event.directly_caused_by", a, s)) return false;
  const EventValue& me = *self.as<EventValue>();
  std::vector<std::shared_ptr<const runtime::Event>> events, before;
  if (!around(t, "directly_caused_by", me, events)) return false;
  for (const auto& e : events)
    if (runtime::happens_before(e->clock, me.event().clock)) before.push_back(e);
  for (const auto& e : before) {
    bool direct = std::none_of(before.begin(), before.end(), [&](const auto& other) {
      return runtime::happens_before(e->clock, other->clock);
    });
    if (!direct) continue;
    bool hit = false;
    if (!selects(t, s, e, hit)) return false;
    if (hit) return r = Value::boolean(true), true;
  }
  r = Value::boolean(false);
  return true;
}

constexpr std::pair<std::string_view, vm::NativeFn> kContextMethods[] = {
    {"directly_caused_by", directly_caused_by}, {"followed_by", followed_by},
    {"followed_by_within", followed_by_within}, {"preceded_by", preceded_by},
    {"preceded_by_within", preceded_by_within},
};

}  // namespace

const std::vector<std::string> kEventContextMethods = [] {
  std::vector<std::string> names;
  for (const auto& [name, fn] : kContextMethods) names.emplace_back(name);
  return names;
}();

bool event_context_method(const Value& self, std::string_view name, Value& out) {
  for (const auto& [method, fn] : kContextMethods)
    if (name == method)
      return out = Value::adopt(new vm::Builtin("event." + std::string(method), fn, self)), true;
  return false;
}

std::string_view EventListValue::type_name() const { return "event_list"; }
bool EventListValue::attr(const Value& self, std::string_view name, Value& out) const {
  if (name == "count") return out = Value::integer(static_cast<std::int64_t>(items.size())), true;
  if (name == "first") return out = items.empty() ? Value() : items.front(), true;
  if (name == "last") return out = items.empty() ? Value() : items.back(), true;
  for (const auto& [method, fn] : kListMethods)
    if (name == method)
      return out = Value::adopt(new vm::Builtin("event_list." + std::string(method), fn, self)),
             true;
  return false;
}
std::vector<std::string> EventListValue::attr_names() const {
  return {"count", "filter", "first", "last", "map", "reduce"};
}
void EventListValue::repr(std::string& out) const {
  out += "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ", ";
    items[i].as<EventValue>()->repr(out);
  }
  out += "]";
}
void EventListValue::freeze_values() {
  for (const Value& v : items) vm::freeze(v);
}

std::string_view TraceValue::type_name() const { return "trace"; }
bool TraceValue::attr(const Value& self, std::string_view name, Value& out) const {
  for (const auto& [method, fn] : kTraceMethods)
    if (name == method)
      return out = Value::adopt(new vm::Builtin("trace." + std::string(method), fn, self)), true;
  return false;
}
std::vector<std::string> TraceValue::attr_names() const {
  std::vector<std::string> names;
  for (const auto& [method, fn] : kTraceMethods) names.emplace_back(method);
  return names;
}
void TraceValue::repr(std::string& out) const {
  out += "<trace of " + std::to_string(size) + " events>";
}

// ---- values -----------------------------------------------------------------------------

std::string_view MonitorValue::type_name() const { return "monitor"; }
bool MonitorValue::attr(const Value&, std::string_view n, Value& out) const {
  if (n == "name") return out = vm::make_string(name), true;
  return false;
}
std::vector<std::string> MonitorValue::attr_names() const { return {"name"}; }
void MonitorValue::repr(std::string& out) const { out += "<monitor " + name + ">"; }
void MonitorValue::freeze_values() {
  for (Value* v : {&on, &state_init, &update, &check, &callback}) vm::freeze(*v);
}

std::string_view PropertyValue::type_name() const {
  return kind == Kind::kEventually ? "eventually" : "always";
}
bool PropertyValue::attr(const Value&, std::string_view, Value&) const { return false; }
std::vector<std::string> PropertyValue::attr_names() const { return {}; }
void PropertyValue::repr(std::string& out) const {
  out += kind == Kind::kEventually ? "eventually(" : "always(";
  out += callable_name(predicate);
  if (!site.empty()) out += " at " + site;
  out += ")";
}
void PropertyValue::freeze_values() {
  for (Value* v : {&predicate, &anchor, &start, &end}) vm::freeze(*v);
}

// ---- the engine -------------------------------------------------------------------------

Temporal::Temporal(runtime::EventLog& log, vm::Thread& body) : log_(log), body_(body) {
  vm_.predeclared = body.predeclared;
  vm_.print = body.print;
  vm_.load = body.load;
  vm_.host = body.host;
  vm_.guard = check_guard;
}

Temporal::~Temporal() { stop(); }

void Temporal::add_monitor(const Value& monitor) {
  MonitorState m;
  m.monitor = monitor;
  m.state = monitor.as<MonitorValue>()->state_init;
  monitors_.push_back(std::move(m));
}

void Temporal::add_property(const Value& property, Role role) {
  PropertyState p;
  p.property = property;
  p.role = role;
  const auto* value = property.as<PropertyValue>();
  if (value->kind == PropertyValue::Kind::kEventually && role == Role::kExpect) {
    std::lock_guard lock(mutex_);
    satisfied_ = false;
  }
  // One registered in the body after its start: an always() without a start anchor
  // opens now.
  if (value->kind == PropertyValue::Kind::kAlways && value->start.is(vm::Type::kNone) &&
      body_started_)
    p.armed = p.opened = true;
  properties_.push_back(std::move(p));
  anchor("");  // the engine judges it on the trace as it stands, in order with events
}

void Temporal::start() {
  subscription_ = log_.subscribe_shared([this](const runtime::EventLog::Shared& e) {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    // The engine sleeps only on an empty queue: wake it for the first event of a batch.
    bool wake = queue_.empty();
    queue_.push_back(Item{e, {}});
    ++queued_;
    if (wake) changed_.notify_all();
  });
  thread_ = std::thread([this] { loop(); });
}

void Temporal::anchor(std::string name) {
  std::lock_guard lock(mutex_);
  if (stopping_) return;
  queue_.push_back(Item{nullptr, std::move(name)});
  ++queued_;
  changed_.notify_all();
}

void Temporal::catch_up() {
  std::unique_lock lock(mutex_);
  std::uint64_t target = queued_;
  changed_.wait(lock, [&] { return judged_ >= target || stopped_; });
}

void Temporal::wait_for_change(std::chrono::milliseconds wait) {
  std::unique_lock lock(mutex_);
  std::uint64_t seen = judged_;
  changed_.wait_for(lock, wait, [&] { return judged_ != seen || stopped_; });
}

void Temporal::stop() {
  if (subscription_) {
    log_.unsubscribe(*subscription_);
    subscription_.reset();
  }
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    changed_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void Temporal::loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) break;  // stopping, and everything queued is judged
    std::deque<Item> batch;
    batch.swap(queue_);
    lock.unlock();
    {
      VmLocked vm;
      for (const Item& item : batch) judge(item);
    }
    lock.lock();
    judged_ += batch.size();
    changed_.notify_all();
  }
  stopped_ = true;
  changed_.notify_all();
}

bool Temporal::failed() const {
  std::lock_guard lock(mutex_);
  return !failure_.empty();
}
std::string Temporal::failure() const {
  std::lock_guard lock(mutex_);
  return failure_;
}
runtime::EventLog::Shared Temporal::failure_event() const {
  std::lock_guard lock(mutex_);
  return failure_event_;
}
bool Temporal::terminated() const {
  std::lock_guard lock(mutex_);
  return terminated_;
}
bool Temporal::satisfied() const {
  std::lock_guard lock(mutex_);
  return satisfied_;
}

void Temporal::violate(std::string reason, runtime::EventLog::Shared event) {
  {
    std::lock_guard lock(mutex_);
    if (!failure_.empty()) return;
    failure_ = std::move(reason);
    failure_event_ = std::move(event);
    failed_ = true;
  }
  body_.cancelled = true;  // the body stops at once; the runner reports the violation
}

void Temporal::judge(const Item& item) {
  if (failed_.load(std::memory_order_relaxed)) return;  // a test fails once
  if (item.event) {
    history_->events.push_back(item.event);
    judge_event(item.event);
  } else {
    judge_anchor(item.anchor);
  }
}

bool Temporal::anchor_is(const Value& anchor, std::string_view name) const {
  return anchor.is(vm::Type::kString) && vm::str(anchor) == name;
}

bool Temporal::event_matches(const Value& matcher, const std::shared_ptr<const runtime::Event>& e,
                             std::string& error) {
  if (is_matcher(matcher)) return matcher.as<MatcherValue>()->matches(*e);
  Args args;
  args.positional.push_back(EventValue::make(e));
  Value result;
  if (!vm::call(vm_, matcher, args, result)) {
    error = first_line(vm_.error());
    vm_.clear_error();
    return false;
  }
  return vm::truth(result);
}

std::optional<bool> Temporal::holds(PropertyState& p) {
  const auto* value = p.property.as<PropertyValue>();
  auto* trace = new TraceValue();
  trace->history = history_;
  trace->size = history_->events.size();
  Args args;
  args.positional.push_back(Value::adopt(trace));
  Value result;
  ++judgements_;
  if (!vm::call(vm_, value->predicate, args, result)) {
    std::string what;
    value->repr(what);
    p.failure = what + " failed: " + first_line(vm_.error());
    vm_.clear_error();
    return std::nullopt;
  }
  return vm::truth(result);
}

void Temporal::judge_event(const std::shared_ptr<const runtime::Event>& event) {
  std::string error;
  Value ev;  // made once, for the first monitor that wants the event
  for (MonitorState& m : monitors_) {
    const auto* monitor = m.monitor.as<MonitorValue>();
    auto fail_with = [&](std::string detail) {
      violate("monitor violation: " + monitor->name + ": " + detail + " (at " +
                  vm::repr(EventValue::make(event)) + ")",
              event);
    };
    if (!monitor->on.is(vm::Type::kNone)) {
      bool hit = event_matches(monitor->on, event, error);
      if (!error.empty()) return fail_with("on= failed: " + error);
      if (!hit) continue;
    }
    if (ev.is(vm::Type::kNone)) ev = event_in(event, history_, history_->events.size());
    if (!monitor->callback.is(vm::Type::kNone)) {
      Args args;
      args.positional.push_back(ev);
      Value result;
      if (!vm::call(vm_, monitor->callback, args, result)) {
        std::string why = first_line(vm_.error());
        vm_.clear_error();
        return fail_with(why);
      }
      ++judgements_;
      if (result.is(vm::Type::kBool) && !vm::truth(result))
        return fail_with(callable_name(monitor->callback) + " returned False");
      continue;
    }
    Value state = m.state;
    if (!monitor->update.is(vm::Type::kNone)) {
      Args args;
      args.positional = {ev, m.state};
      if (!vm::call(vm_, monitor->update, args, state)) {
        std::string why = first_line(vm_.error());
        vm_.clear_error();
        return fail_with("update failed: " + why);
      }
    }
    if (!monitor->check.is(vm::Type::kNone)) {
      Args args;
      args.positional = {ev, state};
      Value verdict;
      if (!vm::call(vm_, monitor->check, args, verdict)) {
        std::string why = first_line(vm_.error());
        vm_.clear_error();
        return fail_with("check failed: " + why);
      }
      ++judgements_;
      if (!vm::truth(verdict))
        return fail_with("check returned " + vm::repr(verdict) +
                         (state.is(vm::Type::kNone) ? "" : " with state " + vm::repr(state)));
    }
    m.state = std::move(state);
  }

  for (PropertyState& p : properties_) {
    const auto* value = p.property.as<PropertyValue>();
    if (value->kind == PropertyValue::Kind::kAlways) {
      if (p.closed) continue;
      if (!p.armed && is_matcher(value->start) && event_matches(value->start, event, error))
        p.armed = p.opened = true;
      if (!p.armed) continue;
      if (!judge_property(p, &event, "")) return;
      if (is_matcher(value->end) && event_matches(value->end, event, error)) p.closed = true;
      continue;
    }
    if (p.held) continue;
    if (!p.armed) {
      if (!is_matcher(value->anchor) && !is_callable(value->anchor)) continue;
      p.armed = event_matches(value->anchor, event, error);
      if (!error.empty()) {
        std::string what;
        value->repr(what);
        return violate(what + ": anchor= failed: " + error, event);
      }
      if (!p.armed) continue;
    }
    if (!judge_property(p, &event, "")) return;
  }
}

bool Temporal::judge_property(PropertyState& p, const runtime::EventLog::Shared* event,
                              std::string_view anchor) {
  const auto* value = p.property.as<PropertyValue>();
  auto ok = holds(p);
  runtime::EventLog::Shared at = event ? *event : nullptr;
  if (value->kind == PropertyValue::Kind::kAlways) {
    if (ok && *ok) return true;
    if (ok) {
      std::string what;
      value->repr(what);
      p.failure = what + " was violated at " +
                  (event            ? vm::repr(EventValue::make(*event))
                   : anchor.empty() ? std::string("its registration")
                                    : "\"" + std::string(anchor) + "\"");
    }
    violate(p.failure, at);
    return false;
  }
  if (!ok) {
    violate(p.failure, at);
    return false;
  }
  if (!*ok) return true;
  p.held = true;
  std::lock_guard lock(mutex_);
  if (p.role == Role::kTerminate) {
    terminated_ = true;
    body_.cancelled = true;  // the system reached its declared end: stop the body
  }
  satisfied_ = std::all_of(properties_.begin(), properties_.end(), [](const PropertyState& q) {
    return q.role != Role::kExpect || q.held ||
           q.property.as<PropertyValue>()->kind != PropertyValue::Kind::kEventually;
  });
  return true;
}

void Temporal::judge_anchor(const std::string& anchor) {
  if (anchor == "body_start") body_started_ = true;
  for (PropertyState& p : properties_) {
    const auto* value = p.property.as<PropertyValue>();
    bool opens = std::exchange(p.fresh, false) && p.armed;  // registered open
    if (value->kind == PropertyValue::Kind::kEventually) {
      // Without an anchor= it is judged from the body's start (or its registration).
      bool starts =
          value->anchor.is(vm::Type::kNone) ? body_started_ : anchor_is(value->anchor, anchor);
      if (!p.armed && starts) p.armed = opens = true;
      // Judged now too: the trace may already satisfy it, and no event may come.
      if (p.armed && !p.held && !judge_property(p, nullptr, anchor)) return;
      continue;
    }
    if (p.armed && !p.closed && anchor_is(value->end, anchor)) {
      p.closed = true;
      continue;
    }
    bool starts =
        value->start.is(vm::Type::kNone) ? anchor == "body_start" : anchor_is(value->start, anchor);
    if (!p.armed && !p.closed && starts) p.armed = p.opened = opens = true;
    // A window opening here is judged here: the trace as it stands must satisfy it.
    if (opens && !judge_property(p, nullptr, anchor)) return;
  }
}

Temporal::Verdict Temporal::verdict(Cause cause) const {
  Verdict v;
  std::string failure = this->failure();
  if (!failure.empty()) {
    v.failed = true;
    v.reason = failure;
    return v;
  }
  for (const PropertyState& p : properties_) {
    const auto* value = p.property.as<PropertyValue>();
    std::string what;
    value->repr(what);
    if (value->kind == PropertyValue::Kind::kEventually) {
      // A test that failed otherwise is failed; its liveness is beside the point.
      if (p.role != Role::kExpect || p.held || cause == Cause::kFailed) continue;
      if (cause == Cause::kTimeout) {
        v.pending = true;
        v.reason += what + " has not held yet when the test timed out\n";
      } else {
        v.failed = true;
        v.reason +=
            what + (p.armed ? " never held" : " never started: its anchor did not occur") + "\n";
      }
      continue;
    }
    if (!p.opened) {
      v.vacuous.push_back(what);
      continue;
    }
    // Not violated. Under a timeout the trace is a truncated prefix: an always whose
    // window had not closed is not established.
    if (cause == Cause::kTimeout && !p.closed) {
      v.pending = true;
      v.reason += what +
                  " was not violated, but its window had not closed when the test "
                  "timed out\n";
    }
  }
  if (!v.reason.empty() && v.reason.back() == '\n') v.reason.pop_back();
  return v;
}

// ---- builtins ---------------------------------------------------------------------------

namespace {

Temporal* running_engine(Thread& t) {
  Session* session = Session::of(t);
  return session && session->run ? session->run->temporal : nullptr;
}

/// monitor(name, on=, state_init=, update=, check=) or monitor(fn, **field_globs).
bool monitor_fn(Thread& t, const Value&, Args& a, Value& r) {
  if (a.positional.empty() || a.positional.size() > 2)
    return t.fail(
        "monitor: want monitor(name, on=matcher, state_init=, update=, check=) or "
        "monitor(fn, field=glob, ...)");
  auto* m = new MonitorValue();
  Value result = Value::adopt(m);
  m->site = t.call_site();
  const Value& first = a.positional[0];
  if (first.is(vm::Type::kString)) {
    m->name = vm::str(first);
    if (m->name.empty()) return t.fail("monitor: the name must not be empty");
    std::string where = "monitor(\"" + m->name + "\")";
    bool has_on = a.positional.size() == 2;
    if (has_on) m->on = a.positional[1];
    for (auto& [key, v] : a.keywords) {
      if (key == "on") {
        if (has_on) return t.fail(where + ": on= given twice");
        m->on = v, has_on = true;
      } else if (key == "state_init") {
        m->state_init = v;
      } else if (key == "update" || key == "check") {
        if (!v.is(vm::Type::kNone) && !is_callable(v))
          return t.fail(where + ": " + std::string(key) +
                        "= must be a function of (event, state), got " +
                        std::string(vm::type_of(v)));
        (key == "update" ? m->update : m->check) = v;
      } else {
        return t.fail(where + ": unexpected keyword argument " + std::string(key) +
                      " (valid: on, state_init, update, check)");
      }
    }
    if (!has_on)
      return t.fail(where +
                    ": on= is required: a matcher like match.event(type=\"stdout\") or a "
                    "function of an event");
    if (!is_matcher(m->on) && !is_callable(m->on))
      return t.fail(where + ": on= must be a matcher or a function of an event, got " +
                    std::string(vm::type_of(m->on)));
  } else if (is_callable(first)) {
    if (a.positional.size() != 1)
      return t.fail("monitor: the plain form takes one function and field=glob keywords");
    m->callback = first;
    m->name = callable_name(first);
    auto* globs = new MatcherValue();
    Value matcher = Value::adopt(globs);
    for (auto& [key, v] : a.keywords) {
      if (!v.is(vm::Type::kString))
        return t.fail("monitor(" + m->name + "): " + std::string(key) +
                      "= must be a string glob, got " + std::string(vm::type_of(v)));
      globs->globs.emplace_back(std::string(key), vm::str(v));
    }
    if (!globs->globs.empty()) m->on = matcher;
  } else {
    return t.fail("monitor: the first argument must be a name or a function, got " +
                  std::string(vm::type_of(first)));
  }
  Session* session = Session::of(t);
  if (session && session->run) {
    if (!session->run->temporal) return t.fail("monitor: this test cannot run monitors");
    session->run->temporal->add_monitor(result);
  } else if (session) {
    session->monitors.push_back(result);
  }
  r = result;
  return true;
}

bool want_predicate(Thread& t, std::string_view fn, Args& a, Value& predicate) {
  if (a.positional.empty())
    return t.fail(std::string(fn) + ": want a predicate over the trace, like " + std::string(fn) +
                  "(lambda t: t.count(type=\"stdout\") > 0)");
  if (a.positional.size() > 1)
    return t.fail(std::string(fn) + ": takes one predicate; give the rest by keyword");
  predicate = a.positional[0];
  if (!is_callable(predicate))
    return t.fail(std::string(fn) + ": the predicate must be a function of the trace, got " +
                  std::string(vm::type_of(predicate)));
  return true;
}

bool eventually_fn(Thread& t, const Value&, Args& a, Value& r) {
  auto* p = new PropertyValue();
  Value result = Value::adopt(p);
  p->kind = PropertyValue::Kind::kEventually;
  p->site = t.call_site();
  if (!want_predicate(t, "eventually", a, p->predicate)) return false;
  for (auto& [key, v] : a.keywords) {
    if (key != "anchor")
      return t.fail("eventually: unexpected keyword argument " + std::string(key) +
                    " (valid: anchor)");
    if (!v.is(vm::Type::kNone) && !is_matcher(v) && !is_callable(v) && !is_anchor_name(v))
      return t.fail(
          "eventually: anchor= must be a matcher, a function of an event, or \"body_start\", "
          "\"body_end\" or \"stable\"");
    p->anchor = v;
  }
  if (Temporal* engine = running_engine(t)) engine->add_property(result, Temporal::Role::kExpect);
  r = result;
  return true;
}

bool always_fn(Thread& t, const Value&, Args& a, Value& r) {
  auto* p = new PropertyValue();
  Value result = Value::adopt(p);
  p->kind = PropertyValue::Kind::kAlways;
  p->site = t.call_site();
  if (!want_predicate(t, "always", a, p->predicate)) return false;
  for (auto& [key, v] : a.keywords) {
    if (key != "between")
      return t.fail("always: unexpected keyword argument " + std::string(key) +
                    " (valid: between)");
    if (v.is(vm::Type::kNone)) continue;
    if (!v.is(vm::Type::kTuple) || v.as<vm::List>()->items.size() != 2)
      return t.fail(
          "always: between= must be a tuple of two anchors, like "
          "between=(\"body_start\", \"stable\")");
    for (const Value& anchor : v.as<vm::List>()->items)
      if (!is_anchor_name(anchor) && !is_matcher(anchor))
        return t.fail(
            "always: an anchor must be \"body_start\", \"body_end\", \"stable\" or a "
            "matcher, got " +
            vm::repr(anchor));
    p->start = v.as<vm::List>()->items[0];
    p->end = v.as<vm::List>()->items[1];
  }
  if (Temporal* engine = running_engine(t)) engine->add_property(result, Temporal::Role::kExpect);
  r = result;
  return true;
}

/// await_stable(quiescence_window="1s", ignore=None, clock="wall"): waits until no event
/// but ignored ones has been appended for the window, then marks the "stable" anchor.
/// It has no timeout of its own: the test's ends it (and the test is inconclusive).
bool await_stable_fn(Thread& t, const Value&, Args& a, Value& r) {
  if (!a.positional.empty())
    return t.fail("await_stable: takes keyword arguments only (quiescence_window=, ignore=)");
  std::chrono::nanoseconds window = std::chrono::seconds(1);
  Value ignore;
  for (auto& [key, v] : a.keywords) {
    if (key == "quiescence_window") {
      std::string why;
      std::optional<std::chrono::nanoseconds> d;
      if (v.is(vm::Type::kString)) d = runtime::parse_duration(vm::str(v), why);
      if (!d || d->count() <= 0)
        return t.fail("await_stable: quiescence_window must be a positive duration like \"500ms\"");
      window = *d;
    } else if (key == "ignore") {
      if (!v.is(vm::Type::kNone) && !is_matcher(v) && !is_callable(v))
        return t.fail("await_stable: ignore= must be a matcher or a function of an event, got " +
                      std::string(vm::type_of(v)));
      ignore = v;
    } else if (key == "clock") {
      if (!v.is(vm::Type::kString) || vm::str(v) != "wall")
        return t.fail("await_stable: clock must be \"wall\" (virtual time is not supported)");
    } else {
      return t.fail("await_stable: unexpected keyword argument " + std::string(key) +
                    " (valid: quiescence_window, ignore, clock)");
    }
  }
  Session* session = Session::of(t);
  Session::Run* run = session ? session->run : nullptr;
  if (!run) return t.fail("await_stable: only a test body can wait");
  using Clock = std::chrono::steady_clock;
  std::size_t seen = run->log->since(0).size();
  auto quiet_since = Clock::now();
  for (;;) {
    std::vector<runtime::EventLog::Shared> fresh = run->log->since(seen);
    seen += fresh.size();
    for (const auto& e : fresh) {
      bool ignored = false;
      if (is_matcher(ignore)) {
        ignored = ignore.as<MatcherValue>()->matches(*e);
      } else if (!ignore.is(vm::Type::kNone)) {
        Args args;
        args.positional.push_back(EventValue::make(e));
        Value result;
        if (!vm::call(t, ignore, args, result))
          return t.fail("await_stable: ignore= failed: " + t.error());
        ignored = vm::truth(result);
      }
      if (!ignored) quiet_since = Clock::now();
    }
    if (Clock::now() - quiet_since >= window) break;
    if (t.cancelled.load()) return t.fail("await_stable: cancelled before the system was stable");
    VmUnlocked unlocked;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (run->temporal) run->temporal->anchor("stable");
  r = Value();
  return true;
}

}  // namespace

void add_temporal(const std::function<void(std::string_view, vm::NativeFn)>& add) {
  add("monitor", monitor_fn);
  add("eventually", eventually_fn);
  add("always", always_fn);
  add("await_stable", await_stable_fn);
}

}  // namespace fb::stdlib
