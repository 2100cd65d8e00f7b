#pragma once
/// Step clients: what a test does to a service through one of its interfaces
/// (svc.api.get(path="/"), svc.db.send(data="PING")), recorded as step_send/step_recv
/// events in the test's lane with causal clocks stamped both ways.

#include <chrono>
#include <string>
#include <vector>

#include "vm/objects.h"

namespace fb::stdlib {

struct InterfaceRef;

/// What an HTTP step returns: .status .body .data .ok .error .duration_ms .headers.
struct ResponseValue final : vm::HostObject {
  int status = 0;
  std::string body;
  vm::Value data;     // the body decoded as JSON, or the body text
  vm::Value headers;  // dict of lower-cased names
  std::string error;
  std::int64_t duration_ms = 0;
  std::string_view type_name() const override;
  bool attr(const vm::Value& self, std::string_view name, vm::Value& out) const override;
  std::vector<std::string> attr_names() const override;
  void repr(std::string& out) const override;
  /// A protocol without statuses (redis): ok means no error.
  bool statusless = false;
  bool truth() const override {
    return error.empty() && (statusless || (status >= 200 && status < 300));
  }
  void freeze_values() override;
};

/// The step method `name` of an interface, or false when its protocol has none.
bool step_method(const InterfaceRef& ref, const vm::Value& self, std::string_view name,
                 vm::Value& out);
std::vector<std::string> step_methods(const InterfaceRef& ref);

/// One redis command on a fresh connection to localhost:`port`, after AUTH when a
/// password is given: the raw RESP reply, or "" with `error` (a transport failure, a
/// refused AUTH). Touches no VM value, so it may run without the VM lock.
std::string redis_call(int port, const std::vector<std::string>& args, const std::string& user,
                       const std::string& password, std::chrono::milliseconds timeout,
                       std::string& error);

/// A JSON text as Starlark values; false when it is not JSON.
bool json_to_value(vm::Thread& thread, const std::string& text, vm::Value& out);

}  // namespace fb::stdlib
