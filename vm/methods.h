#pragma once
/// Methods of the built-in types (string, bytes, list, dict, set) and the universe's
/// predeclared functions, and string formatting.

#include <string>
#include <string_view>
#include <vector>

#include "vm/objects.h"
#include "vm/thread.h"

namespace fb::vm {

/// The native implementation of `x.name` for a value of `type`, or nullptr.
NativeFn find_method(Type type, std::string_view name);
std::vector<std::string> method_names(Type type);
/// The shared unbound method value for `type`.`name` (for METHOD), or nullptr.
const Value* unbound_method(Type type, std::string_view name);

/// The universe value named `name` (a builtin function), or None when there is none.
Value universe_value(std::string_view name);

/// `format % args`.
bool format_percent(Thread& thread, const std::string& format, const Value& args, Value& out);

/// Unpacks builtin arguments: each spec is a parameter name, optionally suffixed with
/// '?' (optional). Positional arguments fill in order; keywords by name. Errors say
/// "fn: missing argument for x" / "fn: unexpected keyword argument y".
struct ArgSpec {
  const char* name;
  Value* out;
};
bool unpack(Thread& thread, std::string_view fn, Args& args, std::initializer_list<ArgSpec> specs);

// Argument helpers shared by the native functions ("fn: got list, want int").
bool no_args(Thread& thread, std::string_view fn, Args& args);
bool want_int(Thread& thread, std::string_view fn, const Value& v, std::int64_t& out);
bool want_string(Thread& thread, std::string_view fn, const Value& v, const std::string*& out);

/// The string methods (vm/string_methods.cc).
NativeFn find_string_method(std::string_view name);
std::vector<std::string> string_method_names();

}  // namespace fb::vm
