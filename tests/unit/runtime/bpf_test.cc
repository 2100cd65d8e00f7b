// The seccomp filter built from a trap set, run in the userspace BPF interpreter.
#include "runtime/bpf.h"

#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/seccomp.h>

namespace fb::runtime {
namespace {

TEST(Filter, TrappedSyscallsNotifyOthersRunInTheKernel) {
  Arch arch = Arch::kX86_64;
  std::vector<int> trapped;
  for (const auto& name : expand(arch, "write")) trapped.push_back(*syscall_number(arch, name));
  auto program = build_filter(arch, trapped);
  EXPECT_EQ(run_filter(program, AUDIT_ARCH_X86_64, *syscall_number(arch, "write")),
            SECCOMP_RET_USER_NOTIF);
  EXPECT_EQ(run_filter(program, AUDIT_ARCH_X86_64, *syscall_number(arch, "pwritev2")),
            SECCOMP_RET_USER_NOTIF);
  EXPECT_EQ(run_filter(program, AUDIT_ARCH_X86_64, *syscall_number(arch, "read")),
            SECCOMP_RET_ALLOW);
  EXPECT_EQ(run_filter(program, AUDIT_ARCH_X86_64, *syscall_number(arch, "openat")),
            SECCOMP_RET_ALLOW);
}

TEST(Filter, ForeignArchitecturesAndX32AreKilled) {
  auto program = build_filter(Arch::kX86_64, {1});
  EXPECT_EQ(run_filter(program, AUDIT_ARCH_I386, 1), SECCOMP_RET_KILL_PROCESS);
  EXPECT_EQ(run_filter(program, AUDIT_ARCH_X86_64, 0x40000000 | 1), SECCOMP_RET_KILL_PROCESS);
  auto arm = build_filter(Arch::kAarch64, {64});
  EXPECT_EQ(run_filter(arm, AUDIT_ARCH_AARCH64, 64), SECCOMP_RET_USER_NOTIF);
  EXPECT_EQ(run_filter(arm, AUDIT_ARCH_AARCH64, 63), SECCOMP_RET_ALLOW);
  EXPECT_EQ(run_filter(arm, AUDIT_ARCH_X86_64, 64), SECCOMP_RET_KILL_PROCESS);
}

TEST(Filter, LongTrapSetsStayWithinJumpRange) {
  // Every syscall of the table: more comparisons than an 8-bit jump can skip.
  Arch arch = Arch::kX86_64;
  std::vector<int> all;
  for (const auto& name : syscall_names(arch)) all.push_back(*syscall_number(arch, name));
  std::vector<int> half(all.begin(), all.begin() + static_cast<long>(all.size() / 2));
  auto program = build_filter(arch, half);
  for (int nr : all) {
    bool in_half = std::find(half.begin(), half.end(), nr) != half.end();
    EXPECT_EQ(run_filter(program, AUDIT_ARCH_X86_64, nr),
              in_half ? SECCOMP_RET_USER_NOTIF : SECCOMP_RET_ALLOW)
        << nr;
  }
  EXPECT_EQ(run_filter(build_filter(arch, {}), AUDIT_ARCH_X86_64, 1), SECCOMP_RET_ALLOW);
  // All of them: several blocks of comparisons, each with its own notify return.
  auto everything = build_filter(arch, all);
  ASSERT_GT(all.size(), 400u / 2);
  for (int nr : all)
    EXPECT_EQ(run_filter(everything, AUDIT_ARCH_X86_64, nr), SECCOMP_RET_USER_NOTIF) << nr;
  EXPECT_EQ(run_filter(everything, AUDIT_ARCH_X86_64, 1000), SECCOMP_RET_ALLOW);
}

}  // namespace
}  // namespace fb::runtime
