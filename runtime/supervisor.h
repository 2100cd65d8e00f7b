#pragma once
/// The supervisor: one thread that multiplexes every target's seccomp listener, pidfd and
/// timers, decides trapped syscalls against the rule sets installed for that target, and
/// records every decision and lifecycle change in an EventLog.

#include <linux/seccomp.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "runtime/event_log.h"
#include "runtime/process.h"
#include "runtime/rules.h"

namespace fb::runtime {

using TargetId = std::uint64_t;
using RuleSetId = std::uint64_t;

/// How often one rule of a rule set saw its syscalls and how often it fired, counted
/// where the decisions are made.
struct RuleHits {
  std::string rule;  // its text, as in fault_applied
  std::uint64_t matches = 0;
  std::uint64_t fires = 0;
};

struct ExitStatus {
  int exit_code = 0;  // the target's, or 128 + signal
  int signal = 0;
  bool timed_out = false;  // stopped after LaunchSpec::timeout
};

/// A trapped call parked by a hold rule, waiting for release().
struct HeldCall {
  std::uint64_t id = 0;
  pid_t tid = 0;
  std::string syscall;
  std::string path;
  std::string label;
};

class Supervisor {
 public:
  /// Probabilistic rules draw from H(seed, service, rule, occurrence).
  Supervisor(EventLog& log, std::uint64_t seed);
  /// Stops every target (SIGKILL to each group), answers nothing more, reaps.
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  /// Starts `spec` as service `service` with `rules` in place before its first
  /// instruction. Returns nullopt with `error` set when it could not be started (the
  /// message names the path and errno for an exec failure).
  std::optional<TargetId> launch(const std::string& service, const LaunchSpec& spec,
                                 std::vector<FaultRule> rules, std::string& error);

  /// Adds a rule set to a running target, atomically: a notification is decided either
  /// entirely without it or with all of it. Rule sets installed later take precedence;
  /// within a set, later rules do. Fails (nullopt, `error` set) for a syscall outside the
  /// target's trap set, which the rule could never see, or for a target that is gone.
  std::optional<RuleSetId> install(TargetId target, std::vector<FaultRule> rules,
                                   std::string& error);
  /// Removes a rule set, atomically. False when it is not installed.
  bool remove(RuleSetId rule_set);
  /// The counters of each rule of a set, installed or already removed, in rule order;
  /// empty for an unknown set.
  std::vector<RuleHits> hits(RuleSetId rule_set) const;

  /// Calls parked by hold rules, oldest first.
  std::vector<HeldCall> held(TargetId target) const;
  /// Waits until at least `count` calls are held (true) or the timeout passes or the
  /// target exits (false).
  bool wait_held(TargetId target, std::size_t count, std::chrono::milliseconds timeout);
  /// Answers held calls whose label matches the glob `label` (empty: all), oldest first,
  /// at most `limit` of them: they continue, or fail with `error` when it is not 0.
  std::size_t release(TargetId target, std::string_view label, int error = 0,
                      std::size_t limit = SIZE_MAX);

  /// Blocks until the target has exited.
  ExitStatus wait(TargetId target);
  std::optional<ExitStatus> wait_for(TargetId target, std::chrono::milliseconds timeout);
  /// SIGTERM to the target's group now, SIGKILL `grace` later if it is still there.
  void stop(TargetId target, std::chrono::milliseconds grace);
  void stop_all(std::chrono::milliseconds grace);

  pid_t pid(TargetId target) const;
  /// Probabilistic rules draw with `seed` from now on (a runner that keeps one
  /// supervisor across tests gives each test its own seed).
  void set_seed(std::uint64_t seed) { seed_.store(seed); }
  /// Whether the kernel accepted SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (Linux 6.6 and later).
  bool sync_wake_up() const { return sync_wake_up_.load(); }

 private:
  struct Target;
  struct RuleSlot;
  struct RuleSet;

