/* The smallest seccomp user-notification supervisor that can run a program: the
 * baseline faultbox's per-syscall cost is measured against (tests/bench/runtime/run.sh).
 * It traps one syscall, sets SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP, and answers every
 * notification with CONTINUE from a blocking RECV loop: no paths, rules or events.
 *
 * With --path it also names the file behind args[0] the cheapest way /proc allows
 * (readlinkat on a cached /proc/<pid>/fd directory), which is what a rule with a path
 * glob needs: the fair baseline for faultbox deciding such a rule.
 *
 *   min_supervisor [--path] SYSCALL_NR PROGRAM ARGS...
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif

int main(int argc, char** argv) {
  int with_path = argc > 1 && strcmp(argv[1], "--path") == 0;
  if (with_path) {
    argv++;
    argc--;
  }
  if (argc < 3) {
    fprintf(stderr, "usage: min_supervisor [--path] SYSCALL_NR PROGRAM ARGS...\n");
    return 2;
  }
  unsigned nr = (unsigned)atoi(argv[1]);
  struct sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {sizeof code / sizeof code[0], code};
  pid_t child = fork();
  if (child == 0) {
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    int listener =
        (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
    if (listener < 0) _exit(126);
    if (listener != 3) {
      dup2(listener, 3); /* a known number for the parent */
      close(listener);
    }
    kill(getpid(), SIGSTOP);
    execvp(argv[2], argv + 2);
    _exit(127);
  }
  int status;
  waitpid(child, &status, WUNTRACED);
  if (!WIFSTOPPED(status)) return 1;
  int pidfd = (int)syscall(SYS_pidfd_open, child, 0);
  int listener = (int)syscall(SYS_pidfd_getfd, pidfd, 3, 0);
  if (listener < 0) return 1;
  ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, 1UL);
  char dir_name[64];
  snprintf(dir_name, sizeof dir_name, "/proc/%d/fd", child);
  int fd_dir = open(dir_name, O_PATH | O_DIRECTORY | O_CLOEXEC);
  char link[4096];
  kill(child, SIGCONT);
  for (;;) {
    struct seccomp_notif req = {0};
    struct seccomp_notif_resp resp = {0};
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) != 0) {
      /* Once no task uses the filter, RECV fails at once: stop when the child is gone. */
      if (waitpid(child, &status, WNOHANG) == child) break;
      continue;
    }
    if (with_path) {
      char name[24];
      snprintf(name, sizeof name, "%llu", (unsigned long long)req.data.args[0]);
      if (readlinkat(fd_dir, name, link, sizeof link) < 0) link[0] = '\0';
      ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &req.id);
    }
    resp.id = req.id;
    resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
