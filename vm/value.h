#pragma once
/// Starlark values.
///
/// A Value is 16 bytes: a type tag and either an immediate (None, bool, int64, float)
/// or a pointer to a reference-counted heap Object. Ints that do not fit in 64 bits are
/// BigInt objects (vm/bigint.h).
/// Reference counts are not atomic: a value belongs to one thread until it is frozen.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace fb::vm {

enum class Type : std::uint8_t {
  kNone,
  kBool,
  kInt,
  kFloat,
  kUnbound,  // a local not yet assigned; never visible to Starlark code
  // heap types
  kString,
  kBytes,
  kList,
  kTuple,
  kDict,
  kSet,
  kRange,
  kFunction,
  kBuiltin,
  kStruct,
  kCell,
  kIterator,
  kBigInt,  // an int outside the int64 range (vm/bigint.h); type() says "int"
  kHost,    // made by the embedding program (vm/objects.h HostObject)
};

/// The name `type(x)` returns.
std::string_view type_name(Type type);

/// Common header of heap values.
struct Object {
  std::uint32_t refs = 1;
  const Type type;
  bool frozen = false;
  /// Never freed and never counted: process-wide singletons (builtin functions and
  /// methods) that any thread may hold, so their count must not be touched.
  bool immortal = false;
  explicit Object(Type t) : type(t) {}
  virtual ~Object() = default;
  Object(const Object&) = delete;
  Object& operator=(const Object&) = delete;
};

/// Frees an object whose last reference is gone. Objects freed while another is being
/// freed are queued, not freed recursively, so dropping a deeply nested value (a list
/// nested a million times) cannot overflow the stack.
void destroy(Object* object);

class Value {
 public:
  Value() : type_(Type::kNone), i_(0) {}
  static Value none() { return Value(); }
  static Value unbound() {
    Value v;
    v.type_ = Type::kUnbound;
    return v;
  }
  static Value boolean(bool b) {
    Value v;
    v.type_ = Type::kBool;
    v.i_ = b ? 1 : 0;
    return v;
  }
  static Value integer(std::int64_t i) {
    Value v;
    v.type_ = Type::kInt;
    v.i_ = i;
    return v;
  }
  static Value floating(double f) {
    Value v;
    v.type_ = Type::kFloat;
    v.f_ = f;
    return v;
  }
  /// Takes over one reference (the one `new` gave the object).
  static Value adopt(Object* o) {
    Value v;
    v.type_ = o->type;
    v.o_ = o;
    return v;
  }

  Value(const Value& other) : type_(other.type_), i_(other.i_) { retain(); }
  Value(Value&& other) noexcept : type_(other.type_), i_(other.i_) { other.type_ = Type::kNone; }
  Value& operator=(const Value& other) {
    if (this != &other) {
      Value copy(other);
      swap(copy);
    }
    return *this;
  }
  /// Releases what this held at once (a swap would leave it alive in `other`).
  Value& operator=(Value&& other) noexcept {
    if (this != &other) {
      release();
      type_ = other.type_;
      i_ = other.i_;
      other.type_ = Type::kNone;
    }
    return *this;
  }
  ~Value() { release(); }
  void swap(Value& other) noexcept {
    std::swap(type_, other.type_);
    std::swap(i_, other.i_);
  }

  /// Copies `v` into a slot known to hold no heap value (a dead operand-stack slot),
  /// skipping the release an assignment would do.
  void fill(const Value& v) {
    type_ = v.type_;
    i_ = v.i_;
    retain();
  }

  /// Overwrites with an int (cheaper than assigning a temporary Value).
  void set_int(std::int64_t i) {
    release();
    type_ = Type::kInt;
    i_ = i;
  }
  void set_bool(bool b) {
    release();
    type_ = Type::kBool;
    i_ = b ? 1 : 0;
  }

  Type type() const { return type_; }
  bool is_heap() const { return type_ >= Type::kString; }
  bool is(Type t) const { return type_ == t; }
  bool as_bool() const { return i_ != 0; }
  std::int64_t as_int() const { return i_; }
  double as_float() const { return f_; }
  Object* object() const { return o_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(o_);
  }

 private:
  void retain() {
    if (is_heap() && !o_->immortal) ++o_->refs;
  }
  void release() {
    if (is_heap() && !o_->immortal && --o_->refs == 0) destroy(o_);
  }

  Type type_;
  union {
    std::int64_t i_;
    double f_;
    Object* o_;
  };
};

}  // namespace fb::vm
