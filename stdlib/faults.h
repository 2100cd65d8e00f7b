#pragma once
/// Syscall fault values (deny, delay, allow) and fault(): install rules on a running
/// service for the duration of a callback.

#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "ir/module.h"
#include "runtime/rules.h"
#include "vm/objects.h"

namespace fb::stdlib {

/// What deny(), delay() and allow() return: a rule without its syscalls yet.
struct FaultValue final : vm::HostObject {
  runtime::FaultRule rule;
  std::string text;  // deny("EIO", probability="20%") as written back
  std::string_view type_name() const override;
  bool attr(const vm::Value& self, std::string_view name, vm::Value& out) const override;
  std::vector<std::string> attr_names() const override;
  void repr(std::string& out) const override;
};

/// The syscall names fault() and trace() may name: every family and syscall on this
/// architecture (for did-you-mean and checks).
bool faultable(std::string_view name);

/// The syscalls a spec can fault, from the compiler's static facts: the keywords of
/// every fault()/fault_start() call, family-expanded. A call whose keywords are computed
/// (`**kwargs`), or a trace() whose list is not literal, traps the whole faultable set,
/// so a runtime fault is never silently unfilterable. Returns syscall numbers.
std::set<int> trap_set(const std::vector<ir::StaticFact>& facts);

void add_faults(const std::function<void(std::string_view, vm::NativeFn)>& add);

}  // namespace fb::stdlib
