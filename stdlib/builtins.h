#pragma once
/// The faultbox spec builtins available to the VM. So far: the assertion builtins;
/// the rest arrive with the runtime and proxies.

#include <string_view>

#include "vm/value.h"

namespace fb::stdlib {

/// The native value of faultbox builtin `name`, or None if it is not implemented yet.
/// Suitable as vm::Thread::predeclared.
vm::Value lookup(std::string_view name);

}  // namespace fb::stdlib
