#include "runtime/process.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "runtime/bpf.h"

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

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

/// What the child reports to the parent through the close-on-exec pipe: kReady once its
/// inherited fds are closed (so the parent may look for its listener), or the step it
/// failed at with the errno. End of file means the exec succeeded.
struct ChildFailure {
  enum Stage : int { kFilter, kCwd, kStdout, kStderr, kExec, kReady } stage;
  int error;
};

std::string describe(const ChildFailure& f, const LaunchSpec& spec) {
  std::string why = std::strerror(f.error);
  switch (f.stage) {
    case ChildFailure::kFilter: return "cannot install the seccomp filter: " + why;
    case ChildFailure::kCwd: return "cannot enter working directory " + spec.cwd + ": " + why;
    case ChildFailure::kStdout: return "cannot open stdout file " + spec.stdout_path + ": " + why;
    case ChildFailure::kStderr: return "cannot open stderr file " + spec.stderr_path + ": " + why;
    case ChildFailure::kExec:
    case ChildFailure::kReady: break;
  }
  return "cannot run " + spec.binary + ": " + why;
}

/// Reads a report from the child; nullopt at end of file or on a short read.
std::optional<ChildFailure> read_report(int fd) {
  ChildFailure f{};
  for (;;) {
    ssize_t n = ::read(fd, &f, sizeof f);
    if (n < 0 && errno == EINTR) continue;
    if (n != sizeof f) return std::nullopt;
    return f;
  }
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
  auto redirect = [&](const std::string& path, int given, int target, ChildFailure::Stage stage) {
    if (given >= 0) {
      if (::dup2(given, target) < 0) fail(stage);
      return;
    }
    if (path.empty()) return;
    // Service output may hold secrets: 0600 whatever the umask, and never through a
    // symlink planted where the log goes.
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 || ::fchmod(fd, 0600) != 0) fail(stage);
    if (fd == target) {
      ::fcntl(fd, F_SETFD, 0);  // faultbox's own stream was closed: keep this one open
      return;
    }
    if (::dup2(fd, target) < 0) fail(stage);
    ::close(fd);
  };
  ::setpgid(0, 0);
  // Handlers faultbox installed are not the target's: back to the defaults (an ignored
  // signal stays ignored, as exec would keep it). Then unblock what faultbox blocks.
  for (int signal = 1; signal < NSIG; ++signal) {
    struct sigaction old {};
    if (::sigaction(signal, nullptr, &old) == 0 && old.sa_handler != SIG_DFL &&
        old.sa_handler != SIG_IGN) {
      struct sigaction reset {};
      reset.sa_handler = SIG_DFL;
      ::sigaction(signal, &reset, nullptr);
    }
  }
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);  // the parent died before the prctl
  if (!spec.cwd.empty() && ::chdir(spec.cwd.c_str()) != 0) fail(ChildFailure::kCwd);
  redirect(spec.stdout_path, spec.stdout_fd, STDOUT_FILENO, ChildFailure::kStdout);
  redirect(spec.stderr_path, spec.stderr_fd, STDERR_FILENO, ChildFailure::kStderr);
  // Every other fd faultbox had goes: other targets' seccomp listeners above all (one
  // left here would keep that target's filter alive and confuse the parent's search
  // for ours), and anything else faultbox did not mean to give away.
  if (error_fd != 3) {
    if (::dup2(error_fd, 3) < 0) fail(ChildFailure::kFilter);
    ::fcntl(3, F_SETFD, FD_CLOEXEC);
    error_fd = 3;
  }
  ::syscall(SYS_close_range, 4U, ~0U, 0U);
  ChildFailure ready{ChildFailure::kReady, 0};
  if (::write(error_fd, &ready, sizeof ready) != sizeof ready) ::_exit(127);
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail(ChildFailure::kFilter);
  pid_t self = ::getpid();  // asked before the filter: getpid may be trapped
  if (!spec.trapped.empty()) {
    sock_fprog prog{static_cast<unsigned short>(filter.size()), filter.data()};
    // Once the supervisor has received a call, only a fatal signal may interrupt it:
    // otherwise a signal (Go's preemption SIGURG, a timer) restarts the call as a
    // second notification and rule counters count it twice. Linux 5.19 and later.
    int listener = static_cast<int>(::syscall(
        SYS_seccomp, SECCOMP_SET_MODE_FILTER,
        SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, &prog));
    if (listener < 0 && errno == EINVAL)
      listener = static_cast<int>(
          ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog));
    if (listener < 0) fail(ChildFailure::kFilter);
    // The parent copies the listener out with pidfd_getfd, then continues us. The
    // kernel made it close-on-exec, so the target never holds one; not closing it here
    // keeps the calls faultbox makes under the filter to this stop and the exec.
    ::kill(self, SIGSTOP);
  }
  ::execve(argv[0], argv.data(), envp.data());
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

}  // namespace

