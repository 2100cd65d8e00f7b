#include "runtime/supervisor.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <unordered_map>
#include <utility>

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

namespace fb::runtime {
namespace {

using Clock = std::chrono::steady_clock;

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }
int pidfd_getfd(int pidfd, int fd) {
  return static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, fd, 0));
}

// ---- what a syscall is about ---------------------------------------------------------------

/// How the path of a syscall is found.
enum class PathKind : unsigned char {
  kNone,       // nothing to name (getrandom, clock_nanosleep, ...)
  kFd,         // args[0] is a file descriptor
  kPath0,      // args[0] is a path
  kDirfdPath,  // args[0] is a directory fd, args[1] a path relative to it
  kConnect,    // args[0] a socket, args[1] the sockaddr it connects to
};

constexpr std::string_view kFdCalls[] = {
    "write",    "writev",      "pwrite64",    "pwritev",         "pwritev2",   "read",
    "readv",    "pread64",     "preadv",      "preadv2",         "fsync",      "fdatasync",
    "sendto",   "sendmsg",     "sendmmsg",    "recvfrom",        "recvmsg",    "recvmmsg",
    "accept",   "accept4",     "ftruncate",   "fallocate",       "close",      "fstat",
    "lseek",    "ioctl",       "fcntl",       "flock",           "bind",       "listen",
    "shutdown", "getsockname", "getpeername", "setsockopt",      "getsockopt", "fchmod",
    "fchown",   "fstatfs",     "getdents64",  "sync_file_range", "syncfs",     "sendfile"};
constexpr std::string_view kPath0Calls[] = {
    "open",  "creat",  "unlink", "mkdir", "rmdir",    "truncate", "rename", "stat",
    "lstat", "access", "chmod",  "chown", "readlink", "mknod",    "execve", "statfs"};
constexpr std::string_view kDirfdCalls[] = {"openat",     "openat2",   "unlinkat",   "mkdirat",
                                            "renameat",   "renameat2", "newfstatat", "faccessat",
                                            "faccessat2", "fchmodat",  "fchownat",   "readlinkat",
                                            "mknodat",    "utimensat", "execveat",   "statx"};

/// The path kind of every syscall number of the host architecture.
const std::vector<PathKind>& path_kinds() {
  static const std::vector<PathKind> kinds = [] {
    std::vector<PathKind> out(1024, PathKind::kNone);
    auto mark = [&](std::string_view name, PathKind kind) {
      if (auto nr = syscall_number(host_arch(), name); nr && *nr >= 0 && *nr < 1024)
        out[static_cast<std::size_t>(*nr)] = kind;
    };
    for (auto name : kFdCalls) mark(name, PathKind::kFd);
    for (auto name : kPath0Calls) mark(name, PathKind::kPath0);
    for (auto name : kDirfdCalls) mark(name, PathKind::kDirfdPath);
    mark("connect", PathKind::kConnect);
    return out;
  }();
  return kinds;
}

/// Where /proc/<pid>/<entry> points; empty when it cannot be read.
std::string proc_link(pid_t pid, std::string_view entry) {
  char link[64];
  std::snprintf(link, sizeof link, "/proc/%d/%.*s", pid, static_cast<int>(entry.size()),
                entry.data());
  char target[PATH_MAX];
  ssize_t n = ::readlink(link, target, sizeof target);
  return n > 0 ? std::string(target, static_cast<std::size_t>(n)) : std::string();
}

std::string address_text(const sockaddr_storage& address, socklen_t length) {
  char host[INET6_ADDRSTRLEN] = "";
  if (address.ss_family == AF_INET && length >= sizeof(sockaddr_in)) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(address);
    ::inet_ntop(AF_INET, &in.sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(in.sin_port));
  }
  if (address.ss_family == AF_INET6 && length >= sizeof(sockaddr_in6)) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(address);
    ::inet_ntop(AF_INET6, &in6.sin6_addr, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(in6.sin6_port));
  }
  if (address.ss_family == AF_UNIX && length > offsetof(sockaddr_un, sun_path)) {
    const auto& un = reinterpret_cast<const sockaddr_un&>(address);
    std::size_t size = length - offsetof(sockaddr_un, sun_path);
    if (size > 0 && un.sun_path[0] == '\0')  // abstract
      return "@" + std::string(un.sun_path + 1, size - 1);
    return std::string(un.sun_path, strnlen(un.sun_path, size));
  }
  return "";
}

/// A copy of the target's fd `fd`, through pidfd_getfd.
UniqueFd borrow_fd(pid_t tgid, long fd) {
  UniqueFd pidfd(pidfd_open(tgid));
  if (!pidfd) return UniqueFd();
  return UniqueFd(pidfd_getfd(pidfd.get(), static_cast<int>(fd)));
}

/// "tcp", "udp", "unix" (or "socket" when it cannot be told) for a socket.
std::string socket_kind(int socket) {
  int domain = 0, type = 0;
  socklen_t size = sizeof domain;
  if (::getsockopt(socket, SOL_SOCKET, SO_DOMAIN, &domain, &size) != 0) return "socket";
  size = sizeof type;
  ::getsockopt(socket, SOL_SOCKET, SO_TYPE, &type, &size);
  if (domain == AF_UNIX) return "unix";
  if (domain == AF_INET || domain == AF_INET6)
    return type == SOCK_STREAM ? "tcp" : type == SOCK_DGRAM ? "udp" : "ip";
  return "socket";
}

/// "socket:tcp:127.0.0.1:40312->127.0.0.1:7001": the endpoints of a target's socket,
/// read from a borrowed copy; "socket" when they cannot be read.
std::string socket_name(pid_t tgid, long fd) {
  UniqueFd socket = borrow_fd(tgid, fd);
  if (!socket) return "socket";
  std::string name = "socket:" + socket_kind(socket.get());
  sockaddr_storage local{}, peer{};
  socklen_t local_size = sizeof local, peer_size = sizeof peer;
  std::string local_text, peer_text;
  if (::getsockname(socket.get(), reinterpret_cast<sockaddr*>(&local), &local_size) == 0)
    local_text = address_text(local, local_size);
  if (::getpeername(socket.get(), reinterpret_cast<sockaddr*>(&peer), &peer_size) == 0)
    peer_text = address_text(peer, peer_size);
  if (!local_text.empty() || !peer_text.empty()) name += ":" + local_text;
  if (!peer_text.empty()) name += "->" + peer_text;
  return name;
}

