#include "stdlib/parallel.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "runtime/rules.h"
#include "stdlib/fanout.h"
#include "stdlib/session.h"
#include "vm/ops.h"
#include "vm/thread.h"

namespace fb::stdlib {

using vm::Args;
using vm::Thread;
using vm::Value;

namespace {

std::mutex& vm_mutex() {
  static std::mutex m;
  return m;
}
thread_local bool t_holds_vm = false;

/// The schedule of an ordered parallel(): steps go in rounds, and in each round every
/// branch that has not ended takes one step, in the permutation's order, each step
/// answered before the next is sent. A branch that has ended is skipped; one still
/// running holds the round until it sends its next step or ends, so the order does not
/// depend on how fast the branches' own code runs.
struct Turnstile {
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::size_t> order;  // branch indices, the leaf's permutation
  std::vector<char> ended;         // by branch
  std::size_t pos = 0;             // whose turn: order[pos], in the current round
  // After a step is answered, its turn ends only once the watched services (every
  // running one but those nondet() names) have made no trapped call for `settle_time`, so
  // what a service does just after answering still belongs to that step.
  runtime::EventLog* log = nullptr;
  std::vector<std::string> watched;
  std::chrono::milliseconds settle_time{10};

  /// Moves past branches that have ended, into the next round when this one is over.
  void skip_ended() {
    if (std::all_of(ended.begin(), ended.end(), [](char e) { return e != 0; })) return;
    for (;;) {
      if (pos == order.size()) pos = 0;  // the next round
      if (!ended[order[pos]]) return;
      ++pos;
    }
  }
  bool turn_of(std::size_t branch) const { return pos < order.size() && order[pos] == branch; }
  void step_done(std::size_t branch) {
    std::lock_guard lock(m);
    if (turn_of(branch)) ++pos;
    skip_ended();
    cv.notify_all();
  }
  void branch_ended(std::size_t branch) {
    std::lock_guard lock(m);
    ended[branch] = 1;
    skip_ended();
    cv.notify_all();
  }
};

thread_local Turnstile* t_turnstile = nullptr;

/// The longest settle= a spec may ask for.
constexpr std::chrono::seconds kMaxSettle{2};

/// How long a turn waits at most for services that keep making calls (a poll loop):
/// 20 settle times, within [200 ms, 5 s]; then it ends anyway, and the trace says
/// which services had not settled.
std::chrono::milliseconds settle_bound(std::chrono::milliseconds settle) {
  return std::clamp<std::chrono::milliseconds>(settle * 20, std::chrono::milliseconds(200),
                                               std::chrono::seconds(5));
}

/// Waits until the watched services have been quiet for the turnstile's settle time.
/// False when they were not by settle_bound(), or the test was cancelled.
bool wait_settled(const Turnstile& turnstile, const std::atomic<bool>& cancelled,
                  std::vector<std::string>& busy) {
  using Clock = std::chrono::steady_clock;
  auto counts = [&] {
    std::vector<std::uint64_t> c;
    for (const auto& s : turnstile.watched) c.push_back(turnstile.log->count(s));
    return c;
  };
  auto last = counts();
  auto start = Clock::now(), quiet_since = start;
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    auto now = Clock::now();
    auto current = counts();
    if (current != last) {
      quiet_since = now;
      busy.clear();
      for (std::size_t i = 0; i < current.size(); ++i)
        if (current[i] != last[i]) busy.push_back(turnstile.watched[i]);
      last = std::move(current);
    }
    if (now - quiet_since >= turnstile.settle_time) return true;
    if (now - start >= settle_bound(turnstile.settle_time) || cancelled.load()) return false;
  }
}
thread_local std::string t_lane = "test";
thread_local std::size_t t_branch = 0;

}  // namespace

VmUnlocked::VmUnlocked() {
  if (t_holds_vm) {
    t_holds_vm = false;
    released_ = true;
    budget_ = vm::exchange_charged_budget(nullptr);
    vm_mutex().unlock();
  }
}

VmUnlocked::~VmUnlocked() {
  if (released_) {
    vm_mutex().lock();
    t_holds_vm = true;
    vm::exchange_charged_budget(budget_);
  }
}

VmLocked::VmLocked() {
  if (t_holds_vm) return;
  vm_mutex().lock();
  t_holds_vm = true;
  acquired_ = true;
}