std::string resolve_binary(const std::string& binary, const std::vector<std::string>& env,
                           const std::string& cwd) {
  if (binary.empty() || binary.find('/') != std::string::npos) return binary;
  std::string path;
  bool found_path = false;
  for (const auto& entry : env) {
    if (entry.starts_with("PATH=")) path = entry.substr(5), found_path = true;
  }
  if (!found_path) {
    const char* own = ::getenv("PATH");
    path = own ? own : "/usr/local/bin:/usr/bin:/bin";
  }
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + binary;
    // A relative entry means relative to where the target will run.
    std::string probe = dir[0] == '/' || cwd.empty() ? candidate : cwd + "/" + candidate;
    struct stat st {};
    if (::stat(probe.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(probe.c_str(), X_OK) == 0)
      return candidate;
    start = end + 1;
  }
  return binary;  // exec fails with ENOENT and the message names it
}

std::optional<StartedTarget> start_target(const LaunchSpec& spec, std::string& error) {
  std::vector<sock_filter> filter = build_filter(host_arch(), spec.trapped);
  std::vector<std::string> arg_strings{resolve_binary(spec.binary, spec.env, spec.cwd)};
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
  if (spec.foreground_tty) {
    ::setpgid(pid, pid);  // also here, so that the group exists before we hand it over
    // The caller blocks SIGTTOU, or this would stop faultbox (see Supervisor::loop).
    ::tcsetpgrp(STDIN_FILENO, pid);
  }
  StartedTarget target;
  target.pid = pid;
  target.pidfd = UniqueFd(pidfd_open(pid));
  bool reaped = false;
  auto fail = [&](std::string message) -> std::optional<StartedTarget> {
    error = std::move(message);
    if (!reaped) {
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    return std::nullopt;
  };
  if (!target.pidfd) return fail(std::string("pidfd_open: ") + std::strerror(errno));
  // Set-up in the child can block (a FIFO as stdout, a hung mount as cwd): bounded.
  auto deadline = std::chrono::steady_clock::now() + spec.start_timeout;
  auto late = [&] { return std::chrono::steady_clock::now() >= deadline; };
  std::string too_slow = "the target did not reach its exec within " +
                         std::to_string(spec.start_timeout.count()) +
                         " ms (does opening its working directory or output files block?)";
  // First the child's "ready": its inherited fds are gone, so the only listener we can
  // find in it from now on is its own.
  for (;;) {
    pollfd p{error_read.get(), POLLIN, 0};
    int n = ::poll(&p, 1, 20);
    if (n > 0) {
      auto report = read_report(error_read.get());
      if (report && report->stage == ChildFailure::kReady) break;
      return fail(report ? describe(*report, spec) : "the target ended during its set-up");
    }
    if (late()) return fail(too_slow);
  }
  if (!spec.trapped.empty()) {
    // Wait for the stop. The child's `kill` to stop itself may be trapped (a rule on
    // kill): then it waits on a notification only we can answer, so take the listener
    // as soon as it exists and let the child's own calls through meanwhile.
    timespec pause{0, 20'000};
    for (;;) {
      int status = 0;
      pid_t r = ::waitpid(pid, &status, WUNTRACED | WNOHANG);
      if (r == pid && WIFSTOPPED(status)) break;
      if (r == pid || r < 0) {
        reaped = r == pid;
        auto report = read_report(error_read.get());
        return fail(report ? describe(*report, spec)
                           : "the target ended before its filter was installed");
      }
      if (late()) return fail(too_slow);
      if (!target.listener) {
        int number = find_listener(pid);
        if (number >= 0) target.listener = UniqueFd(pidfd_getfd(target.pidfd.get(), number));
      }
      if (target.listener) {
        pollfd p{target.listener.get(), POLLIN, 0};
        if (::ppoll(&p, 1, &pause, nullptr) > 0) {
          seccomp_notif req{};
          if (::ioctl(target.listener.get(), SECCOMP_IOCTL_NOTIF_RECV, &req) == 0) {
            seccomp_notif_resp resp{};
            resp.id = req.id;
            resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
            ::ioctl(target.listener.get(), SECCOMP_IOCTL_NOTIF_SEND, &resp);
          }
        }
      } else {
        ::nanosleep(&pause, nullptr);
      }
      pause.tv_nsec = std::min(pause.tv_nsec * 2, 1'000'000L);
    }
    if (!target.listener) {
      int number = find_listener(pid);
      target.listener = UniqueFd(number >= 0 ? pidfd_getfd(target.pidfd.get(), number) : -1);
    }
    if (!target.listener)
      return fail(std::string("cannot take the seccomp listener from the target: ") +
                  std::strerror(errno));
  }
  target.error_pipe = std::move(error_read);
  ::fcntl(target.error_pipe.get(), F_SETFL, O_NONBLOCK);
  return target;
}

ExecState poll_exec(int error_pipe, const LaunchSpec& spec, std::string& message) {
  pollfd p{error_pipe, POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0 || !(p.revents & (POLLIN | POLLHUP | POLLERR)))
    return ExecState::kPending;
  ChildFailure f{};
  ssize_t n = ::read(error_pipe, &f, sizeof f);
  if (n == sizeof f) {
    message = describe(f, spec);
    return ExecState::kFailed;
  }
  if (n == 0) return ExecState::kSucceeded;  // exec closed the pipe
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return ExecState::kPending;
  message = "cannot read the target's start-up report";
  return ExecState::kFailed;
}

}  // namespace fb::runtime