/// Open /proc/<tid>/fd directories, so that naming an fd is one lookup rather than a
/// walk from /proc: the walk was a quarter of the supervisor's time per call. A
/// directory stays tied to its thread: once the thread is gone its reads fail (they
/// never reach a thread that reused the id), and it is opened again.
class FdDirs {
 public:
  std::string link(pid_t tid, long fd) {
    char name[24];
    std::snprintf(name, sizeof name, "%ld", fd);
    char target[PATH_MAX];
    for (int attempt = 0; attempt < 2; ++attempt) {
      int dir = open_dir(tid, attempt == 1);
      if (dir < 0) break;
      ssize_t n = ::readlinkat(dir, name, target, sizeof target);
      if (n > 0) return std::string(target, static_cast<std::size_t>(n));
    }
    dirs_.erase(tid);  // the fd is not open, or the thread is gone
    return "";
  }

 private:
  int open_dir(pid_t tid, bool fresh) {
    auto it = dirs_.find(tid);
    if (it != dirs_.end() && !fresh) return it->second.get();
    // Few at a time: each holds an fd of ours, and threads come and go.
    if (dirs_.size() >= 64) dirs_.clear();
    char path[48];
    std::snprintf(path, sizeof path, "/proc/%d/fd", tid);
    UniqueFd dir(::open(path, O_PATH | O_DIRECTORY | O_CLOEXEC));
    int raw = dir.get();
    dirs_[tid] = std::move(dir);
    return raw;
  }
  std::unordered_map<pid_t, UniqueFd> dirs_;
};

/// The path behind a target's fd; sockets are named by their endpoints, pipes "pipe".
std::string fd_path(FdDirs& dirs, pid_t tid, pid_t tgid, long fd) {
  if (fd < 0 || fd > INT_MAX) return "";
  std::string path = dirs.link(tid, fd);
  if (path.starts_with("socket:")) return socket_name(tgid, fd);
  if (path.starts_with("pipe:")) return "pipe";
  return path;
}

/// A NUL-terminated string from the target's memory; empty when unreadable.
std::string read_string(pid_t pid, std::uint64_t address) {
  std::string out(PATH_MAX, '\0');
  // Read page by page: a path near the end of a mapping must not fail the whole read.
  std::size_t done = 0;
  while (done < out.size()) {
    std::uint64_t at = address + done;
    std::size_t chunk = std::min<std::size_t>(out.size() - done, 4096 - (at % 4096));
    iovec local{out.data() + done, chunk};
    iovec remote{reinterpret_cast<void*>(at), chunk};
    ssize_t n = ::process_vm_readv(pid, &local, 1, &remote, 1, 0);
    if (n <= 0) break;
    auto got = static_cast<std::size_t>(n);
    if (std::memchr(out.data() + done, '\0', got)) {
      done += got;
      break;
    }
    done += got;
  }
  out.resize(done);
  auto nul = out.find('\0');
  if (nul == std::string::npos) return "";  // unterminated or unreadable: cannot be told
  out.resize(nul);
  return out;
}

/// Files a rule without a glob never touches (the reference's list).
bool is_system_path(std::string_view path) {
  for (std::string_view prefix :
       {"/lib/", "/lib64/", "/usr/lib/", "/usr/lib64/", "/proc/", "/sys/", "/dev/", "/etc/ld.so."})
    if (path.starts_with(prefix)) return true;
  return false;
}

std::string join_path(const std::string& base, const std::string& relative) {
  if (base.empty()) return "";
  return base == "/" ? "/" + relative : base + "/" + relative;
}

// ---- the watchdog -------------------------------------------------------------------------

/// A process that outlives faultbox only to kill the targets' process groups if faultbox
/// dies without doing so itself (SIGKILL, a crash). It reads +pgid / -pgid records and
/// kills what is left registered at end of file. Only async-signal-safe calls: it is
/// forked from a process that may have threads.
[[noreturn]] void watchdog_main(int channel) {
  // Out of faultbox's session and deaf to every signal it can ignore, so that a Ctrl-C,
  // Ctrl-\\ or Ctrl-Z meant for faultbox, or a kill of its process group, spares it.
  ::setsid();
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  for (int signal = 1; signal < NSIG; ++signal) ::sigaction(signal, &ignore, nullptr);
  if (channel != 3) {
    ::dup2(channel, 3);
  }
  // Everything else goes: above all, no copy of any seccomp listener.
  ::syscall(SYS_close_range, 4U, ~0U, 0U);
  int devnull = ::open("/dev/null", O_RDWR);
  if (devnull >= 0) {
    ::dup2(devnull, 0);
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
    if (devnull > 3) ::close(devnull);
  }
  static pid_t groups[8192];
  std::size_t count = 0;
  for (;;) {
    std::int32_t record = 0;
    ssize_t n = ::read(3, &record, sizeof record);
    if (n < 0 && errno == EINTR) continue;
    if (n != sizeof record) break;
    if (record > 0 && count < std::size(groups)) {
      groups[count++] = record;
    } else if (record < 0) {
      for (std::size_t i = 0; i < count; ++i) {
        if (groups[i] == -record) {
          groups[i] = groups[--count];
          break;
        }
      }
    }
  }
  for (std::size_t i = 0; i < count; ++i) ::kill(-groups[i], SIGKILL);
  ::_exit(0);
}

void tell_watchdog(int channel, std::int32_t record) {
  if (channel >= 0) (void)!::send(channel, &record, sizeof record, MSG_NOSIGNAL);
}

std::string signal_name(int signal) {
  const char* abbrev = ::sigabbrev_np(signal);
  return abbrev ? std::string("SIG") + abbrev : std::to_string(signal);
}

std::string rule_text(const FaultRule& rule) {
  if (!rule.source.empty()) return rule.source;
  std::string syscalls;
  for (const auto& s : rule.syscalls) syscalls += (syscalls.empty() ? "" : ",") + s;
  switch (rule.action) {
    case FaultRule::Action::kDeny: {
      const ErrnoInfo* e = errno_info(rule.error);
      return syscalls + "=" + (e ? std::string(e->name) : std::to_string(rule.error));
    }
    case FaultRule::Action::kDelay: return syscalls + "=delay:" + format_duration(rule.delay);
    case FaultRule::Action::kAllow: return syscalls + "=allow";
    case FaultRule::Action::kTrace: return syscalls + "=trace";
    case FaultRule::Action::kHold: return syscalls + "=hold";
  }
  return syscalls;
}

