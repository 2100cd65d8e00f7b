#include "runtime/syscalls.h"

#include <algorithm>
#include <cctype>

namespace fb::runtime {
namespace {

struct SyscallEntry {
  std::string_view name;
  int number;
};

constexpr SyscallEntry kX86_64[] = {
#define FB_SYSCALL(name, number) {#name, number},
#include "runtime/syscalls_x86_64.def"
#undef FB_SYSCALL
};

constexpr SyscallEntry kAarch64[] = {
#define FB_SYSCALL(name, number) {#name, number},
#include "runtime/syscalls_aarch64.def"
#undef FB_SYSCALL
};

struct Family {
  std::string_view name;
  std::string_view members;  // space-separated
};

constexpr Family kFamilies[] = {
#define FB_FAMILY(name, members) {#name, members},
#include "runtime/syscall_families.def"
#undef FB_FAMILY
};

constexpr ErrnoInfo kErrnos[] = {
#define FB_ERRNO(name, number, message) {#name, number, message},
#include "runtime/errno.def"
#undef FB_ERRNO
};

template <std::size_t N>
std::pair<const SyscallEntry*, const SyscallEntry*> range(const SyscallEntry (&table)[N]) {
  return {table, table + N};
}

std::pair<const SyscallEntry*, const SyscallEntry*> table_for(Arch arch) {
  return arch == Arch::kX86_64 ? range(kX86_64) : range(kAarch64);
}

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) ==
                  std::toupper(static_cast<unsigned char>(y));
         });
}

}  // namespace

Arch host_arch() {
#if defined(__x86_64__)
  return Arch::kX86_64;
#elif defined(__aarch64__)
  return Arch::kAarch64;
#else
#error "faultbox supports x86_64 and aarch64"
#endif
}

std::string_view arch_name(Arch arch) { return arch == Arch::kX86_64 ? "x86_64" : "aarch64"; }

std::optional<int> syscall_number(Arch arch, std::string_view name) {
  auto [begin, end] = table_for(arch);
  auto it = std::find_if(begin, end, [&](const SyscallEntry& e) { return e.name == name; });
  if (it == end) return std::nullopt;
  return it->number;
}

std::string_view syscall_name(Arch arch, int number) {
  auto [begin, end] = table_for(arch);
  auto it = std::find_if(begin, end, [&](const SyscallEntry& e) { return e.number == number; });
  return it == end ? std::string_view{} : it->name;
}

std::vector<std::string> syscall_names(Arch arch) {
  auto [begin, end] = table_for(arch);
  std::vector<std::string> names;
  for (auto it = begin; it != end; ++it) names.emplace_back(it->name);
  return names;
}

std::vector<std::string> expand(Arch arch, std::string_view name) {
  std::vector<std::string> out;
  for (const Family& f : kFamilies) {
    if (f.name != name) continue;
    std::string_view rest = f.members;
    while (!rest.empty()) {
      std::size_t space = rest.find(' ');
      std::string_view member = rest.substr(0, space);
      if (syscall_number(arch, member)) out.emplace_back(member);
      rest = space == std::string_view::npos ? std::string_view{} : rest.substr(space + 1);
    }
    return out;
  }
  if (syscall_number(arch, name)) out.emplace_back(name);
  return out;
}

std::vector<std::string> family_names() {
  std::vector<std::string> names;
  for (const Family& f : kFamilies) names.emplace_back(f.name);
  return names;
}

const ErrnoInfo* find_errno(std::string_view name) {
  for (const ErrnoInfo& e : kErrnos) {
    if (equal_ignoring_case(e.name, name)) return &e;
  }
  return nullptr;
}

const ErrnoInfo* errno_info(int number) {
  for (const ErrnoInfo& e : kErrnos) {
    if (e.number == number) return &e;
  }
  return nullptr;
}

std::vector<std::string> errno_names() {
  std::vector<std::string> names;
  for (const ErrnoInfo& e : kErrnos) names.emplace_back(e.name);
  return names;
}

}  // namespace fb::runtime
