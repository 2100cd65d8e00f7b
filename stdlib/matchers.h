#pragma once
/// Event matchers (match.event/any/all/never), used by await_event and, later, by
/// monitors and temporal anchors; and await_event itself.

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/event_log.h"
#include "vm/objects.h"

namespace fb::stdlib {

/// What match.event(**globs), match.any(*m), match.all(*m) and match.never() return.
struct MatcherValue final : vm::HostObject {
  enum class Kind { kEvent, kAny, kAll, kNever } kind = Kind::kEvent;
  /// kEvent: key -> glob; `type` and `service` are the event's own, other keys fields.
  std::vector<std::pair<std::string, std::string>> globs;
  std::vector<vm::Value> children;  // kAny, kAll: matchers
  bool matches(const runtime::Event& event) const;
  std::string_view type_name() const override;
  bool attr(const vm::Value& self, std::string_view name, vm::Value& out) const override;
  std::vector<std::string> attr_names() const override;
  void repr(std::string& out) const override;
  void freeze_values() override;
};

/// Whether `v` is a matcher value.
bool is_matcher(const vm::Value& v);

/// Registers the match namespace and await_event.
void add_matchers(const std::function<void(std::string_view, vm::NativeFn)>& add,
                  const std::function<void(std::string_view, vm::Value)>& add_value);

}  // namespace fb::stdlib