std::string deny_decision(int error) {
  const ErrnoInfo* e = errno_info(error);
  return "deny(" + std::string(e ? e->message : std::string_view("error")) + ")";
}

std::string errno_name(int error) {
  const ErrnoInfo* e = errno_info(error);
  return e ? std::string(e->name) : std::to_string(error);
}

/// `from + d`, saturating: a delay of 290 years must not wrap round to the past.
Clock::time_point later(Clock::time_point from, std::chrono::nanoseconds d) {
  auto room = Clock::time_point::max() - from;
  return d >= room ? Clock::time_point::max()
                   : from + std::chrono::duration_cast<Clock::duration>(d);
}

/// Takes faultbox's terminal back from a foreground target's group, if it still has it.
/// From a background group that raises SIGTTOU, blocked here for the call.
void reclaim_terminal(pid_t group) {
  if (::tcgetpgrp(STDIN_FILENO) != group) return;
  sigset_t ttou, old;
  ::sigemptyset(&ttou);
  ::sigaddset(&ttou, SIGTTOU);
  ::pthread_sigmask(SIG_BLOCK, &ttou, &old);
  ::tcsetpgrp(STDIN_FILENO, ::getpgrp());
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

enum Kind : std::uint64_t {
  kWake = 0,
  kPidfd = 1,
  kListener = 2,
  kExecPipe = 3,
  kSweepTimer = 4,
};
std::uint64_t epoll_key(TargetId id, Kind kind) { return id << 3 | kind; }

}  // namespace

// ---- state -----------------------------------------------------------------------------------

struct Supervisor::RuleSlot {
  FaultRule rule;
  std::vector<bool> numbers;  // by syscall number: does this rule name it?
  std::string text;           // for events and draws
  std::uint64_t matches = 0;  // how often it matched (nth/after count these)
  std::uint64_t fires = 0;
};

struct Supervisor::RuleSet {
  RuleSetId id = 0;
  std::vector<RuleSlot> slots;
};

struct Supervisor::Target {
  TargetId id = 0;
  std::string service;
  pid_t pid = -1;
  UniqueFd pidfd;
  UniqueFd listener;
  std::vector<bool> trapped;
  LaunchSpec spec;            // as launched (for messages)
  std::string initial_rules;  // the launch's rule set, as text
  UniqueFd exec_pipe;         // the child's report pipe, until the exec is settled
  bool launching = true;      // exec not confirmed yet: faultbox's own calls go through
  std::string launch_error;   // why the exec failed
  bool exited = false;
  bool discard = false;  // the launch failed: record nothing
  ExitStatus status;
  std::vector<std::pair<std::string, EventLog::Fields>> pending;
  std::vector<RuleSet> rule_sets;  // in install order
  struct Parked {
    HeldCall call;
    std::uint64_t notification = 0;
    Clock::time_point since;
  };
  std::vector<Parked> held;
  std::optional<Clock::time_point> stop_at;
  int stop_signal = SIGTERM;
  std::chrono::milliseconds grace{2000};
  bool stopping_for_timeout = false;
  std::unordered_map<pid_t, pid_t> tgids;  // tid → process (a thread's never changes)
  bool record_paths = true;                // LaunchSpec::record_paths
  FdDirs fd_dirs;

  void record(EventLog& log, std::string type, EventLog::Fields fields) {
    if (discard) return;
    if (launching) {
      pending.emplace_back(std::move(type), std::move(fields));
      return;
    }
    log.append(std::move(type), service, std::move(fields));
  }

  pid_t tgid_of(pid_t tid) {
    if (tid == pid) return pid;
    if (auto it = tgids.find(tid); it != tgids.end()) return it->second;
    pid_t tgid = tid;
    std::ifstream file("/proc/" + std::to_string(tid) + "/status");
    for (std::string line; std::getline(file, line);) {
      if (line.starts_with("Tgid:")) {
        tgid = std::atoi(line.c_str() + 5);
        break;
      }
    }
    if (tgids.size() > 1024) tgids.clear();
    tgids.emplace(tid, tgid);
    return tgid;
  }
};

struct Supervisor::LaunchRequest {
  std::string service;
  const LaunchSpec* spec = nullptr;
  std::vector<RuleSlot> slots;
  std::string rules_text;
  bool done = false;  // the target is forked (id set) or could not be (error set)
  std::string error;
  TargetId id = 0;
};

// ---- construction --------------------------------------------------------------------------

Supervisor::Supervisor(EventLog& log, std::uint64_t seed) : log_(log), seed_(seed) {
  // Orphans of a target are re-parented to us, not to init, so they can be reaped.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  // An inherited SIGCHLD = SIG_IGN makes the kernel reap our targets itself, and their
  // exit statuses would be lost.
  struct sigaction child {};
  if (::sigaction(SIGCHLD, nullptr, &child) == 0 && child.sa_handler == SIG_IGN) {
    child.sa_handler = SIG_DFL;
    ::sigaction(SIGCHLD, &child, nullptr);
  }
  epoll_ = UniqueFd(::epoll_create1(EPOLL_CLOEXEC));
  wake_ = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  epoll_event wake_event{EPOLLIN, {.u64 = epoll_key(0, kWake)}};
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_.get(), &wake_event);
  sweep_timer_ = UniqueFd(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
  itimerspec every_second{{1, 0}, {1, 0}};
  ::timerfd_settime(sweep_timer_.get(), 0, &every_second, nullptr);
  epoll_event sweep_event{EPOLLIN, {.u64 = epoll_key(0, kSweepTimer)}};
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, sweep_timer_.get(), &sweep_event);
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0) {
    pid_t pid = ::fork();
    if (pid == 0) {
      ::close(pair[0]);
      watchdog_main(pair[1]);
    }
    ::close(pair[1]);
    if (pid > 0) {
      watchdog_pid_ = pid;
      watchdog_ = UniqueFd(pair[0]);
    } else {
      ::close(pair[0]);
    }
  }
  thread_ = std::thread([this] { loop(); });
}

