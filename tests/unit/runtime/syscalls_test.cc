// The syscall and errno tables: numbers on both architectures, families, errno names.
#include "runtime/syscalls.h"

#include <gtest/gtest.h>
#include <sys/syscall.h>

#include <cerrno>

namespace fb::runtime {
namespace {

TEST(Syscalls, HostTableAgreesWithTheCLibrary) {
  Arch host = host_arch();
  EXPECT_EQ(syscall_number(host, "read"), SYS_read);
  EXPECT_EQ(syscall_number(host, "write"), SYS_write);
  EXPECT_EQ(syscall_number(host, "openat"), SYS_openat);
  EXPECT_EQ(syscall_number(host, "close"), SYS_close);
  EXPECT_EQ(syscall_number(host, "connect"), SYS_connect);
  EXPECT_EQ(syscall_number(host, "fsync"), SYS_fsync);
  EXPECT_EQ(syscall_number(host, "getrandom"), SYS_getrandom);
  EXPECT_EQ(syscall_number(host, "clock_nanosleep"), SYS_clock_nanosleep);
  EXPECT_EQ(syscall_number(host, "pwritev2"), SYS_pwritev2);
  EXPECT_EQ(syscall_name(host, SYS_openat), "openat");
}

TEST(Syscalls, KnownNumbersOnBothArchitectures) {
  // x86_64 keeps the legacy calls; aarch64 uses the generic table (no open, no stat).
  EXPECT_EQ(syscall_number(Arch::kX86_64, "open"), 2);
  EXPECT_EQ(syscall_number(Arch::kX86_64, "openat"), 257);
  EXPECT_EQ(syscall_number(Arch::kX86_64, "futex"), 202);
  EXPECT_EQ(syscall_number(Arch::kAarch64, "open"), std::nullopt);
  EXPECT_EQ(syscall_number(Arch::kAarch64, "openat"), 56);
  EXPECT_EQ(syscall_number(Arch::kAarch64, "read"), 63);
  EXPECT_EQ(syscall_number(Arch::kAarch64, "write"), 64);
  EXPECT_EQ(syscall_number(Arch::kAarch64, "connect"), 203);
  EXPECT_EQ(syscall_number(Arch::kAarch64, "futex"), 98);  // not 422 (futex_time64, 32-bit only)
  EXPECT_EQ(syscall_number(Arch::kAarch64, "newfstatat"), 79);
  EXPECT_EQ(syscall_number(Arch::kAarch64, "getrandom"), 278);
  EXPECT_EQ(syscall_number(Arch::kAarch64, "clone3"), 435);
  EXPECT_EQ(syscall_number(Arch::kAarch64, "futex_time64"), std::nullopt);
}

TEST(Syscalls, FamiliesExpandToWhatTheArchitectureHas) {
  EXPECT_EQ(expand(Arch::kX86_64, "write"),
            (std::vector<std::string>{"write", "writev", "pwrite64", "pwritev", "pwritev2"}));
  EXPECT_EQ(expand(Arch::kX86_64, "open"), (std::vector<std::string>{"open", "openat", "openat2"}));
  EXPECT_EQ(expand(Arch::kAarch64, "open"), (std::vector<std::string>{"openat", "openat2"}));
  EXPECT_EQ(expand(Arch::kAarch64, "rename"), (std::vector<std::string>{"renameat", "renameat2"}));
  EXPECT_EQ(expand(Arch::kX86_64, "connect"), (std::vector<std::string>{"connect"}));
  EXPECT_EQ(expand(Arch::kX86_64, "getrandom"), (std::vector<std::string>{"getrandom"}));
  EXPECT_TRUE(expand(Arch::kX86_64, "wrte").empty());
}

TEST(Errno, NamesNumbersAndMessages) {
  const ErrnoInfo* eio = find_errno("eio");
  ASSERT_NE(eio, nullptr);
  EXPECT_EQ(eio->name, "EIO");
  EXPECT_EQ(eio->number, EIO);
  EXPECT_EQ(eio->message, "input/output error");
  EXPECT_EQ(find_errno("ENOSPC")->message, "no space left on device");
  EXPECT_EQ(find_errno("ECONNREFUSED")->number, ECONNREFUSED);
  EXPECT_EQ(errno_info(EAGAIN)->name, "EAGAIN");  // the canonical name, not EWOULDBLOCK
  EXPECT_EQ(find_errno("EWOULDBLOCK")->number, EAGAIN);
  EXPECT_EQ(find_errno("EBOGUS"), nullptr);
  EXPECT_GT(errno_names().size(), 130u);  // the full table, not the reference's 30 names
}

}  // namespace
}  // namespace fb::runtime
