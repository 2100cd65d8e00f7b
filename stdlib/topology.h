#pragma once
/// The host values of the topology builtins, and their registration.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "stdlib/session.h"
#include "vm/objects.h"

namespace fb::stdlib {

/// What interface(name, protocol, port) returns.
struct InterfaceValue final : vm::HostObject {
  InterfaceDecl decl;
  std::string_view type_name() const override;
  bool attr(const vm::Value& self, std::string_view name, vm::Value& out) const override;
  std::vector<std::string> attr_names() const override;
  void repr(std::string& out) const override;
};

/// What tcp(addr) and http(url) return.
struct HealthcheckValue final : vm::HostObject {
  Healthcheck check;
  std::string_view type_name() const override;
  bool attr(const vm::Value& self, std::string_view name, vm::Value& out) const override;
  std::vector<std::string> attr_names() const override;
  void repr(std::string& out) const override;
};

/// svc.<interface>: where the interface listens (.addr .host .port).
struct InterfaceRef final : vm::HostObject {
  std::string service;
  InterfaceDecl decl;
  std::string_view type_name() const override;
  bool attr(const vm::Value& self, std::string_view name, vm::Value& out) const override;
  std::vector<std::string> attr_names() const override;
  void repr(std::string& out) const override;
};

/// What service(...) returns: .name and one attribute per interface.
struct ServiceValue final : vm::HostObject {
  std::string name;
  std::vector<InterfaceDecl> interfaces;
  std::string_view type_name() const override;
  bool attr(const vm::Value& self, std::string_view name, vm::Value& out) const override;
  std::vector<std::string> attr_names() const override;
  void repr(std::string& out) const override;
};

/// What op(syscalls=, path=) returns.
struct OpValue final : vm::HostObject {
  OpDecl decl;
  std::string_view type_name() const override;
  bool attr(const vm::Value& self, std::string_view name, vm::Value& out) const override;
  std::vector<std::string> attr_names() const override;
  void repr(std::string& out) const override;
};

/// Registers service, interface, op, tcp and http with `add`.
void add_topology(const std::function<void(std::string_view, vm::NativeFn)>& add);

}  // namespace fb::stdlib
