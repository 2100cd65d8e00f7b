#include "runtime/bpf.h"

#include <linux/audit.h>
#include <linux/seccomp.h>

#include <algorithm>
#include <cstddef>

namespace fb::runtime {
namespace {

constexpr std::uint32_t kX32Bit = 0x40000000;  // __X32_SYSCALL_BIT

sock_filter stmt(std::uint16_t code, std::uint32_t k) { return sock_filter{code, 0, 0, k}; }
sock_filter jump(std::uint16_t code, std::uint32_t k, std::uint8_t jt, std::uint8_t jf) {
  return sock_filter{code, jt, jf, k};
}

}  // namespace

std::uint32_t audit_arch(Arch arch) {
  return arch == Arch::kX86_64 ? AUDIT_ARCH_X86_64 : AUDIT_ARCH_AARCH64;
}

std::vector<sock_filter> build_filter(Arch arch, const std::vector<int>& trapped) {
  std::vector<int> numbers = trapped;
  std::sort(numbers.begin(), numbers.end());
  numbers.erase(std::unique(numbers.begin(), numbers.end()), numbers.end());
  std::vector<sock_filter> p;
  // 1. The architecture must be the one our numbers are for.
  p.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)));
  p.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, audit_arch(arch), 1, 0));
  p.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
  // 2. The syscall number; on x86_64, x32 calls carry a high bit and are refused.
  p.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
  if (arch == Arch::kX86_64) {
    p.push_back(jump(BPF_JMP | BPF_JGE | BPF_K, kX32Bit, 0, 1));
    p.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
  }
  // 3. One comparison per trapped number; a match jumps to the final USER_NOTIF.
  // Jump offsets are 8 bits, so each comparison jumps to a nearby notify return when
  // the list is long: the notify instruction is repeated every 200 comparisons.
  std::size_t i = 0;
  while (i < numbers.size()) {
    std::size_t block = std::min<std::size_t>(200, numbers.size() - i);
    for (std::size_t k = 0; k < block; ++k) {
      auto remaining = static_cast<std::uint8_t>(block - k - 1);
      // Skip the remaining comparisons and the allow-jump to land on this block's notify.
      p.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<std::uint32_t>(numbers[i + k]),
                       static_cast<std::uint8_t>(remaining + 1), 0));
    }
    p.push_back(jump(BPF_JMP | BPF_JA, 1, 0, 0));  // no match in this block: skip notify
    p.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF));
    i += block;
  }
  p.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  return p;
}

std::uint32_t run_filter(const std::vector<sock_filter>& program, std::uint32_t arch, int nr) {
  seccomp_data data{};
  data.nr = nr;
  data.arch = arch;
  const auto* bytes = reinterpret_cast<const unsigned char*>(&data);
  std::uint32_t acc = 0;
  for (std::size_t pc = 0; pc < program.size(); ++pc) {
    const sock_filter& in = program[pc];
    switch (in.code) {
      case BPF_LD | BPF_W | BPF_ABS:
        if (in.k + 4 > sizeof data) return 0;
        acc = static_cast<std::uint32_t>(bytes[in.k]) |
              static_cast<std::uint32_t>(bytes[in.k + 1]) << 8 |
              static_cast<std::uint32_t>(bytes[in.k + 2]) << 16 |
              static_cast<std::uint32_t>(bytes[in.k + 3]) << 24;
        break;
      case BPF_JMP | BPF_JEQ | BPF_K: pc += acc == in.k ? in.jt : in.jf; break;
      case BPF_JMP | BPF_JGE | BPF_K: pc += acc >= in.k ? in.jt : in.jf; break;
      case BPF_JMP | BPF_JA: pc += in.k; break;
      case BPF_RET | BPF_K: return in.k;
      default: return 0;
    }
  }
  return 0;
}

}  // namespace fb::runtime
