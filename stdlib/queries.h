#pragma once
/// Queries and assertions over the running test's event trace.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/event_log.h"
#include "vm/objects.h"

namespace fb::stdlib {

/// The events of a test as the temporal engine has seen them. Appended only by the
/// engine's thread while it holds the VM lock; read only by VM code, which holds it too.
struct History {
  std::vector<std::shared_ptr<const runtime::Event>> events;
};

/// One recorded event: .seq .type .service .timestamp .fields .data, the causal
/// methods (happens_before, concurrent_with, ...), and each field as an attribute (""
/// when the event has no such field). The event is shared, not copied, so that a
/// monitor can look at millions of them.
struct EventValue final : vm::HostObject {
  std::shared_ptr<const runtime::Event> ptr;
  /// The trace the event was read from (its first `size` events), for the methods that
  /// look around it (preceded_by, followed_by, directly_caused_by). Without one they
  /// look at the running test's whole log.
  std::shared_ptr<const History> history;
  std::size_t size = 0;
  const runtime::Event& event() const { return *ptr; }
  static vm::Value make(std::shared_ptr<const runtime::Event> event);
  static vm::Value make(const runtime::Event& event);
  std::string_view type_name() const override;
  bool attr(const vm::Value& self, std::string_view name, vm::Value& out) const override;
  std::vector<std::string> attr_names() const override;
  void repr(std::string& out) const override;
  static vm::Value field(const runtime::FieldValue& v);
};

/// The methods of an event that look at the events around it; defined with the temporal
/// engine (temporal.cc). False when `name` is not one.
bool event_context_method(const vm::Value& self, std::string_view name, vm::Value& out);
extern const std::vector<std::string> kEventContextMethods;

/// A filter pattern against a field's text: exact without wildcards; otherwise a glob
/// ('*' within a path segment, '**' across), and, as in the reference, a single trailing
/// or leading '*' also matches as a plain prefix or suffix ("deny*").
bool filter_match(std::string_view pattern, std::string_view value);

void add_queries(const std::function<void(std::string_view, vm::NativeFn)>& add);

}  // namespace fb::stdlib
