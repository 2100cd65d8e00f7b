#include "runtime/process.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <map>

#include "runtime/bpf.h"

namespace fb::runtime {

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.release();
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

int UniqueFd::release() {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

namespace {

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }
int pidfd_getfd(int pidfd, int fd) {
  return static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, fd, 0));
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

/// What the child failed at, sent to the parent with the errno.
struct ChildFailure {
  enum Stage : int { kFilter, kCwd, kStdout, kStderr, kExec } stage;
  int error;
};

std::string describe(const ChildFailure& f, const LaunchSpec& spec) {
  std::string why = std::strerror(f.error);
  switch (f.stage) {
    case ChildFailure::kFilter: return "cannot install the seccomp filter: " + why;
    case ChildFailure::kCwd: return "cannot enter working directory " + spec.cwd + ": " + why;
    case ChildFailure::kStdout: return "cannot open stdout file " + spec.stdout_path + ": " + why;
    case ChildFailure::kStderr: return "cannot open stderr file " + spec.stderr_path + ": " + why;
    case ChildFailure::kExec: break;
  }
  return "cannot run " + spec.binary + ": " + why;
}

/// Reads a failure report from the child; nullopt at EOF (exec succeeded).
std::optional<ChildFailure> read_failure(int fd) {
  ChildFailure f{};
  if (::read(fd, &f, sizeof f) != sizeof f) return std::nullopt;
  return f;
}

/// In the child: directory and output files, filter, stop for the parent to take the
/// listener, exec. Only async-signal-safe calls; a failure goes to `error_fd`. The
/// set-up comes before the filter so that faultbox's own calls are never trapped.
[[noreturn]] void child_main(const LaunchSpec& spec, std::vector<sock_filter>& filter, int error_fd,
                             pid_t parent, std::vector<char*>& argv, std::vector<char*>& envp) {
  auto fail = [&](ChildFailure::Stage stage) {
    ChildFailure f{stage, errno};
    (void)!::write(error_fd, &f, sizeof f);
    ::_exit(127);
  };
  auto redirect = [&](const std::string& path, int target, ChildFailure::Stage stage) {
    if (path.empty()) return;
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || ::dup2(fd, target) < 0) fail(stage);
    ::close(fd);
  };
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);  // the parent died before the prctl
  if (!spec.cwd.empty() && ::chdir(spec.cwd.c_str()) != 0) fail(ChildFailure::kCwd);
  redirect(spec.stdout_path, STDOUT_FILENO, ChildFailure::kStdout);
  redirect(spec.stderr_path, STDERR_FILENO, ChildFailure::kStderr);
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail(ChildFailure::kFilter);
  if (!spec.trapped.empty()) {
    sock_fprog prog{static_cast<unsigned short>(filter.size()), filter.data()};
    int listener = static_cast<int>(
        ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog));
    if (listener < 0) fail(ChildFailure::kFilter);
    ::raise(SIGSTOP);   // the parent copies the listener out with pidfd_getfd, then continues us
    ::close(listener);  // the target never keeps a listener
  }
  ::execvpe(argv[0], argv.data(), envp.data());
  fail(ChildFailure::kExec);
  ::_exit(127);  // not reached: fail() exits
}

/// The listener's number in the stopped child, found through /proc.
int find_listener(pid_t pid) {
  std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return -1;
  int found = -1;
  while (dirent* e = ::readdir(d)) {
    char target[64];
    std::string link = dir + "/" + e->d_name;
    ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
    if (n <= 0) continue;
    target[n] = '\0';
    if (std::strcmp(target, "anon_inode:seccomp notify") == 0) found = std::atoi(e->d_name);
  }
  ::closedir(d);
  return found;
}

/// Where /proc/<pid>/<entry> points; empty when it cannot be read.
std::string proc_link(pid_t pid, const std::string& entry) {
  char target[PATH_MAX];
  std::string link = "/proc/" + std::to_string(pid) + "/" + entry;
  ssize_t n = ::readlink(link.c_str(), target, sizeof target);
  return n > 0 ? std::string(target, static_cast<std::size_t>(n)) : std::string();
}

/// The path behind an fd of the target ("socket:[123]" shortens to "socket").
std::string fd_path(pid_t pid, long fd) {
  std::string path = proc_link(pid, "fd/" + std::to_string(fd));
  if (path.starts_with("socket:")) return "socket";
  if (path.starts_with("pipe:")) return "pipe";
  return path;
}

/// A NUL-terminated string from the target's memory; empty when unreadable.
std::string read_string(pid_t pid, std::uint64_t address) {
  std::string out(PATH_MAX, '\0');
  iovec local{out.data(), out.size()};
  iovec remote{reinterpret_cast<void*>(address), out.size()};
  ssize_t n = ::process_vm_readv(pid, &local, 1, &remote, 1, 0);
  if (n <= 0) return "";
  out.resize(static_cast<std::size_t>(n));
  out.resize(std::strlen(out.c_str()));
  return out;
}

