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
  /// After `timeout` (0: none) the group gets SIGTERM, and SIGKILL `grace` later.
  std::chrono::milliseconds timeout{0};
  std::chrono::milliseconds grace{2000};
};

/// One decided syscall, as the event log records it.
struct SyscallEvent {
  std::uint64_t seq = 0;
  pid_t pid = 0;
  std::string syscall;
  std::string path;
  std::string decision;  // "allow", "deny(input/output error)"
  int error = 0;
  std::string label;
};

struct RunResult {
  bool started = false;
  int exit_code = 0;  // the target's, or 128 + signal
  int signal = 0;
  bool timed_out = false;  // stopped by faultbox after LaunchSpec::timeout
  std::vector<SyscallEvent> events;
};

/// Runs the target to completion under `rules` (deny, allow and trace for now), deciding
/// trapped syscalls with draw(seed, "target", rule, occurrence). Returns nullopt with
/// `error` set when the target could not be started (exec failure names the path and
/// errno). Every process it started is gone when it returns.
std::optional<RunResult> run_supervised(const LaunchSpec& spec, const std::vector<FaultRule>& rules,
                                        std::uint64_t seed, std::string& error);

}  // namespace fb::runtime