VmLocked::~VmLocked() {
  if (!acquired_) return;
  t_holds_vm = false;
  vm_mutex().unlock();
}

StepTurn::StepTurn(const std::atomic<bool>& cancelled) : cancelled_(&cancelled) {
  if (!t_turnstile) return;
  VmUnlocked unlocked;
  std::unique_lock lock(t_turnstile->m);
  while (!t_turnstile->turn_of(t_branch)) {
    if (cancelled.load()) {
      ok_ = false;
      return;
    }
    t_turnstile->cv.wait_for(lock, std::chrono::milliseconds(50));
  }
}

StepTurn::~StepTurn() {
  if (!t_turnstile || !ok_) return;
  if (t_turnstile->log && t_turnstile->settle_time.count() > 0 && !t_turnstile->watched.empty()) {
    VmUnlocked unlocked;
    std::vector<std::string> busy;
    if (!wait_settled(*t_turnstile, *cancelled_, busy) && !cancelled_->load()) {
      std::string names;
      for (const auto& s : busy) names += (names.empty() ? "" : ",") + s;
      t_turnstile->log->append(
          "interleave_unsettled", t_lane,
          {{"services", names},
           {"waited_ms",
            static_cast<std::int64_t>(settle_bound(t_turnstile->settle_time).count())}});
    }
  }
  t_turnstile->step_done(t_branch);
}

const std::string& step_lane() { return t_lane; }

std::uint64_t factorial(std::uint64_t n) {
  std::uint64_t f = 1;
  for (std::uint64_t i = 2; i <= n; ++i) {
    if (f > UINT64_MAX / i) return UINT64_MAX;
    f *= i;
  }
  return f;
}

std::vector<std::size_t> permutation(std::size_t n, std::uint64_t index) {
  std::vector<std::size_t> pool(n), out;
  for (std::size_t i = 0; i < n; ++i) pool[i] = i;
  for (std::size_t i = n; i > 0; --i) {
    std::uint64_t block = factorial(i - 1);
    std::size_t pick = block ? static_cast<std::size_t>(index / block) : 0;
    if (pick >= pool.size()) pick = pool.size() - 1;
    index = block ? index % block : 0;
    out.push_back(pool[pick]);
    pool.erase(pool.begin() + static_cast<std::ptrdiff_t>(pick));
  }
  return out;
}