/// The path a syscall is about, as far as it can be told (fail closed: empty).
std::string syscall_path(const seccomp_notif& n, std::string_view name) {
  pid_t pid = static_cast<pid_t>(n.pid);
  if (name == "openat" || name == "openat2" || name == "unlinkat" || name == "mkdirat") {
    std::string p = read_string(pid, n.data.args[1]);
    if (p.empty() || p[0] == '/') return p;
    auto dirfd = static_cast<int>(n.data.args[0]);
    std::string base = dirfd == AT_FDCWD ? proc_link(pid, "cwd") : fd_path(pid, dirfd);
    return base.empty() ? "" : base + "/" + p;
  }
  if (name == "open" || name == "unlink" || name == "mkdir" || name == "truncate")
    return read_string(pid, n.data.args[0]);
  if (name == "connect" || name == "getrandom" || name == "clock_nanosleep") return "";
  return fd_path(pid, static_cast<long>(n.data.args[0]));  // fd-based calls
}

using Clock = std::chrono::steady_clock;

class Supervisor {
 public:
  Supervisor(const std::vector<FaultRule>& rules, std::uint64_t seed)
      : rules_(rules), seed_(seed), matches_(rules.size(), 0), fires_(rules.size(), 0) {}

  /// Decides one notification and answers it.
  void handle(int listener, RunResult& result) {
    seccomp_notif req{};
    if (::ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) != 0) return;  // the target went away
    std::string name(syscall_name(host_arch(), req.data.nr));
    std::string path = syscall_path(req, name);
    seccomp_notif_resp resp{};
    resp.id = req.id;
    // What we read must belong to this notification: the thread may have died and its
    // pid been reused since.
    if (::ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &req.id) != 0) return;
    SyscallEvent event{++seq_, static_cast<pid_t>(req.pid), name, path, "allow", 0, ""};
    const FaultRule* rule = decide(name, path);
    resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    switch (rule ? rule->action : FaultRule::Action::kAllow) {
      case FaultRule::Action::kDeny: {
        resp.flags = 0;
        resp.error = -rule->error;
        event.error = rule->error;
        const ErrnoInfo* e = errno_info(rule->error);
        event.decision = "deny(" + std::string(e ? e->message : "error") + ")";
        break;
      }
      case FaultRule::Action::kTrace: event.decision = "trace"; break;
      case FaultRule::Action::kDelay:
        event.decision = "delay(" + format_duration(rule->delay) + ")";
        break;
      case FaultRule::Action::kAllow:
      case FaultRule::Action::kHold: break;  // hold is never chosen by decide() yet
    }
    if (rule) event.label = rule->label;
    result.events.push_back(std::move(event));
    if (rule && rule->action == FaultRule::Action::kDelay) {
      // Answered by answer_due(); the calling thread waits, every other one goes on.
      delayed_.emplace(Clock::now() + rule->delay, resp);
      return;
    }
    ::ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
  }

  /// When the earliest delayed call is due, if there is one.
  std::optional<Clock::time_point> next_due() const {
    if (delayed_.empty()) return std::nullopt;
    return delayed_.begin()->first;
  }

  /// Lets every delayed call whose time has come continue. One whose thread has died
  /// meanwhile is refused by the kernel, which is harmless.
  void answer_due(int listener) {
    auto now = Clock::now();
    while (!delayed_.empty() && delayed_.begin()->first <= now) {
      ::ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &delayed_.begin()->second);
      delayed_.erase(delayed_.begin());
    }
  }

 private:
  /// The most recently given matching rule that fires this time (its counters move on
  /// every match, fired or not, so nth/after count matches). An allow, trace or delay
  /// rule that fires shadows older deny rules; hold is not decided here yet.
  const FaultRule* decide(const std::string& name, const std::string& path) {
    for (std::size_t i = rules_.size(); i-- > 0;) {
      const FaultRule& r = rules_[i];
      if (r.action == FaultRule::Action::kHold) continue;
      if (r.max_fires && fires_[i] >= r.max_fires) continue;
      if (std::find(r.syscalls.begin(), r.syscalls.end(), name) == r.syscalls.end()) continue;
      if (!r.path_glob.empty() && (path.empty() || !glob_match(r.path_glob, path))) continue;
      std::uint64_t occurrence = ++matches_[i];
      if (r.nth && occurrence != r.nth) continue;
      if (r.after && occurrence <= r.after) continue;
      if (r.probability < 1.0 && draw(seed_, "target", r.source, occurrence) >= r.probability)
        continue;
      ++fires_[i];
      return &r;
    }
    return nullptr;
  }

  const std::vector<FaultRule>& rules_;
  std::uint64_t seed_;
  std::uint64_t seq_ = 0;
  std::vector<std::uint64_t> matches_;  // per rule: how often it has matched
  std::vector<std::uint64_t> fires_;    // per rule: how often it has fired
  std::multimap<Clock::time_point, seccomp_notif_resp> delayed_;  // answers not sent yet
};

}  // namespace

