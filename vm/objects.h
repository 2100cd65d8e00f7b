#pragma once
/// The heap value types.

#include <boost/container/small_vector.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ir/module.h"
#include "vm/value.h"

namespace fb::vm {

class Thread;
struct Program;

struct String final : Object {
  std::string text;
  mutable std::uint64_t hash = 0;  // 0 = not computed yet
  explicit String(std::string s, Type t = Type::kString) : Object(t), text(std::move(s)) {}
};

/// A list, or (with type kTuple) an immutable tuple.
struct List final : Object {
  std::vector<Value> items;
  std::uint32_t iterating = 0;  // live iterators: mutation is an error while > 0
  explicit List(Type t = Type::kList) : Object(t) {}
};

/// An insertion-ordered hash table; with type kSet the values are unused.
struct Dict final : Object {
  struct Entry {
    Value key;
    Value value;
    std::uint64_t hash;
  };
  std::vector<Entry> entries;       // insertion order; removed entries are compacted away
  std::vector<std::int32_t> index;  // open addressing: entry position or -1
  std::uint32_t iterating = 0;
  explicit Dict(Type t = Type::kDict) : Object(t) {}
};

struct Range final : Object {
  std::int64_t start, stop, step;
  Range(std::int64_t a, std::int64_t b, std::int64_t s)
      : Object(Type::kRange), start(a), stop(b), step(s) {}
  std::int64_t length() const;
  std::int64_t at(std::int64_t i) const { return start + i * step; }
};

/// A captured variable shared between a frame and the closures it created.
struct Cell final : Object {
  Value value;
  Cell() : Object(Type::kCell) {}
};

/// A Starlark function value. It points at its program without owning it: the program
/// holds the function in its globals, so ownership would be a cycle. Whoever runs a
/// program keeps it alive while values made by it are in use.
struct Function final : Object {
  Program* program;
  std::uint32_t index;          // into program->module.functions
  std::vector<Value> defaults;  // one per parameter with a default, in order
  std::vector<Value> freevars;  // Cells
  Function(Program* p, std::uint32_t i) : Object(Type::kFunction), program(p), index(i) {}
  const ir::Function& code() const;
};

/// Arguments of a call, as the VM collects them. Small calls need no heap allocation;
/// keyword names point into the program's name table or a **kwargs dict that outlives
/// the call.
struct Args {
  boost::container::small_vector<Value, 6> positional;
  boost::container::small_vector<std::pair<std::string_view, Value>, 2> keywords;
};

using NativeFn = bool (*)(Thread& thread, const Value& self, Args& args, Value& result);

/// A function implemented in C++; `self` is set for bound methods ("x.append").
struct Builtin final : Object {
  std::string name;
  NativeFn fn;
  Value self;
  /// A method not bound to a receiver (pushed by METHOD): CALL_METHOD passes the
  /// receiver that sits below it on the stack.
  bool unbound_method = false;
  Builtin(std::string n, NativeFn f, Value s = Value())
      : Object(Type::kBuiltin), name(std::move(n)), fn(f), self(std::move(s)) {}
};

struct Struct final : Object {
  std::vector<std::pair<std::string, Value>> fields;  // sorted by name
  Struct() : Object(Type::kStruct) {}
  const Value* find(std::string_view name) const;
};

/// A value the embedding program makes: a service, an interface, a step's response, an
/// event. Its type name, attributes and repr come from C++; Starlark cannot change it.
/// It compares by identity and is not hashable, like the reference's host values.
/// Subclasses keep the Values they hold in members and freeze them in freeze_values.
struct HostObject : Object {
  HostObject() : Object(Type::kHost) {}
  /// What type() says ("service", "response").
  virtual std::string_view type_name() const = 0;
  /// Sets `out` to the attribute and returns true, or returns false when there is none.
  /// `self` is this object as a Value, for binding methods.
  virtual bool attr(const Value& self, std::string_view name, Value& out) const = 0;
  /// The attribute names, for dir().
  virtual std::vector<std::string> attr_names() const = 0;
  virtual void repr(std::string& out) const;
  virtual bool truth() const { return true; }
  /// Whether the value may be a dict key or set member. Host values compare by
  /// identity, so one that opts in hashes by identity too.
  virtual bool hashable() const { return false; }
  /// A host value that is a sequence (an event list): its elements, which make it
  /// iterable, indexable, sized and searchable with `in` like a tuple. nullptr for none.
  virtual const std::vector<Value>* elements() const { return nullptr; }
  /// Freezes the Values held (called when the object is frozen with a module).
  virtual void freeze_values() {}
};

/// The state of a for loop or comprehension over a value.
struct Iterator final : Object {
  Value iterable;
  std::int64_t position = 0;
  std::int64_t range_length = 0;  // for ranges, computed once
  explicit Iterator(Value v);
  ~Iterator() override;
};

// ---- construction helpers ---------------------------------------------------------------

inline Value make_string(std::string s) { return Value::adopt(new String(std::move(s))); }
inline Value make_bytes(std::string s) {
  return Value::adopt(new String(std::move(s), Type::kBytes));
}
inline Value make_list(std::vector<Value> items = {}) {
  auto* l = new List();
  l->items = std::move(items);
  return Value::adopt(l);
}
inline Value make_tuple(std::vector<Value> items = {}) {
  auto* t = new List(Type::kTuple);
  t->items = std::move(items);
  return Value::adopt(t);
}

}  // namespace fb::vm
