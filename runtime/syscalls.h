#pragma once
/// Syscall and errno tables: numbers per architecture (runtime/syscalls_<arch>.def),
/// families (runtime/syscall_families.def) and errno names and messages
/// (runtime/errno.def). Plain data and lookups; nothing here touches the OS.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fb::runtime {

enum class Arch { kX86_64, kAarch64 };

/// The architecture faultbox was built for.
Arch host_arch();
std::string_view arch_name(Arch arch);

std::optional<int> syscall_number(Arch arch, std::string_view name);
/// The name of a syscall number, or empty when the architecture has none.
std::string_view syscall_name(Arch arch, int number);
/// Every syscall name of an architecture (for did-you-mean).
std::vector<std::string> syscall_names(Arch arch);

/// The syscalls a rule name stands for on `arch`: a family's members that exist there,
/// or the syscall itself. Empty when the name is neither (an error for the caller).
std::vector<std::string> expand(Arch arch, std::string_view name);
/// Family names (for help text and did-you-mean).
std::vector<std::string> family_names();

struct ErrnoInfo {
  std::string_view name;     // "EIO"
  int number;                // 5
  std::string_view message;  // "input/output error"
};

/// Looks an errno up by name, ignoring case ("eio" finds EIO).
const ErrnoInfo* find_errno(std::string_view name);
/// The canonical entry for a number (the first name, so 11 is EAGAIN, not EWOULDBLOCK).
const ErrnoInfo* errno_info(int number);
std::vector<std::string> errno_names();

}  // namespace fb::runtime
