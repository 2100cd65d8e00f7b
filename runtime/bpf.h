#pragma once
/// The seccomp filter as data: a classic-BPF program built from a trap set, and a small
/// interpreter that runs it on a synthetic seccomp_data, so filters are tested without
/// installing them (as gVisor does).

#include <linux/filter.h>

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/syscalls.h"

namespace fb::runtime {

/// Builds the filter: for the host architecture's audit value, every syscall number in
/// `trapped` returns SECCOMP_RET_USER_NOTIF, everything else SECCOMP_RET_ALLOW. A
/// different architecture (e.g. a 32-bit process) or an x32 syscall is killed: faultbox
/// cannot decide for numbers it has no table for.
std::vector<sock_filter> build_filter(Arch arch, const std::vector<int>& trapped);

/// Evaluates a filter on `nr` for `audit_arch`; returns the SECCOMP_RET_* action word.
/// Stops with 0 (SECCOMP_RET_KILL_THREAD) on a malformed program.
std::uint32_t run_filter(const std::vector<sock_filter>& program, std::uint32_t audit_arch, int nr);

/// AUDIT_ARCH_X86_64 or AUDIT_ARCH_AARCH64.
std::uint32_t audit_arch(Arch arch);

}  // namespace fb::runtime
