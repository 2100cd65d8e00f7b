#pragma once
/// Syscall fault values (deny, delay, allow) and fault(): install rules on a running
/// service for the duration of a callback.

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "ir/module.h"
#include "runtime/rules.h"
#include "stdlib/session.h"
#include "vm/objects.h"

namespace fb::stdlib {

/// What deny(), delay() and allow() return: a rule without its syscalls yet.
struct FaultValue final : vm::HostObject {
  runtime::FaultRule rule;
  std::string text;         // deny("EIO", probability="20%") as written back
  bool stochastic = false;  // mode="stochastic": max_fires caps the fires, no fan-out
  std::string_view type_name() const override;
  bool attr(const vm::Value& self, std::string_view name, vm::Value& out) const override;
  std::vector<std::string> attr_names() const override;
  void repr(std::string& out) const override;
};

/// A probability= value: 0.2, 20 or "20%" (above 1 is a percentage); false with an
/// error naming `fn` otherwise.
bool want_probability(vm::Thread& t, std::string_view fn, const vm::Value& v, double& out);

/// The syscall names fault() and trace() may name: every family and syscall on this
/// architecture (for did-you-mean and checks).
bool faultable(std::string_view name);

/// Per service, the syscall numbers its filter must trap, from the compiler's static
/// facts: the keywords of every fault()/fault_start()/fault_all() call (syscalls and
/// families expanded, ops to their syscalls) and what trace() records. A call names its
/// service precisely when its first argument is a global bound to a service
/// (`service_of` answers which, or ""); otherwise its rules count for every service.
/// Computed keywords (`**kwargs`) and trace() lists, which are not folded, trap the
/// whole faultable set, so a runtime fault is never silently unfilterable. Every
/// declared service has an entry, empty when nothing can fault it.
std::map<std::string, std::set<int>, std::less<>> trap_sets(
    const std::vector<ir::StaticFact>& facts, const std::vector<ServiceDecl>& services,
    const std::function<std::string(std::string_view global)>& service_of);

/// The syscalls a name stands for (a syscall, or a family expanded); false with an
/// error "FN: unknown syscall ..." and a did-you-mean when it is neither.
bool syscalls_of(vm::Thread& t, std::string_view fn, std::string_view name,
                 std::vector<std::string>& out);

/// The rules of fault()'s keywords for `service` (its ops resolved, syscall names
/// checked); `run` receives run= when given.
bool build_fault_rules(vm::Thread& t, std::string_view fn, const std::string& service, vm::Args& a,
                       vm::Value& run, std::vector<runtime::FaultRule>& rules);
/// Installs rules on a running service as one set, pinning exhaustive sites to the
/// running leaf; nullopt with the thread's error set when it cannot.
std::optional<runtime::RuleSetId> install_rules(vm::Thread& t, std::string_view fn,
                                                const std::string& service,
                                                std::vector<runtime::FaultRule> rules);

void add_faults(const std::function<void(std::string_view, vm::NativeFn)>& add);

/// trigger="nth=N" or "after=N", the spelling of `faultbox run --fault`: sets `nth` or
/// `after` as the keywords of those names would.
bool want_trigger(vm::Thread& t, std::string_view fn, const vm::Value& v, std::uint64_t& nth,
                  std::uint64_t& after);

}  // namespace fb::stdlib
