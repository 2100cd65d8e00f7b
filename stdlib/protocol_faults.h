#pragma once
/// Protocol faults: the rule builtins (response, error, delay without a positional,
/// drop, duplicate) and fault(svc.iface, *rules, run=fn, source=svc), which installs
/// the rules on the interface's proxies for the window.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "proxy/rules.h"
#include "vm/objects.h"

namespace fb::stdlib {

/// What response(), error(), drop(), duplicate() and delay(delay=...) return.
struct ProxyRuleValue final : vm::HostObject {
  proxy::Rule rule;
  std::string_view type_name() const override;
  bool attr(const vm::Value& self, std::string_view name, vm::Value& out) const override;
  std::vector<std::string> attr_names() const override;
  void repr(std::string& out) const override;
};

/// Whether `protocol`'s filter can carry out `rule`; false with an error naming `where`
/// (a rule that could never act is refused rather than installed).
bool check_protocol_rule(vm::Thread& t, const std::string& protocol, const proxy::Rule& rule,
                         const std::string& where);

/// A rule set id of the proxies, told apart from the supervisor's in one list of sets.
inline constexpr std::uint64_t kProxySet = std::uint64_t{1} << 63;

/// delay(delay="2s", path=..., ...): delay() with no positional argument.
bool protocol_delay(vm::Thread& t, vm::Args& a, vm::Value& r);

/// fault(svc.iface, rule, ..., run=fn, source=svc): `a.positional[0]` is an interface
/// reference.
bool protocol_fault_window(vm::Thread& t, vm::Args& a, vm::Value& r);

void add_protocol_faults(const std::function<void(std::string_view, vm::NativeFn)>& add);

}  // namespace fb::stdlib
