#pragma once
/// Starting a target under a seccomp filter, and supervising its trapped syscalls.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "runtime/rules.h"

namespace fb::runtime {

/// Owns a file descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();
  int get() const { return fd_; }
  int release();
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

struct LaunchSpec {
  std::string binary;             // a path, or a name looked up in PATH
  std::vector<std::string> args;  // argv[1..]
  std::vector<std::string> env;   // KEY=VALUE; the whole environment
  std::vector<int> trapped;       // syscall numbers the filter notifies
  std::string cwd{};              // working directory; empty: faultbox's own
  std::string stdout_path{};      // file the target's stdout goes to; empty: inherited
  std::string stderr_path{};      // file the target's stderr goes to; empty: inherited
  /// An fd of faultbox's (a pipe's write end, say) that becomes the target's stdout or
  /// stderr; it wins over the path. The caller keeps it and closes it after launch.
  int stdout_fd = -1;
  int stderr_fd = -1;
  /// After `timeout` (0: none) the group gets SIGTERM, and SIGKILL `grace` later.
  std::chrono::milliseconds timeout{0};
  std::chrono::milliseconds grace{2000};
  /// Record the path of every trapped call in the event log. Off, a path is worked out
  /// only for a rule with a glob or a rule that fired (calls that are merely allowed
  /// log no path), which saves a /proc lookup per call.
  bool record_paths = true;
  /// How long the child may take to reach its exec (set-up can block on a FIFO or a
  /// hung mount); it is killed and the launch fails after that.
  std::chrono::milliseconds start_timeout{30000};
  /// Give the target faultbox's terminal (stdin) while it runs, as a shell gives it to a
  /// foreground job: a target in its own process group that reads the terminal would
  /// otherwise be stopped by SIGTTIN. Ctrl-C then goes to the target, as without
  /// faultbox. Set it only when faultbox is itself in the foreground.
  bool foreground_tty = false;
};

/// A target forked and, when it traps anything, stopped with its filter installed and
/// its listener copied out; the caller registers the listener, then sends SIGCONT.
struct StartedTarget {
  pid_t pid = -1;
  UniqueFd pidfd;
  UniqueFd listener;    // empty when nothing is trapped
  UniqueFd error_pipe;  // EOF once exec succeeded; a ChildFailure record otherwise
};

/// Forks the target. Returns nullopt with `error` set when it could not get as far as
/// its stop (the child is reaped). Must run on a thread that outlives the target:
/// PR_SET_PDEATHSIG fires when the forking *thread* exits.
std::optional<StartedTarget> start_target(const LaunchSpec& spec, std::string& error);

enum class ExecState { kPending, kSucceeded, kFailed };

/// Where the target's exec stands, from its report pipe, without blocking: the pipe
/// reaches end of file when the exec succeeds, before the program's first syscall. On
/// kFailed, `message` names the step, path and errno.
ExecState poll_exec(int error_pipe, const LaunchSpec& spec, std::string& message);

/// Where a program name is found: itself when it holds a '/', else the first executable
/// regular file in the PATH of `env` (or faultbox's own PATH; relative entries count
/// from `cwd` when given); the name when none is.
std::string resolve_binary(const std::string& binary, const std::vector<std::string>& env,
                           const std::string& cwd = "");

}  // namespace fb::runtime