namespace {

/// How many orderings a policy asks for, of `n` branches: 1 (none), "all" (n!), N (the
/// first N), or "critical" (the first 2n-1, which put each branch first and last).
bool orderings(Thread& t, const Value& policy, std::size_t n, std::uint64_t& out) {
  std::uint64_t all = factorial(n);
  if (policy.is(vm::Type::kNone)) return out = 1, true;
  if (policy.is(vm::Type::kInt)) {
    std::int64_t k = policy.as_int();
    if (k <= 0) return t.fail("parallel: interleavings must be positive, got " + std::to_string(k));
    out = std::min<std::uint64_t>(static_cast<std::uint64_t>(k), all);
    return true;
  }
  if (!policy.is(vm::Type::kString))
    return t.fail("parallel: interleavings must be 1, N, \"all\" or \"critical\", got " +
                  std::string(vm::type_of(policy)));
  std::string s = vm::str(policy);
  if (s == "1") return out = 1, true;
  if (s == "all") return out = all, true;
  if (s == "critical") return out = std::min<std::uint64_t>(2 * n - 1, all), true;
  if (s == "dpor" || s == "sut-internal")
    return t.fail("parallel: interleavings=\"" + s + "\" is reserved and not implemented");
  return t.fail("parallel: unknown interleavings \"" + s +
                "\" (use 1, N, \"all\" or \"critical\")");
}

/// settle="10ms": a duration string, "0" or 0 for none.
bool want_settle(Thread& t, const Value& v, std::chrono::milliseconds& out) {
  if (v.is(vm::Type::kInt) && v.as_int() == 0) return out = std::chrono::milliseconds(0), true;
  if (!v.is(vm::Type::kString))
    return t.fail("parallel: settle must be a duration string like \"10ms\", got " +
                  std::string(vm::type_of(v)));
  std::string why;
  auto d = runtime::parse_duration(vm::str(v), why);
  if (!d) return t.fail("parallel: settle: " + why);
  if (d->count() < 0) return t.fail("parallel: settle must not be negative");
  if (*d > std::chrono::nanoseconds(kMaxSettle))
    return t.fail("parallel: settle must be at most " +
                  runtime::format_duration(std::chrono::nanoseconds(kMaxSettle)));
  out = std::chrono::ceil<std::chrono::milliseconds>(*d);
  return true;
}

/// parallel(fn, fn, ..., interleavings=1, settle="10ms"): the branches run on threads
/// of their own and their results come back in argument order.
bool parallel_fn(Thread& t, const Value&, Args& a, Value& r) {
  Value policy;
  std::chrono::milliseconds settle_time{10};
  bool settle_given = false;
  for (auto& [key, v] : a.keywords) {
    if (key == "settle") {
      if (!want_settle(t, v, settle_time)) return false;
      settle_given = true;
      continue;
    }
    if (key != "interleavings")
      return t.fail("parallel: unexpected keyword argument " + std::string(key) +
                    " (valid: interleavings, settle)");
    policy = v;
  }
  std::size_t n = a.positional.size();
  if (n < 2) return t.fail("parallel: want at least two functions, got " + std::to_string(n));
  for (std::size_t i = 0; i < n; ++i)
    if (!is_callable(a.positional[i]))
      return t.fail("parallel: argument " + std::to_string(i + 1) + " must be a function, got " +
                    std::string(vm::type_of(a.positional[i])));
  std::uint64_t count = 1;
  if (!orderings(t, policy, n, count)) return false;
  if (settle_given && count <= 1)
    return t.fail("parallel: settle= applies to ordered branches; give interleavings= too");

  Session* session = Session::of(t);
  Session::Run* run = session ? session->run : nullptr;
  Turnstile turnstile;
  bool ordered = count > 1 && run;
  if (ordered) {
    Axis axis;
    axis.kind = Axis::Kind::kInterleaving;
    axis.name = "parallel@" + t.call_site();
    axis.cardinality = count;
    std::string error;
    auto digit = run->meet(axis, error);
    if (!digit) return t.fail("parallel: " + error);
    turnstile.order = permutation(n, *digit);
    turnstile.ended.assign(n, 0);
    turnstile.log = run->log;
    turnstile.settle_time = settle_time;
    auto named = [](const std::vector<std::string>& names, const std::string& service) {
      return std::find(names.begin(), names.end(), service) != names.end();
    };
    for (const auto& [service, target] : run->targets)
      if (!named(session->nondeterministic, service) && !named(run->nondeterministic, service))
        turnstile.watched.push_back(service);
    std::string text;
    for (auto i : turnstile.order) text += (text.empty() ? "" : ",") + std::to_string(i);
    if (std::none_of(run->choices.begin(), run->choices.end(),
                     [&](const auto& c) { return c.first == axis.name; }))
      run->choices.emplace_back(axis.name, "[" + text + "]");
  }

  // Each branch gets a VM thread of its own, set up like the caller's.
  std::vector<std::unique_ptr<Thread>> threads;
  for (std::size_t i = 0; i < n; ++i) {
    auto bt = std::make_unique<Thread>();
    bt->predeclared = t.predeclared;
    bt->print = t.print;
    bt->load = t.load;
    bt->host = t.host;
    bt->max_steps = t.max_steps;
    bt->memory = t.memory;  // the branches share the body's memory budget
    threads.push_back(std::move(bt));
  }
  // Each branch is a lane of its own, after everything the caller did.
  std::string parent_lane = t_lane;
  runtime::EventLog* log = run ? run->log : nullptr;
  std::vector<std::string> lanes;
  for (std::size_t i = 0; i < n; ++i) {
    lanes.push_back(parent_lane + "/" + std::to_string(i + 1));
    if (log) log->merge(lanes.back(), parent_lane);
  }
  std::vector<Value> results(n);
  std::vector<char> ok(n, 0);  // not vector<bool>: the branches write their own entries
  std::mutex done_mutex;
  std::condition_variable done_changed;
  std::size_t finished = 0;
  std::vector<std::thread> workers;
  {
    // The caller touches no value until every branch is done; a caller that is itself
    // a branch lets the others run meanwhile.
    VmUnlocked unlocked;
    for (std::size_t i = 0; i < n; ++i) {
      workers.emplace_back([&, i] {
        std::unique_lock vm(vm_mutex());
        t_holds_vm = true;
        t_turnstile = ordered ? &turnstile : nullptr;
        t_lane = lanes[i];
        t_branch = i;
        Args none;
        ok[i] = vm::call(*threads[i], a.positional[i], none, results[i]) ? 1 : 0;
        if (ordered) turnstile.branch_ended(i);  // later rounds go on without it
        t_turnstile = nullptr;
        t_holds_vm = false;
        vm.unlock();
        std::lock_guard lock(done_mutex);
        ++finished;
        done_changed.notify_all();
      });
    }
    // Cancellation (a test timeout) reaches the branches.
    std::unique_lock lock(done_mutex);
    while (finished < n) {
      done_changed.wait_for(lock, std::chrono::milliseconds(50));
      if (t.cancelled.load())
        for (auto& bt : threads) bt->cancelled = true;
    }
  }
  for (auto& w : workers) w.join();
  if (log)
    for (const auto& lane : lanes) log->merge(parent_lane, lane);
  for (std::size_t i = 0; i < n; ++i) {
    if (ok[i]) continue;
    std::string error = vm::format_error(*threads[i]);
    if (!error.empty() && error.back() == '\n') error.pop_back();
    std::string message = "parallel: branch " + std::to_string(i + 1) + " of " + std::to_string(n) +
                          " failed:\n" + error;
    return threads[i]->limit_exceeded() ? t.fail_limit(std::move(message))
                                        : t.fail(std::move(message));
  }
  r = vm::make_list(std::move(results));
  return true;
}

/// sleep(duration, clock="wall"): waits in a test body and records nothing. The test's
/// timeout and an interrupt end it early; asking for more than the test has left is an
/// error, not a test timeout later. A parallel() branch lets the others run meanwhile.
bool sleep_fn(Thread& t, const Value&, Args& a, Value& r) {
  Value duration = a.positional.empty() ? Value() : a.positional[0];
  Value clock;
  if (a.positional.size() > 1)
    return t.fail("sleep: want sleep(duration, clock=\"wall\"), got " +
                  std::to_string(a.positional.size()) + " positional arguments");
  for (auto& [key, v] : a.keywords) {
    if (key == "clock") {
      clock = v;
    } else if (key == "duration" && a.positional.empty()) {
      duration = v;
    } else {
      return t.fail("sleep: unexpected keyword argument " + std::string(key) +
                    " (valid: duration, clock)");
    }
  }
  if (!clock.is(vm::Type::kNone)) {
    if (!clock.is(vm::Type::kString))
      return t.fail("sleep: clock must be \"wall\", got " + std::string(vm::type_of(clock)));
    std::string c = vm::str(clock);
    if (c == "virtual") return t.fail("sleep: clock=\"virtual\" is reserved and not implemented");
    if (c != "wall") return t.fail("sleep: unknown clock \"" + c + "\" (use \"wall\")");
  }
  if (!duration.is(vm::Type::kString))
    return t.fail("sleep: the duration must be a string like \"500ms\", got " +
                  std::string(vm::type_of(duration)));
  std::string why;
  auto d = runtime::parse_duration(vm::str(duration), why);
  if (!d) return t.fail("sleep: " + why);
  if (d->count() < 0) return t.fail("sleep: the duration must not be negative");
  Session* session = Session::of(t);
  Session::Run* run = session ? session->run : nullptr;
  if (!run) return t.fail("sleep: only a test body can sleep");
  r = Value();
  if (d->count() == 0) return true;
  using Clock = std::chrono::steady_clock;
  auto until = Clock::now() + std::chrono::ceil<Clock::duration>(*d);
  if (run->deadline && until > *run->deadline) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(*run->deadline - Clock::now());
    return t.fail("sleep: " + vm::str(duration) +
                  " is longer than what is left of the test's "
                  "timeout (" +
                  runtime::format_duration(std::max(left, std::chrono::milliseconds(0))) + ")");
  }
  bool cancelled = false;
  {
    VmUnlocked unlocked;
    while (!cancelled && Clock::now() < until) {
      auto slice = std::min<Clock::duration>(until - Clock::now(), std::chrono::milliseconds(10));
      std::this_thread::sleep_for(slice);
      cancelled = t.cancelled.load();
    }
  }
  return cancelled ? t.fail("sleep: cancelled") : true;
}

}  // namespace

void add_parallel(const std::function<void(std::string_view, vm::NativeFn)>& add) {
  add("parallel", parallel_fn);
  add("sleep", sleep_fn);
}

}  // namespace fb::stdlib
