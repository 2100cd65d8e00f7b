#pragma once
/// Temporal properties and monitors: monitor(), eventually(), always(), await_stable(),
/// the trace their predicates read, and the engine that checks them on every event of a
/// test as it is appended.
///
/// The engine (Temporal) subscribes to the test's event log. The log's listener only
/// copies each event into a queue; a thread of the engine's own takes the VM lock and
/// runs the monitors and predicates over the queued events in sequence order. A test
/// body holds the VM lock while it computes and gives it up while it waits (a step, a
/// sleep, an await), so checks run while the body waits, which is when services act. A
/// violation is recorded with the event that caused it, and the body is cancelled.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "runtime/event_log.h"
#include "stdlib/queries.h"
#include "vm/objects.h"
#include "vm/thread.h"

namespace fb::stdlib {

/// What monitor() returns. The state-machine form has on=, state_init=, update= and
/// check=; the plain form monitor(fn, **field_globs) calls fn(event) on every event
/// the globs match and fails when fn fails or returns False.
struct MonitorValue final : vm::HostObject {
  std::string name;
  vm::Value on;  // a matcher or a function of an event; None: every event
  vm::Value state_init, update, check;
  vm::Value callback;  // the plain form's function
  std::string site;    // file:line:col of the monitor() call
  /// Passed to a monitors= list: it checks only those tests, not every test.
  mutable bool claimed = false;
  std::string_view type_name() const override;
  bool attr(const vm::Value& self, std::string_view name, vm::Value& out) const override;
  std::vector<std::string> attr_names() const override;
  void repr(std::string& out) const override;
  void freeze_values() override;
};

/// What eventually(pred, anchor=) and always(pred, between=(start, end)) return.
struct PropertyValue final : vm::HostObject {
  enum class Kind { kEventually, kAlways } kind = Kind::kEventually;
  vm::Value predicate;  // a function of the trace
  vm::Value anchor;     // eventually: None, or a matcher/function the trace must meet first
  /// always: each "body_start", "body_end", "stable" or a matcher. The window opens at
  /// `start` (default body_start) and closes at `end` (default: the test's end).
  vm::Value start, end;
  std::string site;
  std::string_view type_name() const override;
  bool attr(const vm::Value& self, std::string_view name, vm::Value& out) const override;
  std::vector<std::string> attr_names() const override;
  void repr(std::string& out) const override;
  void freeze_values() override;
};

/// The argument of a temporal predicate: the trace up to the event being judged.
struct TraceValue final : vm::HostObject {
  std::shared_ptr<const History> history;
  std::size_t size = 0;  // how many of history's events this trace holds
  std::string_view type_name() const override;
  bool attr(const vm::Value& self, std::string_view name, vm::Value& out) const override;
  std::vector<std::string> attr_names() const override;
  void repr(std::string& out) const override;
};

class Temporal {
 public:
  /// How a test body came to an end, which decides what a pending property means.
  enum class Cause { kNatural, kTerminated, kTimeout, kFailed };
  /// What a property is to the test: an expectation (test(expect=) or one registered in
  /// the body) or the condition that ends the test (terminate_when=).
  enum class Role { kExpect, kTerminate };

  /// `body` is the thread running the test body: it is cancelled on a violation, and
  /// the engine's own VM thread is set up like it.
  Temporal(runtime::EventLog& log, vm::Thread& body);
  ~Temporal();
  Temporal(const Temporal&) = delete;
  Temporal& operator=(const Temporal&) = delete;

  /// Registers a monitor or a property for this test. Call with the VM lock held, or
  /// before start().
  void add_monitor(const vm::Value& monitor);
  void add_property(const vm::Value& property, Role role);
  /// Subscribes to the log and starts the engine's thread.
  void start();
  /// A lifecycle anchor ("body_start", "body_end", "stable"), ordered after every event
  /// appended so far.
  void anchor(std::string name);
  /// Waits until everything appended or anchored so far has been judged. Call without
  /// the VM lock.
  void catch_up();
  /// Waits at most `wait` for the engine to judge something more (without the VM lock).
  void wait_for_change(std::chrono::milliseconds wait);
  /// Judges what is left and stops: no event appended after this is judged.
  void stop();