std::optional<RunResult> run_supervised(const LaunchSpec& spec, const std::vector<FaultRule>& rules,
                                        std::uint64_t seed, std::string& error) {
  std::vector<sock_filter> filter = build_filter(host_arch(), spec.trapped);
  std::vector<std::string> arg_strings{spec.binary};
  arg_strings.insert(arg_strings.end(), spec.args.begin(), spec.args.end());
  std::vector<std::string> env_strings = spec.env;
  std::vector<char*> argv = c_strings(arg_strings), envp = c_strings(env_strings);
  int error_pipe[2];
  if (::pipe2(error_pipe, O_CLOEXEC) != 0)
    return error = std::string("pipe: ") + std::strerror(errno), std::nullopt;
  UniqueFd error_read(error_pipe[0]), error_write(error_pipe[1]);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) return error = std::string("fork: ") + std::strerror(errno), std::nullopt;
  if (pid == 0) child_main(spec, filter, error_write.get(), parent, argv, envp);
  error_write = UniqueFd();
  UniqueFd pidfd(pidfd_open(pid));
  UniqueFd listener;
  auto kill_child = [&] {
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  };
  if (!spec.trapped.empty()) {
    int status = 0;
    if (::waitpid(pid, &status, WUNTRACED) != pid || !WIFSTOPPED(status)) {
      auto failure = read_failure(error_read.get());
      error =
          failure ? describe(*failure, spec) : "the target stopped before its filter was installed";
      kill_child();
      return std::nullopt;
    }
    int number = find_listener(pid);
    listener = UniqueFd(number >= 0 ? pidfd_getfd(pidfd.get(), number) : -1);
    if (!listener) {
      error =
          std::string("cannot take the seccomp listener from the target: ") + std::strerror(errno);
      kill_child();
      return std::nullopt;
    }
    ::kill(pid, SIGCONT);
  }
  RunResult result;
  Supervisor supervisor(rules, seed);
  bool exec_checked = false;
  // The stop sequence: SIGTERM to the group at the timeout, SIGKILL a grace period later.
  std::optional<Clock::time_point> next_stop;
  if (spec.timeout.count() > 0) next_stop = Clock::now() + spec.timeout;
  int stop_signal = SIGTERM;
  for (;;) {
    int wait_ms = -1;
    if (next_stop) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(*next_stop - Clock::now());
      if (left.count() <= 0) {
        ::kill(-pid, stop_signal);
        result.timed_out = true;
        next_stop =
            stop_signal == SIGTERM ? std::optional(Clock::now() + spec.grace) : std::nullopt;
        stop_signal = SIGKILL;
        continue;
      }
      wait_ms = static_cast<int>(std::min<std::int64_t>(left.count(), INT_MAX));
    }
    if (auto due = supervisor.next_due()) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(*due - Clock::now()).count();
      left = std::clamp<std::int64_t>(left, 0, INT_MAX);
      wait_ms = wait_ms < 0 ? static_cast<int>(left) : std::min(wait_ms, static_cast<int>(left));
    }
    pollfd fds[3] = {
        {pidfd.get(), POLLIN, 0}, {listener.get(), POLLIN, 0}, {error_read.get(), POLLIN, 0}};
    if (::poll(fds, 3, wait_ms) < 0 && errno != EINTR) {
      // Nobody would answer the target's notifications: waiting for it could hang.
      error = std::string("poll: ") + std::strerror(errno);
      kill_child();
      return std::nullopt;
    }
    supervisor.answer_due(listener.get());
    if (fds[1].revents & POLLIN) supervisor.handle(listener.get(), result);
    if (!exec_checked && (fds[2].revents & (POLLIN | POLLHUP))) {
      if (auto failure = read_failure(error_read.get())) {
        error = describe(*failure, spec);
        kill_child();
        return std::nullopt;
      }
      exec_checked = true;  // EOF: exec succeeded and closed the pipe
      result.started = true;
      error_read = UniqueFd();
    }
    if (fds[0].revents & POLLIN) break;
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::kill(-pid, SIGKILL);  // anything the target left in its group
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
    result.exit_code = 128 + result.signal;
  }
  result.started = true;
  return result;
}

}  // namespace fb::runtime