Supervisor::~Supervisor() {
  {
    std::lock_guard lock(mutex_);
    quit_ = true;
    for (auto& [id, target] : targets_) {
      if (target->exited) continue;
      ::kill(-target->pid, SIGKILL);
      ::kill(target->pid, SIGKILL);
    }
  }
  wake();
  thread_.join();
  for (auto& [id, target] : targets_) {
    if (!target->exited) {
      ::waitpid(target->pid, nullptr, 0);
      target->exited = true;
      tell_watchdog(watchdog_.get(), -target->pid);
      if (target->spec.foreground_tty) reclaim_terminal(target->pid);
    }
    dead_groups_.push_back(target->pid);
  }
  // Whatever the targets left behind: kill it and wait for it.
  sweep_orphans();
  watchdog_ = UniqueFd();  // end of file: the watchdog exits
  if (watchdog_pid_ > 0) ::waitpid(watchdog_pid_, nullptr, 0);
}

void Supervisor::wake() {
  std::uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
}

Supervisor::Target* Supervisor::find(TargetId id) const {
  auto it = targets_.find(id);
  return it == targets_.end() ? nullptr : it->second.get();
}

bool Supervisor::any_live() const {
  for (const auto& [id, target] : targets_)
    if (!target->exited) return true;
  return false;
}

pid_t Supervisor::pid(TargetId target) const {
  std::lock_guard lock(mutex_);
  Target* t = find(target);
  return t ? t->pid : -1;
}

// ---- rules -----------------------------------------------------------------------------------

bool Supervisor::compile(std::vector<FaultRule>& rules, const std::vector<bool>& trapped,
                         std::vector<RuleSlot>& slots, std::string& error) {
  for (auto& rule : rules) {
    RuleSlot slot;
    slot.text = rule_text(rule);
    slot.numbers.assign(trapped.size(), false);
    for (const auto& name : rule.syscalls) {
      auto nr = syscall_number(host_arch(), name);
      if (!nr) {
        error = "rule " + slot.text + ": unknown syscall " + name;
        return false;
      }
      auto index = static_cast<std::size_t>(*nr);
      if (index >= trapped.size() || !trapped[index]) {
        error = "rule " + slot.text + " needs syscall " + name +
                ", which the target's filter does not trap";
        return false;
      }
      slot.numbers[index] = true;
    }
    if (rule.action == FaultRule::Action::kDeny && (rule.error < 1 || rule.error > 4095)) {
      error = "rule " + slot.text + ": errno " + std::to_string(rule.error) +
              " is not one a syscall can fail with (1..4095)";
      return false;
    }
    if (rule.delay < std::chrono::nanoseconds::zero()) {
      error = "rule " + slot.text + ": a delay cannot be negative";
      return false;
    }
    slot.rule = std::move(rule);
    slots.push_back(std::move(slot));
  }
  return true;
}

namespace {

std::vector<bool> trap_table(const std::vector<int>& trapped) {
  std::vector<bool> table(1024, false);
  for (int nr : trapped)
    if (nr >= 0 && nr < 1024) table[static_cast<std::size_t>(nr)] = true;
  return table;
}

std::string rules_text(const std::vector<FaultRule>& rules) {
  std::string text;
  for (const auto& r : rules) text += (text.empty() ? "" : "; ") + rule_text(r);
  return text;
}

}  // namespace

std::optional<RuleSetId> Supervisor::install(TargetId id, std::vector<FaultRule> rules,
                                             std::string& error) {
  std::lock_guard lock(mutex_);
  Target* target = find(id);
  if (!target || target->exited) {
    error = "the target is not running";
    return std::nullopt;
  }
  std::string text = rules_text(rules);
  RuleSet set;
  if (!compile(rules, target->trapped, set.slots, error)) return std::nullopt;
  set.id = next_rule_set_++;
  target->rule_sets.push_back(std::move(set));
  target->record(
      log_, "fault_applied",
      {{"rule_set", static_cast<std::int64_t>(target->rule_sets.back().id)}, {"rules", text}});
  return target->rule_sets.back().id;
}

bool Supervisor::remove(RuleSetId rule_set) {
  std::lock_guard lock(mutex_);
  for (auto& [id, target] : targets_) {
    auto& sets = target->rule_sets;
    auto it =
        std::find_if(sets.begin(), sets.end(), [&](const RuleSet& s) { return s.id == rule_set; });
    if (it == sets.end()) continue;
    std::string text;
    std::int64_t fires = 0;
    auto& counters = retired_[rule_set];
    for (const auto& slot : it->slots) {
      text += (text.empty() ? "" : "; ") + slot.text;
      fires += static_cast<std::int64_t>(slot.fires);
      counters.push_back({slot.text, slot.matches, slot.fires});
    }
    sets.erase(it);
    if (!target->exited)
      target->record(
          log_, "fault_removed",
          {{"rule_set", static_cast<std::int64_t>(rule_set)}, {"rules", text}, {"fires", fires}});
    return true;
  }
  return false;
}

std::vector<RuleHits> Supervisor::hits(RuleSetId rule_set) const {
  std::lock_guard lock(mutex_);
  if (auto it = retired_.find(rule_set); it != retired_.end()) return it->second;
  for (const auto& [id, target] : targets_)
    for (const auto& set : target->rule_sets)
      if (set.id == rule_set) {
        std::vector<RuleHits> out;
        for (const auto& slot : set.slots) out.push_back({slot.text, slot.matches, slot.fires});
        return out;
      }
  return {};
}

// ---- launch ----------------------------------------------------------------------------------

std::optional<TargetId> Supervisor::launch(const std::string& service, const LaunchSpec& spec,
                                           std::vector<FaultRule> rules, std::string& error) {
  LaunchRequest request;
  request.service = service;
  request.spec = &spec;
  std::string text = rules_text(rules);
  if (!compile(rules, trap_table(spec.trapped), request.slots, error)) return std::nullopt;
  std::unique_lock lock(mutex_);
  if (quit_) {
    error = "the supervisor is shutting down";
    return std::nullopt;
  }
  launches_.push_back(&request);
  wake();
  request.rules_text = text;
  changed_.wait(lock, [&] { return request.done; });
  if (!request.id) {
    error = request.error;
    return std::nullopt;
  }
  // The loop thread watches the report pipe and decides when the exec has happened.
  Target* target = find(request.id);
  changed_.wait(lock, [&] { return !target->launching || target->exited; });
  if (target->discard) {
    changed_.wait(lock, [&] { return target->exited; });  // reaped: nothing left behind
    error =
        target->launch_error.empty() ? "the target ended before its exec" : target->launch_error;
    return std::nullopt;
  }
  return request.id;
}