  /// Rule slots with their syscall numbers; false (and `error`) for a syscall the
  /// target does not trap, which a rule could never see.
  static bool compile(std::vector<FaultRule>& rules, const std::vector<bool>& trapped,
                      std::vector<RuleSlot>& slots, std::string& error);
  /// The newest installed rule that fires for this call (its counters move on every
  /// match, fired or not, so nth/after count matches). `path` is asked only when a rule
  /// needs it; `system_path` says a glob-less rule passed over a system file.
  /// The path of the call being decided, worked out on first use. A plain callback and
  /// context: a std::function holding the lambda would allocate on every call.
  struct PathSource {
    const std::string& (*get)(void* context);
    void* context;
    const std::string& operator()() const { return get(context); }
  };
  const RuleSlot* decide(Target& target, int nr, const PathSource& path, bool& system_path);

  void loop();
  void wake();
  void start_launches(std::unique_lock<std::mutex>& lock);
  /// Settles a launching target's exec from its report pipe: true once it has exec'd.
  bool settle_launch(Target& target);

  void handle_notification(Target& target);
  void record_syscall(Target& target, const seccomp_notif& req, pid_t tgid, std::string_view name,
                      const std::optional<std::string>& path, const std::string& dest,
                      FaultRule::Action action, const RuleSlot* slot, const std::string& decision,
                      std::chrono::steady_clock::time_point started, std::int64_t latency_us);
  void handle_exit(Target& target);
  void answer_due(std::chrono::steady_clock::time_point now);
  void enforce_stops(std::chrono::steady_clock::time_point now);
  void sweep_orphans();
  Target* find(TargetId id) const;
  bool any_live() const;
  std::optional<std::chrono::steady_clock::time_point> next_deadline() const;

  EventLog& log_;
  std::atomic<std::uint64_t> seed_;
  UniqueFd epoll_;
  UniqueFd wake_;         // eventfd: commands for the loop thread
  UniqueFd sweep_timer_;  // timerfd: the once-a-second orphan sweep
  UniqueFd watchdog_;     // pipe to the process that kills our groups if faultbox dies
  pid_t watchdog_pid_ = -1;
  std::atomic<bool> sync_wake_up_{false};

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<TargetId, std::unique_ptr<Target>> targets_;
  std::multimap<std::chrono::steady_clock::time_point, std::pair<TargetId, std::uint64_t>>
      delayed_;                                         // due → (target, notification id)
  std::map<RuleSetId, std::vector<RuleHits>> retired_;  // counters of removed sets
  std::vector<pid_t> dead_groups_;  // process groups of exited targets, for the orphan sweep
  std::chrono::steady_clock::time_point next_sweep_{};
  int sweeps_left_ = 0;
  TargetId next_target_ = 1;
  RuleSetId next_rule_set_ = 1;
  std::uint64_t next_hold_ = 1;
  bool quit_ = false;
  bool notify_ = false;  // something waiters care about changed in this loop turn

  // Launches run on the loop thread, which outlives every target (see start_target).
  struct LaunchRequest;
  std::vector<LaunchRequest*> launches_;
  std::thread thread_;
};

/// One decided syscall, as run_supervised reports it.
struct SyscallEvent {
  std::uint64_t seq = 0;
  pid_t pid = 0;
  std::string syscall;
  std::string path;
  std::string decision;  // "allow", "deny(input/output error)", "delay(10ms)", "trace"
  int error = 0;
  std::string label;
};

struct RunResult {
  bool started = false;
  int exit_code = 0;  // the target's, or 128 + signal
  int signal = 0;
  bool timed_out = false;
  std::vector<SyscallEvent> events;
};

/// Runs one target to completion as service "target" under `rules`. Returns nullopt
/// with `error` set when it could not be started. Every process it started is gone
/// when it returns.
std::optional<RunResult> run_supervised(const LaunchSpec& spec, const std::vector<FaultRule>& rules,
                                        std::uint64_t seed, std::string& error);

}  // namespace fb::runtime
