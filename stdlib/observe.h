#pragma once
/// Observation: decoder(...) and the observe.stdout/observe.stderr sources that
/// service(observe=[...]) takes.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/line_decoder.h"
#include "stdlib/session.h"
#include "vm/objects.h"

namespace fb::stdlib {

/// What decoder("json" | "logfmt" | "regex", pattern=) returns.
struct DecoderValue final : vm::HostObject {
  std::string name, pattern;
  std::shared_ptr<const runtime::LineDecoder> decoder;
  std::string_view type_name() const override;
  bool attr(const vm::Value& self, std::string_view name, vm::Value& out) const override;
  std::vector<std::string> attr_names() const override;
  void repr(std::string& out) const override;
};

/// What observe.stdout(...) and observe.stderr(...) return.
struct ObserveValue final : vm::HostObject {
  Observation observation;
  std::string decoder_text;  // for repr
  std::string_view type_name() const override;
  bool attr(const vm::Value& self, std::string_view name, vm::Value& out) const override;
  std::vector<std::string> attr_names() const override;
  void repr(std::string& out) const override;
};

/// Registers decoder() and the observe namespace.
void add_observe(const std::function<void(std::string_view, vm::NativeFn)>& add,
                 const std::function<void(std::string_view, vm::Value)>& add_value);

}  // namespace fb::stdlib