bool Supervisor::settle_launch(Target& target) {
  if (!target.launching) return true;
  std::string message;
  switch (poll_exec(target.exec_pipe.get(), target.spec, message)) {
    case ExecState::kPending: return false;
    case ExecState::kFailed:
      target.launch_error = std::move(message);
      target.discard = true;
      target.pending.clear();
      break;
    case ExecState::kSucceeded: {
      target.launching = false;
      log_.append(
          "service_started", target.service,
          {{"pid", static_cast<std::int64_t>(target.pid)},
           {"binary", resolve_binary(target.spec.binary, target.spec.env, target.spec.cwd)}});
      if (!target.rule_sets.empty())
        log_.append("fault_applied", target.service,
                    {{"rule_set", static_cast<std::int64_t>(target.rule_sets.front().id)},
                     {"rules", target.initial_rules}});
      for (auto& [type, fields] : target.pending)
        log_.append(type, target.service, std::move(fields));
      target.pending.clear();
      break;
    }
  }
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, target.exec_pipe.get(), nullptr);
  target.exec_pipe = UniqueFd();
  notify_ = true;
  return !target.discard;
}

void Supervisor::start_launches(std::unique_lock<std::mutex>& lock) {
  while (!launches_.empty() && !quit_) {
    LaunchRequest* request = launches_.front();
    launches_.erase(launches_.begin());
    const LaunchSpec& spec = *request->spec;
    // Forking and waiting for the child's stop take a while: API callers need not wait.
    // Only this thread touches targets_ and epoll, so nothing moves meanwhile.
    lock.unlock();
    std::string error;
    std::optional<StartedTarget> started = start_target(spec, error);
    lock.lock();
    request->done = true;
    notify_ = true;
    if (!started) {
      request->error = std::move(error);
      continue;
    }
    auto target = std::make_unique<Target>();
    target->id = request->id = next_target_++;
    target->service = request->service;
    target->spec = spec;
    target->initial_rules = request->rules_text;
    target->pid = started->pid;
    target->pidfd = std::move(started->pidfd);
    target->listener = std::move(started->listener);
    target->exec_pipe = std::move(started->error_pipe);
    target->trapped = trap_table(spec.trapped);
    target->record_paths = spec.record_paths;
    if (!request->slots.empty()) {
      RuleSet set;
      set.id = next_rule_set_++;
      set.slots = std::move(request->slots);
      target->rule_sets.push_back(std::move(set));
    }
    if (spec.timeout.count() > 0) {
      target->stop_at = later(Clock::now(), spec.timeout);
      target->grace = spec.grace;
      target->stopping_for_timeout = true;
    }
    epoll_event exit_event{EPOLLIN, {.u64 = epoll_key(target->id, kPidfd)}};
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, target->pidfd.get(), &exit_event);
    epoll_event exec_event{EPOLLIN, {.u64 = epoll_key(target->id, kExecPipe)}};
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, target->exec_pipe.get(), &exec_event);
    if (target->listener) {
      // The kernel wakes us on the CPU the target ran on and switches straight to us:
      // a several-fold shorter round trip where it exists (Linux 6.6).
      if (::ioctl(target->listener.get(), SECCOMP_IOCTL_NOTIF_SET_FLAGS,
                  SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) == 0)
        sync_wake_up_ = true;
      epoll_event notify_event{EPOLLIN, {.u64 = epoll_key(target->id, kListener)}};
      ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, target->listener.get(), &notify_event);
    }
    tell_watchdog(watchdog_.get(), target->pid);
    ::kill(target->pid, SIGCONT);
    targets_.emplace(target->id, std::move(target));
  }
}

// ---- the loop --------------------------------------------------------------------------------

std::optional<Clock::time_point> Supervisor::next_deadline() const {
  std::optional<Clock::time_point> next;
  auto consider = [&](Clock::time_point t) {
    if (!next || t < *next) next = t;
  };
  if (!delayed_.empty()) consider(delayed_.begin()->first);
  for (const auto& [id, target] : targets_)
    if (target->stop_at && !target->exited) consider(*target->stop_at);
  if (sweeps_left_ > 0) consider(next_sweep_);
  return next;
}

void Supervisor::loop() {
  // Handing the terminal to a target and taking it back (foreground_tty) from what is
  // then a background group would raise SIGTTOU: blocked, it lets the call through.
  sigset_t ttou;
  ::sigemptyset(&ttou);
  ::sigaddset(&ttou, SIGTTOU);
  ::pthread_sigmask(SIG_BLOCK, &ttou, nullptr);
  std::array<epoll_event, 32> events{};
  for (;;) {
    timespec timeout{};
    timespec* wait = nullptr;
    {
      std::lock_guard lock(mutex_);
      if (quit_) break;
      if (auto deadline = next_deadline()) {
        auto left = std::max(Clock::duration::zero(), *deadline - Clock::now());
        auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
        timeout.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
        timeout.tv_nsec = static_cast<long>(ns % 1'000'000'000);
        wait = &timeout;
      }
    }
    int n =
        ::epoll_pwait2(epoll_.get(), events.data(), static_cast<int>(events.size()), wait, nullptr);
    if (n < 0 && errno != EINTR) {
      // Nobody could answer the targets any more: better killed than hung, and their
      // waiters told.
      int failure = errno;
      std::lock_guard lock(mutex_);
      for (auto& [id, target] : targets_) {
        if (target->exited) continue;
        ::kill(-target->pid, SIGKILL);
        ::kill(target->pid, SIGKILL);
        int status = 0;
        ::waitpid(target->pid, &status, 0);
        target->status.signal = SIGKILL;
        target->status.exit_code = 128 + SIGKILL;
        target->exited = true;
        tell_watchdog(watchdog_.get(), -target->pid);
      }
      for (LaunchRequest* request : launches_) {
        request->error = std::string("the supervisor failed: ") + std::strerror(failure);
        request->done = true;
      }
      launches_.clear();
      quit_ = true;
      changed_.notify_all();
      return;
    }
    std::unique_lock lock(mutex_);
    for (int i = 0; i < n; ++i) {
      std::uint64_t key = events[static_cast<std::size_t>(i)].data.u64;
      auto kind = static_cast<Kind>(key & 7);
      if (kind == kWake || kind == kSweepTimer) {
        std::uint64_t count = 0;
        (void)!::read(kind == kWake ? wake_.get() : sweep_timer_.get(), &count, sizeof count);
        // Once a second, while targets run: their orphans that ended are reaped, so a
        // process that double-forks piles up no zombies. A timerfd, because a timeout
        // on every epoll wait would arm a timer on every trapped call.
        if (kind == kSweepTimer && any_live()) sweep_orphans();
        continue;
      }
      Target* target = find(key >> 3);
      if (!target) continue;
      std::uint32_t flags = events[static_cast<std::size_t>(i)].events;
      if (kind == kListener) {
        if (flags & EPOLLIN)
          handle_notification(*target);
        else if (flags & (EPOLLHUP | EPOLLERR)) {
          // No process uses the filter any more.
          ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, target->listener.get(), nullptr);
          target->listener = UniqueFd();
        }
      } else if (kind == kPidfd) {
        handle_exit(*target);
      } else if (kind == kExecPipe && target->exec_pipe) {
        settle_launch(*target);
      }
    }
    if (quit_) break;
    start_launches(lock);
    auto now = Clock::now();
    answer_due(now);
    enforce_stops(now);
    // For a while after an exit, the group's orphans are swept often.
    if (sweeps_left_ > 0 && now >= next_sweep_) {
      sweep_orphans();
      if (--sweeps_left_ == 0) dead_groups_.clear();
      next_sweep_ = now + std::chrono::milliseconds(100);
    }
    // Waking waiters only for what they wait on: a wake per notification would cost
    // two context switches on every trapped call.
    if (std::exchange(notify_, false)) changed_.notify_all();
  }
  // Shutting down: a launch still queued will not happen.
  std::lock_guard lock(mutex_);
  for (LaunchRequest* request : launches_) {
    request->error = "the supervisor is shutting down";
    request->done = true;
  }
  launches_.clear();
  changed_.notify_all();
}

