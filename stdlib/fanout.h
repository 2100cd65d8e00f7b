#pragma once
/// choose(), halt(), assume(), nondet() and test(): what makes a test a set of plan
/// leaves, and what ends a leaf as halted.

#include <chrono>
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

/// A function or builtin: what registrations, predicates and branches take.
bool is_callable(const vm::Value& v);
/// How a callable is named in test names and reports: a function's own name, otherwise
/// its repr.
std::string callable_name(const vm::Value& v);

/// The session tests are registered with, or nullptr (and `fn`'s error on `t`) when
/// there is none or the caller is a test body rather than the top level.
Session* registering(vm::Thread& t, std::string_view fn);
/// Adds a registered test; two with one name are an error.
bool register_test(vm::Thread& t, std::string_view fn, Session& session, TestDecl decl);
/// A timeout= argument: None keeps `out`; otherwise a positive Go duration string.
bool want_timeout(vm::Thread& t, std::string_view where, const vm::Value& v,
                  std::chrono::milliseconds& out);

void add_fanout(const std::function<void(std::string_view, vm::NativeFn)>& add);

}  // namespace fb::stdlib