  /// Whether a monitor or an always() was violated (or failed to run), and why.
  bool failed() const;
  std::string failure() const;
  /// The event the failure was judged on (null when it was an anchor's or a
  /// registration's).
  runtime::EventLog::Shared failure_event() const;
  /// Whether terminate_when= held.
  bool terminated() const;
  /// Whether every expected eventually() has held (true when there is none).
  bool satisfied() const;
  /// How many times a monitor's check or a property's predicate judged an event: a
  /// test whose only checks are these still asserted something. Read after stop().
  std::uint64_t judgements() const { return judgements_; }

  /// The verdict of the properties for a test that ended by `cause`, after stop():
  /// failed (with the reasons), pending (inconclusive) or neither. `vacuous` lists the
  /// always() properties whose window never opened.
  struct Verdict {
    bool failed = false, pending = false;
    std::string reason;
    std::vector<std::string> vacuous;
  };
  Verdict verdict(Cause cause) const;

 private:
  struct MonitorState {
    vm::Value monitor;  // MonitorValue
    vm::Value state;
  };
  struct PropertyState {
    vm::Value property;  // PropertyValue
    Role role = Role::kExpect;
    bool armed = false;   // eventually: its anchor met; always: window open
    bool held = false;    // eventually: the predicate held once
    bool closed = false;  // always: its window closed
    bool opened = false;  // always: its window opened at some point
    bool fresh = true;    // not judged since it was registered
    std::string failure;  // why it failed (violation or an error in the predicate)
  };
  struct Item {
    std::shared_ptr<const runtime::Event> event;  // or a lifecycle anchor
    std::string anchor;
  };

  void loop();
  void judge(const Item& item);
  void judge_event(const std::shared_ptr<const runtime::Event>& event);
  void judge_anchor(const std::string& anchor);
  /// Judges an armed property on the trace as it stands, after `event` or at `anchor`
  /// ("" for its registration); false when that failed the test.
  bool judge_property(PropertyState& p, const runtime::EventLog::Shared* event,
                      std::string_view anchor);
  /// Evaluates a property's predicate over the trace so far; nullopt when it failed.
  std::optional<bool> holds(PropertyState& p);
  void violate(std::string reason, runtime::EventLog::Shared event);
  bool anchor_is(const vm::Value& anchor, std::string_view name) const;
  bool event_matches(const vm::Value& matcher, const std::shared_ptr<const runtime::Event>& e,
                     std::string& error);

  runtime::EventLog& log_;
  vm::Thread& body_;
  vm::Thread vm_;  // the engine's own VM thread
  std::shared_ptr<History> history_ = std::make_shared<History>();
  std::vector<MonitorState> monitors_;
  std::vector<PropertyState> properties_;
  bool body_started_ = false;  // the body_start anchor was judged (under the VM lock)

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Item> queue_;
  std::uint64_t queued_ = 0, judged_ = 0;
  bool stopping_ = false, stopped_ = false;
  std::optional<std::uint64_t> subscription_;
  std::thread thread_;
  // Published under mutex_ by the engine's thread.
  std::string failure_;
  runtime::EventLog::Shared failure_event_;
  bool terminated_ = false;
  bool satisfied_ = true;
  std::uint64_t judgements_ = 0;     // written by the engine's thread only
  std::atomic<bool> failed_{false};  // failure_ is set: judge no more
};

/// What trace.events(...) and its kin return: the events in order, iterable, indexable
/// and sized like a tuple, with .count, .first, .last, .map(fn), .filter(fn) and
/// .reduce(fn, initial).
struct EventListValue final : vm::HostObject {
  std::vector<vm::Value> items;  // event values
  std::string_view type_name() const override;
  bool attr(const vm::Value& self, std::string_view name, vm::Value& out) const override;
  std::vector<std::string> attr_names() const override;
  void repr(std::string& out) const override;
  bool truth() const override { return !items.empty(); }
  const std::vector<vm::Value>* elements() const override { return &items; }
  void freeze_values() override;
};

/// Registers monitor, eventually, always, await_stable.
void add_temporal(const std::function<void(std::string_view, vm::NativeFn)>& add);

}  // namespace fb::stdlib