const Supervisor::RuleSlot* Supervisor::decide(Target& target, int nr, const PathSource& path,
                                               bool& system_path) {
  system_path = false;
  auto index = static_cast<std::size_t>(nr);
  for (auto set = target.rule_sets.rbegin(); set != target.rule_sets.rend(); ++set) {
    for (auto slot = set->slots.rbegin(); slot != set->slots.rend(); ++slot) {
      const FaultRule& r = slot->rule;
      if (index >= slot->numbers.size() || !slot->numbers[index]) continue;
      if (r.max_fires && r.pinned.empty() && slot->fires >= r.max_fires) continue;
      if (!r.path_glob.empty()) {
        const std::string& p = path();
        if (p.empty() || !path_glob_match(r.path_glob, p)) continue;
      } else if (is_system_path(path())) {
        // A rule without a glob leaves the loader, /proc, /sys and /dev alone, as the
        // reference does: `read=EIO` must not stop the program from loading.
        system_path = true;
        continue;
      }
      std::uint64_t occurrence = ++slot->matches;
      if (r.nth && occurrence != r.nth) continue;
      if (r.after && occurrence <= r.after) continue;
      if (occurrence <= r.pinned.size()) {
        if (!r.pinned[occurrence - 1]) continue;  // the leaf says: not this one
      } else if (r.probability < 1.0 &&
                 draw(seed_, target.service, slot->text, occurrence) >= r.probability) {
        continue;
      }
      ++slot->fires;
      return &*slot;
    }
  }
  return nullptr;
}

namespace {

std::string syscall_path(FdDirs& dirs, const seccomp_notif& n, PathKind kind, pid_t tgid,
                         std::string& dest) {
  auto pid = static_cast<pid_t>(n.pid);
  switch (kind) {
    case PathKind::kNone: return "";
    case PathKind::kFd: return fd_path(dirs, pid, tgid, static_cast<long>(n.data.args[0]));
    case PathKind::kPath0: {
      std::string p = read_string(pid, n.data.args[0]);
      if (p.empty() || p[0] == '/') return p;
      return join_path(proc_link(pid, "cwd"), p);
    }
    case PathKind::kDirfdPath: {
      std::string p = read_string(pid, n.data.args[1]);
      if (p.empty() || p[0] == '/') return p;
      auto dirfd = static_cast<int>(n.data.args[0]);
      std::string base =
          dirfd == AT_FDCWD ? proc_link(pid, "cwd") : fd_path(dirs, pid, tgid, dirfd);
      if (!base.starts_with("/")) return "";  // a socket or pipe is no directory
      return join_path(base, p);
    }
    case PathKind::kConnect: {
      sockaddr_storage address{};
      auto length = static_cast<socklen_t>(std::min<std::uint64_t>(n.data.args[2], sizeof address));
      iovec local{&address, length};
      iovec remote{reinterpret_cast<void*>(n.data.args[1]), length};
      if (length == 0 || ::process_vm_readv(pid, &local, 1, &remote, 1, 0) != length) return "";
      dest = address_text(address, length);
      if (dest.empty()) return "";
      UniqueFd socket = borrow_fd(tgid, static_cast<long>(n.data.args[0]));
      return "socket:" + (socket ? socket_kind(socket.get()) : std::string("socket")) + ":" + dest;
    }
  }
  return "";
}

}  // namespace

