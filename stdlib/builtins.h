#pragma once
/// The faultbox spec builtins available to the VM: one table of every implemented
/// builtin and namespace, which the VM consults for predeclared names.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vm/objects.h"
#include "vm/value.h"

namespace fb::stdlib {

/// The native value of faultbox builtin `name`, or None if it is not implemented yet.
/// Suitable as vm::Thread::predeclared.
vm::Value lookup(std::string_view name);

/// A namespace value such as `match` or `observe`: a frozen struct whose fields are the
/// builtins `members` (named "<name>.<member>" in errors), in any order.
vm::Value namespace_value(std::string_view name,
                          std::vector<std::pair<std::string, vm::NativeFn>> members);

}  // namespace fb::stdlib
