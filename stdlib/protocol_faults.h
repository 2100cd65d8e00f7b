#pragma once
/// Protocol faults: the rule builtins (response, error, delay without a positional,
/// drop, duplicate) and fault(svc.iface, *rules, run=fn, source=svc), which installs
/// the rules on the interface's proxies for the window.

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

/// delay(delay="2s", path=..., ...): delay() with no positional argument.
bool protocol_delay(vm::Thread& t, vm::Args& a, vm::Value& r);

/// fault(svc.iface, rule, ..., run=fn, source=svc): `a.positional[0]` is an interface
/// reference.
bool protocol_fault_window(vm::Thread& t, vm::Args& a, vm::Value& r);

void add_protocol_faults(const std::function<void(std::string_view, vm::NativeFn)>& add);

}  // namespace fb::stdlib