void Supervisor::handle_notification(Target& target) {
  seccomp_notif req{};
  if (::ioctl(target.listener.get(), SECCOMP_IOCTL_NOTIF_RECV, &req) != 0) return;  // gone
  auto started = Clock::now();
  seccomp_notif_resp resp{};
  resp.id = req.id;
  resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
  int nr = req.data.nr;
  auto tid = static_cast<pid_t>(req.pid);
  std::string_view name = syscall_name(host_arch(), nr);
  // Until its exec has happened, every call is faultbox's own (the stop, the exec, a
  // failure report and exit): let it through unrecorded. The report pipe reaches end of
  // file during the exec, before the program's first syscall, so this is exact.
  if (target.discard || !settle_launch(target)) {
    ::ioctl(target.listener.get(), SECCOMP_IOCTL_NOTIF_SEND, &resp);
    return;
  }
  const auto& kinds = path_kinds();
  PathKind kind = nr >= 0 && static_cast<std::size_t>(nr) < kinds.size()
                      ? kinds[static_cast<std::size_t>(nr)]
                      : PathKind::kNone;
  pid_t tgid = target.tgid_of(tid);
  // The path is worked out only when something needs it: a rule with a glob, a rule
  // that fired, or a log that records every path. Through /proc it costs about as
  // much as the whole notification round trip.
  std::string dest;
  std::optional<std::string> path;
  auto resolve = [&]() -> const std::string& {
    if (!path) path = syscall_path(target.fd_dirs, req, kind, tgid, dest);
    return *path;
  };
  PathSource path_of{[](void* context) -> const std::string& {
                       return (*static_cast<decltype(resolve)*>(context))();
                     },
                     &resolve};
  bool system_path = false;
  const RuleSlot* slot = decide(target, nr, path_of, system_path);
  FaultRule::Action action = slot ? slot->rule.action : FaultRule::Action::kAllow;
  if (target.record_paths || action != FaultRule::Action::kAllow) path_of();
  // What we read must belong to this notification: the thread may have died and its
  // id been reused since. (A vanished caller's rule counters stay moved.)
  if ((path || tid != target.pid) &&
      ::ioctl(target.listener.get(), SECCOMP_IOCTL_NOTIF_ID_VALID, &req.id) != 0)
    return;
  std::string decision = slot || !system_path ? "allow" : "allow (system path)";
  std::int64_t latency_us = 0;
  switch (action) {
    case FaultRule::Action::kDeny:
      resp.flags = 0;
      resp.error = -slot->rule.error;
      decision = deny_decision(slot->rule.error);
      break;
    case FaultRule::Action::kTrace: decision = "trace"; break;
    case FaultRule::Action::kDelay:
      decision = "delay(" + format_duration(slot->rule.delay) + ")";
      latency_us = std::chrono::duration_cast<std::chrono::microseconds>(slot->rule.delay).count();
      break;
    case FaultRule::Action::kHold: decision = "hold"; break;
    case FaultRule::Action::kAllow: break;
  }
  if (!log_.observed()) {
    log_.tick(target.service);  // nobody would see the event: do not build it
  } else {
    record_syscall(target, req, tgid, name, path, dest, action, slot, decision, started,
                   latency_us);
  }
  switch (action) {
    case FaultRule::Action::kDelay:
      // Answered by answer_due(); the calling thread waits, every other one goes on.
      delayed_.emplace(later(started, slot->rule.delay), std::pair(target.id, req.id));
      return;
    case FaultRule::Action::kHold:
      notify_ = true;
      target.held.push_back(
          {HeldCall{next_hold_++, tid, std::string(name), *path, slot->rule.label}, req.id,
           started});
      return;
    default: ::ioctl(target.listener.get(), SECCOMP_IOCTL_NOTIF_SEND, &resp);
  }
}

void Supervisor::record_syscall(Target& target, const seccomp_notif& req, pid_t tgid,
                                std::string_view name, const std::optional<std::string>& path,
                                const std::string& dest, FaultRule::Action action,
                                const RuleSlot* slot, const std::string& decision,
                                Clock::time_point started, std::int64_t latency_us) {
  auto tid = static_cast<pid_t>(req.pid);
  EventLog::Fields fields;
  fields.reserve(9);
  fields.emplace_back("pid", static_cast<std::int64_t>(tgid));
  fields.emplace_back("tid", static_cast<std::int64_t>(tid));
  fields.emplace_back("syscall", std::string(name));
  if (path && !path->empty()) fields.emplace_back("path", *path);
  if (!dest.empty()) fields.emplace_back("dest", dest);
  fields.emplace_back("decision", decision);
  if (action == FaultRule::Action::kDeny)
    fields.emplace_back("errno", errno_name(slot->rule.error));
  if (slot && !slot->rule.label.empty()) fields.emplace_back("label", slot->rule.label);
  if (slot && !slot->rule.op.empty()) fields.emplace_back("op", slot->rule.op);
  if (action == FaultRule::Action::kAllow || action == FaultRule::Action::kTrace ||
      action == FaultRule::Action::kDeny)
    latency_us =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started).count();
  fields.emplace_back("latency_us", latency_us);
  target.record(log_, "syscall", std::move(fields));
}

void Supervisor::answer_due(Clock::time_point now) {
  while (!delayed_.empty() && delayed_.begin()->first <= now) {
    auto [id, notification] = delayed_.begin()->second;
    delayed_.erase(delayed_.begin());
    Target* target = find(id);
    if (!target || !target->listener) continue;
    seccomp_notif_resp resp{};
    resp.id = notification;
    resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    // A thread that died meanwhile makes the kernel refuse this, which is harmless.
    ::ioctl(target->listener.get(), SECCOMP_IOCTL_NOTIF_SEND, &resp);
  }
}

void Supervisor::handle_exit(Target& target) {
  int status = 0;
  pid_t reaped = ::waitpid(target.pid, &status, WNOHANG);
  if (reaped == 0) return;
  if (reaped < 0) status = 0;  // reaped elsewhere (SIGCHLD ignored): the status is lost
  if (target.launching) settle_launch(target);  // a failure report explains the exit
  if (target.spec.foreground_tty) reclaim_terminal(target.pid);
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, target.pidfd.get(), nullptr);
  target.pidfd = UniqueFd();
  ::kill(-target.pid, SIGKILL);  // anything the target left in its group
  tell_watchdog(watchdog_.get(), -target.pid);
  dead_groups_.push_back(target.pid);
  sweeps_left_ = 5;
  next_sweep_ = Clock::now() + std::chrono::milliseconds(20);
  if (WIFEXITED(status)) target.status.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) {
    target.status.signal = WTERMSIG(status);
    target.status.exit_code = 128 + target.status.signal;
  }
  target.exited = true;
  notify_ = true;
  target.stop_at.reset();
  // Held calls of processes that outlived the group kill (they left it) go on.
  for (const auto& parked : target.held) {
    seccomp_notif_resp resp{};
    resp.id = parked.notification;
    resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    if (target.listener) ::ioctl(target.listener.get(), SECCOMP_IOCTL_NOTIF_SEND, &resp);
  }
  target.held.clear();
  target.tgids.clear();
  target.fd_dirs = FdDirs();
  EventLog::Fields fields{{"pid", static_cast<std::int64_t>(target.pid)}};
  if (target.status.signal)
    fields.emplace_back("signal", signal_name(target.status.signal));
  else
    fields.emplace_back("code", static_cast<std::int64_t>(target.status.exit_code));
  if (target.status.timed_out) fields.emplace_back("timed_out", std::int64_t{1});
  target.record(log_, "service_exited", std::move(fields));
}

