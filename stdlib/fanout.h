#pragma once
/// choose(), halt(), assume(), nondet() and test(): what makes a test a set of plan
/// leaves, and what ends a leaf as halted.

#include <functional>
#include <string_view>

#include "stdlib/session.h"
#include "vm/objects.h"

namespace fb::stdlib {

/// {axis name: chosen value} for the named choices a run made so far (empty outside
/// a run): what assume() predicates receive.
vm::Value named_choices(const Session::Run* run);

/// Evaluates a bool or a predicate over the named choices; false with the thread's
/// error set when the predicate fails or the assumption is neither.
bool evaluate_assumption(vm::Thread& t, const vm::Value& assumption, const Session::Run* run,
                         bool& holds);

void add_fanout(const std::function<void(std::string_view, vm::NativeFn)>& add);

}  // namespace fb::stdlib
