#pragma once
/// The operations of Starlark values: truth, equality, hashing, ordering, arithmetic,
/// indexing, iteration, attribute lookup, and repr/str, as the Starlark spec defines them.
/// Every operation that can fail reports through the thread and returns false.

#include <string>

#include "ir/module.h"
#include "vm/objects.h"
#include "vm/thread.h"

namespace fb::vm {

/// Ceilings on single allocations a spec can ask for in one operation (a string
/// repeated a billion times, list(range(1 << 40))): an error instead of exhausting memory.
inline constexpr std::uint64_t kMaxStringBytes = 1ULL << 28;
inline constexpr std::uint64_t kMaxElements = 1ULL << 24;

/// How deeply equality, ordering and hashing follow values inside values. Deeper
/// nesting, or a value that contains itself, is an error rather than a stack overflow.
/// (starlark-go stops at 10 levels; 1,000 costs nothing and no real spec nests deeper.)
inline constexpr int kMaxNesting = 1000;

/// Fails the thread with the memory-budget error (vm/memory.h); `wanted` is the size of
/// an allocation refused before it was made (0: the budget is already exceeded).
bool memory_exceeded(Thread& thread, std::uint64_t wanted = 0);
/// True when `bytes` more fit the thread's memory budget; else fails it.
inline bool room_for(Thread& thread, std::uint64_t bytes) {
  return thread.memory->fits(bytes) || memory_exceeded(thread, bytes);
}

bool truth(const Value& v);
/// a == b into `out`; false with the thread's error when the values nest too deeply.
bool equals(Thread& thread, const Value& a, const Value& b, bool& out);
/// Sets `at` to the position of the first item equal to `x`, or items.size() when none.
bool index_of(Thread& thread, const std::vector<Value>& items, const Value& x, std::size_t& at);
bool hash(Thread& thread, const Value& v, std::uint64_t& out);
/// a < b (and friends); an error for values of different or unordered types.
bool less(Thread& thread, const Value& a, const Value& b, bool& out);
bool compare(Thread& thread, ir::Op op, const Value& a, const Value& b, Value& out);

/// Arithmetic and bitwise binary operators (ADD .. SHR, INPLACE_ADD), `in`, `not in`.
bool binary(Thread& thread, ir::Op op, const Value& a, const Value& b, Value& out);
bool unary(Thread& thread, ir::Op op, const Value& a, Value& out);

bool index(Thread& thread, const Value& x, const Value& i, Value& out);
bool set_index(Thread& thread, const Value& x, const Value& i, const Value& v);
bool slice(Thread& thread, const Value& x, const Value& lo, const Value& hi, const Value& step,
           Value& out);
bool length(Thread& thread, const Value& x, std::int64_t& out);

/// Starts iteration (locks lists and dicts against mutation until the iterator dies).
bool iterate(Thread& thread, const Value& x, Value& iterator);
/// Next item; false with no error when done.
bool next(Thread& thread, Iterator& it, Value& out);
/// All items of an iterable.
bool to_vector(Thread& thread, const Value& x, std::vector<Value>& out);

bool get_attr(Thread& thread, const Value& x, std::string_view name, Value& out);
bool has_attr(const Value& x, std::string_view name);
std::vector<std::string> attr_names(const Value& x);

std::string repr(const Value& v);
std::string str(const Value& v);

/// An error message fragment: "int", "list"...
std::string_view type_of(const Value& v);

// Dict and set primitives (Dict is also the set representation).
Value* dict_find(Thread& thread, Dict& d, const Value& key, bool& error);
bool dict_set(Thread& thread, Dict& d, Value key, Value value);
bool dict_remove(Thread& thread, Dict& d, const Value& key, Value* removed);
bool check_mutable(Thread& thread, const Object& o, std::uint32_t iterating, std::string_view what);

}  // namespace fb::vm