void Supervisor::enforce_stops(Clock::time_point now) {
  for (auto& [id, target] : targets_) {
    if (target->exited || !target->stop_at || *target->stop_at > now) continue;
    ::kill(-target->pid, target->stop_signal);
    if (target->stopping_for_timeout) target->status.timed_out = true;
    if (target->stop_signal == SIGTERM) {
      target->stop_signal = SIGKILL;
      target->stop_at = later(now, target->grace);
    } else {
      target->stop_at.reset();
    }
  }
}

void Supervisor::sweep_orphans() {
  // Our children re-parented here (we are a subreaper) from the targets' trees.
  pid_t own_session = ::getsid(0);
  std::set<pid_t> live_targets;
  for (const auto& [id, target] : targets_)
    if (!target->exited) live_targets.insert(target->pid);
  std::vector<pid_t> children;
  std::error_code ec;
  std::filesystem::directory_iterator it("/proc/self/task", ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    std::ifstream list(it->path() / "children");
    for (pid_t child = 0; list >> child;) children.push_back(child);
  }
  for (pid_t child : children) {
    if (child == watchdog_pid_ || live_targets.contains(child)) continue;
    pid_t group = ::getpgid(child);
    bool dead_group =
        std::find(dead_groups_.begin(), dead_groups_.end(), group) != dead_groups_.end();
    // One that left our session may belong to a target still running (a daemon that
    // forked away): it goes only when everything is shut down.
    bool escaped = quit_ && ::getsid(child) != own_session;
    if (dead_group || escaped) {
      ::kill(child, SIGKILL);
      ::waitpid(child, nullptr, quit_ ? 0 : WNOHANG);
    } else if (live_targets.contains(group)) {
      ::waitpid(child, nullptr, WNOHANG);  // an orphan of a running target that has ended
    }
  }
}

// ---- holds, waits, stops -----------------------------------------------------------------------

std::vector<HeldCall> Supervisor::held(TargetId id) const {
  std::lock_guard lock(mutex_);
  std::vector<HeldCall> out;
  if (Target* target = find(id))
    for (const auto& parked : target->held) out.push_back(parked.call);
  return out;
}

bool Supervisor::wait_held(TargetId id, std::size_t count, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  Target* target = find(id);
  if (!target) return false;
  changed_.wait_for(lock, timeout, [&] { return target->exited || target->held.size() >= count; });
  return target->held.size() >= count;
}

std::size_t Supervisor::release(TargetId id, std::string_view label, int error, std::size_t limit) {
  if (error < 0 || error > 4095) return 0;  // no syscall fails with that
  std::lock_guard lock(mutex_);
  Target* target = find(id);
  if (!target) return 0;
  std::size_t released = 0;
  auto now = Clock::now();
  for (auto it = target->held.begin(); it != target->held.end() && released < limit;) {
    if (!label.empty() && !glob_match(label, it->call.label)) {
      ++it;
      continue;
    }
    seccomp_notif_resp resp{};
    resp.id = it->notification;
    resp.flags = error ? 0 : SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    resp.error = -error;
    if (target->listener) ::ioctl(target->listener.get(), SECCOMP_IOCTL_NOTIF_SEND, &resp);
    EventLog::Fields fields{{"pid", static_cast<std::int64_t>(target->tgid_of(it->call.tid))},
                            {"tid", static_cast<std::int64_t>(it->call.tid)},
                            {"syscall", it->call.syscall}};
    if (!it->call.path.empty()) fields.emplace_back("path", it->call.path);
    fields.emplace_back(
        "decision", error ? deny_decision(error) + " (released)" : std::string("allow (released)"));
    if (error) fields.emplace_back("errno", errno_name(error));
    if (!it->call.label.empty()) fields.emplace_back("label", it->call.label);
    fields.emplace_back(
        "latency_us",
        std::chrono::duration_cast<std::chrono::microseconds>(now - it->since).count());
    target->record(log_, "syscall", std::move(fields));
    it = target->held.erase(it);
    ++released;
  }
  return released;
}

ExitStatus Supervisor::wait(TargetId id) {
  std::unique_lock lock(mutex_);
  Target* target = find(id);
  if (!target) return {};
  changed_.wait(lock, [&] { return target->exited; });
  return target->status;
}

std::optional<ExitStatus> Supervisor::wait_for(TargetId id, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  Target* target = find(id);
  if (!target) return std::nullopt;
  if (!changed_.wait_for(lock, timeout, [&] { return target->exited; })) return std::nullopt;
  return target->status;
}

void Supervisor::stop(TargetId id, std::chrono::milliseconds grace) {
  {
    std::lock_guard lock(mutex_);
    Target* target = find(id);
    if (!target || target->exited) return;
    target->stop_at = Clock::now();
    target->stop_signal = SIGTERM;
    target->grace = grace;
    target->stopping_for_timeout = false;
  }
  wake();
}

void Supervisor::stop_all(std::chrono::milliseconds grace) {
  std::vector<TargetId> ids;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, target] : targets_) ids.push_back(id);
  }
  for (TargetId id : ids) stop(id, grace);
}

// ---- one target, start to end ----------------------------------------------------------------

std::optional<RunResult> run_supervised(const LaunchSpec& spec, const std::vector<FaultRule>& rules,
                                        std::uint64_t seed, std::string& error) {
  EventLog log;
  std::optional<ExitStatus> status;
  {
    Supervisor supervisor(log, seed);
    auto id = supervisor.launch("target", spec, rules, error);
    if (!id) return std::nullopt;
    status = supervisor.wait(*id);
  }
  RunResult result;
  result.started = true;
  result.exit_code = status->exit_code;
  result.signal = status->signal;
  result.timed_out = status->timed_out;
  for (const auto& e : log.snapshot()) {
    if (e.type != "syscall") continue;
    SyscallEvent s;
    s.seq = e.seq;
    s.pid = static_cast<pid_t>(std::get<std::int64_t>(*e.field("pid")));
    s.syscall = e.text("syscall");
    s.path = e.text("path");
    s.decision = e.text("decision");
    if (const ErrnoInfo* info = find_errno(e.text("errno"))) s.error = info->number;
    s.label = e.text("label");
    result.events.push_back(std::move(s));
  }
  return result;
}

}  // namespace fb::runtime
