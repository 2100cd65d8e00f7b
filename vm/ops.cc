#include "vm/ops.h"

#include "ir/arith.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <unordered_set>

#include "vm/bigint.h"
#include "vm/methods.h"

namespace fb::vm {

using ir::Op;

std::string_view type_of(const Value& v) {
  return v.is(Type::kHost) ? v.as<HostObject>()->type_name() : type_name(v.type());
}

void destroy(Object* object) {
  thread_local std::vector<Object*>* queue = nullptr;
  if (queue) {
    queue->push_back(object);
    return;
  }
  std::vector<Object*> pending{object};
  queue = &pending;
  while (!pending.empty()) {
    Object* next = pending.back();
    pending.pop_back();
    delete next;  // releasing its children queues them here
  }
  queue = nullptr;
}

std::string_view type_name(Type type) {
  switch (type) {
    case Type::kNone: return "NoneType";
    case Type::kBool: return "bool";
    case Type::kInt: return "int";
    case Type::kFloat: return "float";
    case Type::kString: return "string";
    case Type::kBytes: return "bytes";
    case Type::kList: return "list";
    case Type::kTuple: return "tuple";
    case Type::kDict: return "dict";
    case Type::kSet: return "set";
    case Type::kRange: return "range";
    case Type::kFunction: return "function";
    case Type::kBuiltin: return "builtin_function_or_method";
    case Type::kStruct: return "struct";
    case Type::kCell: return "cell";
    case Type::kIterator: return "iterator";
    case Type::kUnbound: return "unbound";
    case Type::kBigInt: return "int";
    case Type::kHost: return "object";
  }
  return "?";
}

void HostObject::repr(std::string& out) const { out += "<" + std::string(type_name()) + ">"; }

bool memory_exceeded(Thread& thread, std::uint64_t wanted) {
  const MemoryBudget& budget = *thread.memory;
  std::string held = format_bytes(std::max<std::int64_t>(budget.used, 0));
  std::string why = wanted ? "a value of " +
                                 format_bytes(static_cast<std::int64_t>(
                                     std::min<std::uint64_t>(wanted, INT64_MAX))) +
                                 " would not fit (the program holds " + held + ")"
                           : "the program holds " + held;
  return thread.fail_limit("memory budget of " + format_bytes(budget.limit) + " exceeded: " + why +
                           "; --max-memory sets the budget");
}

// ---- truth, equality, hashing -----------------------------------------------------------

bool truth(const Value& v) {
  switch (v.type()) {
    case Type::kNone: return false;
    case Type::kBool:
    case Type::kInt: return v.as_int() != 0;
    case Type::kFloat: return v.as_float() != 0.0;
    case Type::kString:
    case Type::kBytes: return !v.as<String>()->text.empty();
    case Type::kList:
    case Type::kTuple: return !v.as<List>()->items.empty();
    case Type::kDict:
    case Type::kSet: return !v.as<Dict>()->entries.empty();
    case Type::kRange: return v.as<Range>()->length() > 0;
    case Type::kHost: return v.as<HostObject>()->truth();
    default: return true;
  }
}

namespace {

/// The elements of a host sequence (HostObject::elements), or nullptr.
const std::vector<Value>* host_elements(const Value& x) {
  return x.is(Type::kHost) ? x.as<HostObject>()->elements() : nullptr;
}

using ir::floor_div;
using ir::floor_mod;

bool is_number(const Value& v) { return is_int(v) || v.is(Type::kFloat); }
double as_double(const Value& v) {
  if (v.is(Type::kBigInt)) return int_to_double(v.as<BigInt>()->value);
  return v.is(Type::kInt) ? static_cast<double>(v.as_int()) : v.as_float();
}

/// Exact comparison of an int and a float (no rounding of large ints).
int compare_int_float(std::int64_t i, double f) {
  if (std::isnan(f)) return 2;  // unordered
  if (f >= 9.3e18) return -1;
  if (f <= -9.3e18) return 1;
  double fi = std::floor(f);
  auto whole = static_cast<std::int64_t>(fi);
  if (i != whole) return i < whole ? -1 : 1;
  return fi == f ? 0 : -1;
}

/// -1, 0 or 1 comparing two numbers of any kind, or 2 when unordered (NaN).
int compare_numbers(const Value& a, const Value& b) {
  if (a.is(Type::kInt) && b.is(Type::kInt))
    return a.as_int() < b.as_int() ? -1 : a.as_int() > b.as_int();
  if (is_int(a) && is_int(b)) return int_compare(to_int(a), to_int(b));
  if (a.is(Type::kFloat) && b.is(Type::kFloat)) {
    double x = a.as_float(), y = b.as_float();
    if (std::isnan(x) || std::isnan(y)) return 2;
    return x < y ? -1 : x > y;
  }
  if (a.is(Type::kInt)) return compare_int_float(a.as_int(), b.as_float());
  if (b.is(Type::kInt)) {
    int c = compare_int_float(b.as_int(), a.as_float());
    return c == 2 ? 2 : -c;
  }
  // A big int against a float: beyond 2^63 a double's precision is what remains anyway.
  double x = as_double(a), y = as_double(b);
  if (std::isnan(x) || std::isnan(y)) return 2;
  return x < y ? -1 : x > y;
}

std::uint64_t mix(std::uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

std::uint64_t hash_bytes(std::string_view s) {
  std::uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h ? h : 1;
}

bool too_deep(Thread& thread) {
  return thread.fail_limit("comparison exceeded maximum recursion depth (values nested more than " +
                           std::to_string(kMaxNesting) + " deep, or a value that contains itself)");
}

bool equal_at(Thread& thread, const Value& a, const Value& b, int depth, bool& out);

bool dict_equal_at(Thread& thread, const Dict& a, const Dict& b, int depth, bool& out) {
  out = false;
  if (a.entries.size() != b.entries.size()) return true;
  for (const auto& e : a.entries) {
    bool error = false;
    Value* other = dict_find(thread, const_cast<Dict&>(b), e.key, error);
    if (error) return false;
    if (!other) return true;
    if (a.type == Type::kDict) {
      bool same = false;
      if (!equal_at(thread, e.value, *other, depth + 1, same)) return false;
      if (!same) return true;
    }
  }
  out = true;
  return true;
}

bool items_equal_at(Thread& thread, const std::vector<Value>& x, const std::vector<Value>& y,
                    int depth, bool& out) {
  out = false;
  if (x.size() != y.size()) return true;
  for (std::size_t i = 0; i < x.size(); ++i) {
    bool same = false;
    if (!equal_at(thread, x[i], y[i], depth + 1, same)) return false;
    if (!same) return true;
  }
  out = true;
  return true;
}

bool struct_equal_at(Thread& thread, const Struct& a, const Struct& b, int depth, bool& out) {
  out = false;
  if (a.fields.size() != b.fields.size()) return true;
  for (std::size_t i = 0; i < a.fields.size(); ++i) {
    if (a.fields[i].first != b.fields[i].first) return true;
    bool same = false;
    if (!equal_at(thread, a.fields[i].second, b.fields[i].second, depth + 1, same)) return false;
    if (!same) return true;
  }
  out = true;
  return true;
}

bool range_equals(const Range& x, const Range& y) {
  std::int64_t n = x.length();
  if (n != y.length()) return false;
  if (n == 0) return true;
  return x.start == y.start && (n == 1 || x.step == y.step);
}

bool equal_at(Thread& thread, const Value& a, const Value& b, int depth, bool& out) {
  if (a.type() != b.type() || a.is(Type::kBigInt)) {
    out = is_number(a) && is_number(b) && compare_numbers(a, b) == 0;
    return true;
  }
  if (depth > kMaxNesting) return too_deep(thread);
  switch (a.type()) {
    case Type::kNone: out = true; return true;
    case Type::kBool:
    case Type::kInt: out = a.as_int() == b.as_int(); return true;
    case Type::kFloat: out = a.as_float() == b.as_float(); return true;
    case Type::kString:
    case Type::kBytes: out = a.as<String>()->text == b.as<String>()->text; return true;
    case Type::kList:
    case Type::kTuple:
      return items_equal_at(thread, a.as<List>()->items, b.as<List>()->items, depth, out);
    case Type::kDict:
    case Type::kSet: return dict_equal_at(thread, *a.as<Dict>(), *b.as<Dict>(), depth, out);
    case Type::kRange: out = range_equals(*a.as<Range>(), *b.as<Range>()); return true;
    case Type::kStruct:
      return struct_equal_at(thread, *a.as<Struct>(), *b.as<Struct>(), depth, out);
    default: out = a.object() == b.object(); return true;
  }
}

bool hash_at(Thread& thread, const Value& v, int depth, std::uint64_t& out) {
  switch (v.type()) {
    case Type::kNone: out = 0x9e3779b97f4a7c15ULL; return true;
    case Type::kBool:
    case Type::kInt: out = mix(static_cast<std::uint64_t>(v.as_int())); return true;
    case Type::kBigInt: out = mix(int_hash(v.as<BigInt>()->value)); return true;
    case Type::kFloat: {
      double f = v.as_float();
      // Equal numbers hash alike: 2.0 hashes as 2.
      if (std::floor(f) == f && std::fabs(f) < 9.2e18) {
        out = mix(static_cast<std::uint64_t>(static_cast<std::int64_t>(f)));
      } else {
        std::uint64_t bits;
        std::memcpy(&bits, &f, sizeof bits);
        out = mix(bits);
      }
      return true;
    }
    case Type::kString:
    case Type::kBytes: {
      const String* s = v.as<String>();
      if (s->hash == 0) s->hash = hash_bytes(s->text);
      out = s->hash;
      return true;
    }
    case Type::kTuple: {
      if (depth > kMaxNesting)
        return thread.fail_limit(
            "hash exceeded maximum recursion depth (a tuple nested more than " +
            std::to_string(kMaxNesting) + " deep)");
      std::uint64_t h = 0x345678;
      for (const Value& item : v.as<List>()->items) {
        std::uint64_t x;
        if (!hash_at(thread, item, depth + 1, x)) return false;
        h = mix(h ^ x) + 0x9e3779b97f4a7c15ULL;
      }
      out = h;
      return true;
    }
    case Type::kHost:
      if (!v.as<HostObject>()->hashable()) break;
      out = mix(reinterpret_cast<std::uintptr_t>(v.object()));
      return true;
    case Type::kFunction:
    case Type::kBuiltin:
    case Type::kRange: out = mix(reinterpret_cast<std::uintptr_t>(v.object())); return true;
    default: break;
  }
  return thread.fail("unhashable type: " + std::string(type_of(v)));
}

bool less_at(Thread& thread, const Value& a, const Value& b, int depth, bool& out) {
  if (is_number(a) && is_number(b)) {
    out = compare_numbers(a, b) == -1;
    return true;
  }
  if (a.type() != b.type()) {
    return thread.fail("unsupported comparison: " + std::string(type_of(a)) + " < " +
                       std::string(type_of(b)));
  }
  switch (a.type()) {
    case Type::kBool: out = a.as_int() < b.as_int(); return true;
    case Type::kString:
    case Type::kBytes: out = a.as<String>()->text < b.as<String>()->text; return true;
    case Type::kList:
    case Type::kTuple: {
      if (depth > kMaxNesting) return too_deep(thread);
      const auto& x = a.as<List>()->items;
      const auto& y = b.as<List>()->items;
      for (std::size_t i = 0; i < x.size() && i < y.size(); ++i) {
        bool same = false;
        if (!equal_at(thread, x[i], y[i], depth + 1, same)) return false;
        if (same) continue;
        return less_at(thread, x[i], y[i], depth + 1, out);
      }
      out = x.size() < y.size();
      return true;
    }
    default: return thread.fail(std::string(type_of(a)) + " values are not ordered");
  }
}

}  // namespace

bool equals(Thread& thread, const Value& a, const Value& b, bool& out) {
  return equal_at(thread, a, b, 0, out);
}

bool index_of(Thread& thread, const std::vector<Value>& items, const Value& x, std::size_t& at) {
  for (at = 0; at < items.size(); ++at) {
    bool same = false;
    if (!equals(thread, items[at], x, same)) return false;
    if (same) return true;
  }
  return true;
}

bool hash(Thread& thread, const Value& v, std::uint64_t& out) { return hash_at(thread, v, 0, out); }

bool less(Thread& thread, const Value& a, const Value& b, bool& out) {
  return less_at(thread, a, b, 0, out);
}

// ---- ordering ---------------------------------------------------------------------------

bool compare(Thread& thread, Op op, const Value& a, const Value& b, Value& out) {
  bool r = false;
  switch (op) {
    case Op::EQ:
      if (!equals(thread, a, b, r)) return false;
      break;
    case Op::NE:
      if (!equals(thread, a, b, r)) return false;
      r = !r;
      break;
    case Op::LT:
      if (!less(thread, a, b, r)) return false;
      break;
    case Op::GT:
      if (!less(thread, b, a, r)) return false;
      break;
    case Op::LE:
      if (!less(thread, b, a, r)) return false;
      r = !r;
      break;
    case Op::GE:
      if (!less(thread, a, b, r)) return false;
      r = !r;
      break;
    default: return thread.fail("not a comparison");
  }
  // NaN: every ordered comparison is false.
  if ((op == Op::LE || op == Op::GE) && is_number(a) && is_number(b) &&
      (std::isnan(as_double(a)) || std::isnan(as_double(b)))) {
    r = false;
  }
  out = Value::boolean(r);
  return true;
}

// ---- arithmetic -------------------------------------------------------------------------

namespace {

/// An int64 result that does not fit: no error, the caller redoes it with big ints.
bool int_overflow(Thread&, const char*) { return false; }

bool int_too_large_error(Thread& thread) {
  return thread.fail_limit("int too large (more than " + std::to_string(kMaxIntBits) + " bits)");
}

/// `r` as the result, unless it is larger than an int may be.
bool big_result(Thread& thread, Int r, Value& out) {
  if (int_too_large(r)) return int_too_large_error(thread);
  out = make_int(std::move(r));
  return true;
}

bool big_binary(Thread& thread, Op op, const Int& a, const Int& b, Value& out) {
  switch (op) {
    case Op::ADD:
    case Op::INPLACE_ADD: return big_result(thread, int_add(a, b), out);
    case Op::SUB: return big_result(thread, int_sub(a, b), out);
    case Op::MUL:
      if (a.mag.size() + b.mag.size() > kMaxIntLimbs + 1) return int_too_large_error(thread);
      return big_result(thread, int_mul(a, b), out);
    case Op::DIV: {
      if (b.is_zero()) return thread.fail("floating-point division by zero");
      out = Value::floating(int_to_double(a) / int_to_double(b));
      return true;
    }
    case Op::FLOORDIV:
    case Op::MOD: {
      if (b.is_zero())
        return thread.fail(op == Op::MOD ? "integer modulo by zero" : "integer division by zero");
      Int q, r;
      int_floordiv_mod(a, b, &q, &r);
      out = make_int(op == Op::MOD ? std::move(r) : std::move(q));
      return true;
    }
    case Op::BITAND: out = make_int(int_and(a, b)); return true;
    case Op::BITOR: out = make_int(int_or(a, b)); return true;
    case Op::BITXOR: out = make_int(int_xor(a, b)); return true;
    case Op::SHL:
    case Op::SHR: {
      if (b.negative) return thread.fail("negative shift count: " + int_to_string(b));
      bool huge = b.mag.size() > 1 || (!b.mag.empty() && b.mag[0] > kMaxIntBits);
      if (op == Op::SHL) {
        if (huge && !a.is_zero()) return int_too_large_error(thread);
        return big_result(thread, a.is_zero() ? Int{} : int_shl(a, b.mag.empty() ? 0 : b.mag[0]),
                          out);
      } else {
        out = huge ? Value::integer(a.negative ? -1 : 0)
                   : make_int(int_shr(a, b.mag.empty() ? 0 : b.mag[0]));
      }
      return true;
    }
    default: return false;
  }
}

bool int_binary(Thread& thread, Op op, std::int64_t a, std::int64_t b, Value& out) {
  std::int64_t r = 0;
  switch (op) {
    case Op::ADD:
    case Op::INPLACE_ADD:
      if (__builtin_add_overflow(a, b, &r)) return int_overflow(thread, "+");
      break;
    case Op::SUB:
      if (__builtin_sub_overflow(a, b, &r)) return int_overflow(thread, "-");
      break;
    case Op::MUL:
      if (__builtin_mul_overflow(a, b, &r)) return int_overflow(thread, "*");
      break;
    case Op::DIV:
      if (b == 0) return thread.fail("floating-point division by zero");
      out = Value::floating(static_cast<double>(a) / static_cast<double>(b));
      return true;
    case Op::FLOORDIV:
      if (b == 0) return thread.fail("integer division by zero");
      if (a == INT64_MIN && b == -1) return int_overflow(thread, "//");
      r = floor_div(a, b);
      break;
    case Op::MOD:
      if (b == 0) return thread.fail("integer modulo by zero");
      r = (a == INT64_MIN && b == -1) ? 0 : floor_mod(a, b);
      break;
    case Op::BITAND: r = a & b; break;
    case Op::BITOR: r = a | b; break;
    case Op::BITXOR: r = a ^ b; break;
    case Op::SHL:
      if (b < 0) return thread.fail("negative shift count: " + std::to_string(b));
      if (a == 0) break;
      if (b >= 63 || (a > 0 ? a > (INT64_MAX >> b) : a < (INT64_MIN >> b)))
        return int_overflow(thread, "<<");
      r = static_cast<std::int64_t>(static_cast<std::uint64_t>(a) << b);
      break;
    case Op::SHR:
      if (b < 0) return thread.fail("negative shift count: " + std::to_string(b));
      r = b >= 63 ? (a < 0 ? -1 : 0) : a >> b;
      break;
    default: return false;
  }
  out = Value::integer(r);
  return true;
}

bool float_binary(Thread& thread, Op op, double a, double b, Value& out) {
  switch (op) {
    case Op::ADD:
    case Op::INPLACE_ADD: out = Value::floating(a + b); return true;
    case Op::SUB: out = Value::floating(a - b); return true;
    case Op::MUL: out = Value::floating(a * b); return true;
    case Op::DIV:
      if (b == 0) return thread.fail("floating-point division by zero");
      out = Value::floating(a / b);
      return true;
    case Op::FLOORDIV:
      if (b == 0) return thread.fail("floating-point division by zero");
      out = Value::floating(std::floor(a / b));
      return true;
    case Op::MOD: {
      if (b == 0) return thread.fail("floating-point modulo by zero");
      double r = std::fmod(a, b);
      if (r != 0 && ((r < 0) != (b < 0))) r += b;
      out = Value::floating(r);
      return true;
    }
    default: return false;
  }
}

bool repeat(Thread& thread, const Value& seq, std::int64_t n, Value& out) {
  if (n < 0) n = 0;
  if (seq.is(Type::kString) || seq.is(Type::kBytes)) {
    const std::string& s = seq.as<String>()->text;
    if (!s.empty() && static_cast<std::uint64_t>(n) > kMaxStringBytes / s.size())
      return thread.fail_limit("repeated string is too large (more than " +
                               std::to_string(kMaxStringBytes) + " bytes)");
    if (!room_for(thread, s.size() * static_cast<std::uint64_t>(n))) return false;
    std::string r;
    r.reserve(s.size() * static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) r += s;
    out = seq.is(Type::kString) ? make_string(std::move(r)) : make_bytes(std::move(r));
    return true;
  }
  const auto& items = seq.as<List>()->items;
  if (!items.empty() && static_cast<std::uint64_t>(n) > kMaxElements / items.size())
    return thread.fail_limit("repeated sequence is too large (more than " +
                             std::to_string(kMaxElements) + " elements)");
  if (!room_for(thread, items.size() * static_cast<std::uint64_t>(n) * sizeof(Value))) return false;
  std::vector<Value> r;
  r.reserve(items.size() * static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) r.insert(r.end(), items.begin(), items.end());
  out = seq.is(Type::kList) ? make_list(std::move(r)) : make_tuple(std::move(r));
  return true;
}

bool is_sequence(const Value& v) {
  return v.is(Type::kString) || v.is(Type::kBytes) || v.is(Type::kList) || v.is(Type::kTuple);
}

/// Whether some item equals `x`.
bool find_equal(Thread& thread, const std::vector<Value>& items, const Value& x, bool& out) {
  std::size_t at = 0;
  if (!index_of(thread, items, x, at)) return false;
  out = at < items.size();
  return true;
}

bool contains(Thread& thread, const Value& container, const Value& x, bool& out) {
  if (const auto* items = host_elements(container)) return find_equal(thread, *items, x, out);
  switch (container.type()) {
    case Type::kString:
    case Type::kBytes:
      if (!x.is(container.type())) {
        return thread.fail("'in <" + std::string(type_of(container)) + ">' requires " +
                           std::string(type_of(container)) + " as left operand, not " +
                           std::string(type_of(x)));
      }
      out = container.as<String>()->text.find(x.as<String>()->text) != std::string::npos;
      return true;
    case Type::kList:
    case Type::kTuple: return find_equal(thread, container.as<List>()->items, x, out);
    case Type::kDict:
    case Type::kSet: {
      bool error = false;
      out = dict_find(thread, *container.as<Dict>(), x, error) != nullptr;
      return !error;
    }
    case Type::kRange: {
      if (!x.is(Type::kInt)) {
        out = false;
        return true;
      }
      auto* r = container.as<Range>();
      std::int64_t v = x.as_int();
      std::int64_t n = r->length();
      out = n > 0 && (v - r->start) % r->step == 0 && (v - r->start) / r->step >= 0 &&
            (v - r->start) / r->step < n;
      return true;
    }
    default:
      return thread.fail("unknown binary op: " + std::string(type_of(x)) + " in " +
                         std::string(type_of(container)));
  }
}

const char* op_symbol(Op op) {
  switch (op) {
    case Op::ADD:
    case Op::INPLACE_ADD: return "+";
    case Op::SUB: return "-";
    case Op::MUL: return "*";
    case Op::DIV: return "/";
    case Op::FLOORDIV: return "//";
    case Op::MOD: return "%";
    case Op::BITAND: return "&";
    case Op::BITOR: return "|";
    case Op::BITXOR: return "^";
    case Op::SHL: return "<<";
    case Op::SHR: return ">>";
    default: return "?";
  }
}

bool set_algebra(Thread& thread, Op op, const Dict& a, const Dict& b, Value& out) {
  auto* r = new Dict(Type::kSet);
  Value result = Value::adopt(r);
  bool error = false;
  if (op == Op::BITOR) {
    for (const auto& e : a.entries) dict_set(thread, *r, e.key, Value());
    for (const auto& e : b.entries) dict_set(thread, *r, e.key, Value());
  } else {
    for (const auto& e : a.entries) {
      bool in_b = dict_find(thread, const_cast<Dict&>(b), e.key, error) != nullptr;
      if ((op == Op::BITAND && in_b) || ((op == Op::SUB || op == Op::BITXOR) && !in_b))
        dict_set(thread, *r, e.key, Value());
    }
    if (op == Op::BITXOR) {
      for (const auto& e : b.entries) {
        if (!dict_find(thread, const_cast<Dict&>(a), e.key, error))
          dict_set(thread, *r, e.key, Value());
      }
    }
  }
  out = std::move(result);
  return !thread.failed();
}

}  // namespace

bool check_mutable(Thread& thread, const Object& o, std::uint32_t iterating,
                   std::string_view what) {
  if (o.frozen)
    return thread.fail("cannot " + std::string(what) + " frozen " + std::string(type_name(o.type)));
  if (iterating)
    return thread.fail("cannot " + std::string(what) + " " + std::string(type_name(o.type)) +
                       " during iteration");
  return true;
}

bool binary(Thread& thread, Op op, const Value& a, const Value& b, Value& out) {
  if (a.is(Type::kInt) && b.is(Type::kInt)) {
    if (int_binary(thread, op, a.as_int(), b.as_int(), out)) return true;
    if (thread.failed()) return false;
    if (big_binary(thread, op, to_int(a), to_int(b), out)) return true;
    if (thread.failed()) return false;
  } else if (is_int(a) && is_int(b)) {
    if (big_binary(thread, op, to_int(a), to_int(b), out)) return true;
    if (thread.failed()) return false;
  } else if (is_number(a) && is_number(b)) {
    if (float_binary(thread, op, as_double(a), as_double(b), out)) return true;
    if (thread.failed()) return false;
  }
  if (op == Op::IN || op == Op::NOT_IN) {
    bool r = false;
    if (!contains(thread, b, a, r)) return false;
    out = Value::boolean(op == Op::IN ? r : !r);
    return true;
  }
  if (op == Op::INPLACE_ADD && a.is(Type::kList)) {
    auto* list = a.as<List>();
    if (!check_mutable(thread, *list, list->iterating, "append to")) return false;
    std::vector<Value> items;
    if (!to_vector(thread, b, items)) return false;
    list->items.insert(list->items.end(), items.begin(), items.end());
    out = a;
    return true;
  }
  if ((op == Op::ADD || op == Op::INPLACE_ADD) && a.type() == b.type()) {
    switch (a.type()) {
      case Type::kString:
      case Type::kBytes: {
        const std::string& x = a.as<String>()->text;
        const std::string& y = b.as<String>()->text;
        if (!room_for(thread, x.size() + y.size())) return false;
        out = a.is(Type::kString) ? make_string(x + y) : make_bytes(x + y);
        return true;
      }
      case Type::kList:
      case Type::kTuple: {
        std::size_t n = a.as<List>()->items.size() + b.as<List>()->items.size();
        if (!room_for(thread, n * sizeof(Value))) return false;
        std::vector<Value> items;
        items.reserve(n);
        items.insert(items.end(), a.as<List>()->items.begin(), a.as<List>()->items.end());
        items.insert(items.end(), b.as<List>()->items.begin(), b.as<List>()->items.end());
        out = a.is(Type::kList) ? make_list(std::move(items)) : make_tuple(std::move(items));
        return true;
      }
      default: break;
    }
  }
  if (op == Op::MUL) {
    if (is_sequence(a) && b.is(Type::kInt)) return repeat(thread, a, b.as_int(), out);
    if (a.is(Type::kInt) && is_sequence(b)) return repeat(thread, b, a.as_int(), out);
  }
  if (op == Op::MOD && a.is(Type::kString))
    return format_percent(thread, a.as<String>()->text, b, out);
  if (op == Op::BITOR && a.is(Type::kDict) && b.is(Type::kDict)) {
    auto* r = new Dict();
    Value result = Value::adopt(r);
    for (const auto& e : a.as<Dict>()->entries) dict_set(thread, *r, e.key, e.value);
    for (const auto& e : b.as<Dict>()->entries) dict_set(thread, *r, e.key, e.value);
    out = std::move(result);
    return true;
  }
  if (a.is(Type::kSet) && b.is(Type::kSet) &&
      (op == Op::BITOR || op == Op::BITAND || op == Op::BITXOR || op == Op::SUB)) {
    return set_algebra(thread, op, *a.as<Dict>(), *b.as<Dict>(), out);
  }
  return thread.fail("unknown binary op: " + std::string(type_of(a)) + " " + op_symbol(op) + " " +
                     std::string(type_of(b)));
}

bool unary(Thread& thread, Op op, const Value& a, Value& out) {
  switch (op) {
    case Op::NOT: out = Value::boolean(!truth(a)); return true;
    case Op::UMINUS:
      if (a.is(Type::kInt) && a.as_int() != INT64_MIN) {
        out = Value::integer(-a.as_int());
        return true;
      }
      if (is_int(a)) {
        out = make_int(int_neg(to_int(a)));
        return true;
      }
      if (a.is(Type::kFloat)) {
        out = Value::floating(-a.as_float());
        return true;
      }
      return thread.fail("unknown unary op: -" + std::string(type_of(a)));
    case Op::UPLUS:
      if (is_number(a)) {
        out = a;
        return true;
      }
      return thread.fail("unknown unary op: +" + std::string(type_of(a)));
    case Op::INVERT:
      if (a.is(Type::kInt)) {
        out = Value::integer(~a.as_int());
        return true;
      }
      if (a.is(Type::kBigInt)) {
        out = make_int(int_not(a.as<BigInt>()->value));
        return true;
      }
      return thread.fail("unknown unary op: ~" + std::string(type_of(a)));
    default: return thread.fail("not a unary operator");
  }
}

// ---- indexing ---------------------------------------------------------------------------

namespace {

bool normalize_index(Thread& thread, const Value& i, std::int64_t n, std::int64_t& out) {
  if (i.is(Type::kBigInt)) {
    return thread.fail("index " + repr(i) + " out of range: length is " + std::to_string(n));
  }
  if (!i.is(Type::kInt)) return thread.fail("index must be int, not " + std::string(type_of(i)));
  std::int64_t k = i.as_int();
  if (k < 0) k += n;
  if (k < 0 || k >= n) {
    return thread.fail("index " + std::to_string(i.as_int()) + " out of range: length is " +
                       std::to_string(n));
  }
  out = k;
  return true;
}

}  // namespace

bool index(Thread& thread, const Value& x, const Value& i, Value& out) {
  std::int64_t k = 0;
  if (const auto* items = host_elements(x)) {
    if (!normalize_index(thread, i, static_cast<std::int64_t>(items->size()), k)) return false;
    out = (*items)[static_cast<std::size_t>(k)];
    return true;
  }
  switch (x.type()) {
    case Type::kList:
    case Type::kTuple: {
      const auto& items = x.as<List>()->items;
      if (!normalize_index(thread, i, static_cast<std::int64_t>(items.size()), k)) return false;
      out = items[static_cast<std::size_t>(k)];
      return true;
    }
    case Type::kString:
    case Type::kBytes: {
      const std::string& s = x.as<String>()->text;
      if (!normalize_index(thread, i, static_cast<std::int64_t>(s.size()), k)) return false;
      if (x.is(Type::kBytes)) {
        out = Value::integer(static_cast<unsigned char>(s[static_cast<std::size_t>(k)]));
      } else {
        out = make_string(std::string(1, s[static_cast<std::size_t>(k)]));
      }
      return true;
    }
    case Type::kRange: {
      auto* r = x.as<Range>();
      if (!normalize_index(thread, i, r->length(), k)) return false;
      out = Value::integer(r->at(k));
      return true;
    }
    case Type::kDict: {
      bool error = false;
      Value* v = dict_find(thread, *x.as<Dict>(), i, error);
      if (error) return false;
      if (!v) return thread.fail("key " + repr(i) + " not in dict");
      out = *v;
      return true;
    }
    default:
      return thread.fail("unhandled index operation " + std::string(type_of(x)) + "[" +
                         std::string(type_of(i)) + "]");
  }
}

bool set_index(Thread& thread, const Value& x, const Value& i, const Value& v) {
  if (x.is(Type::kList)) {
    auto* list = x.as<List>();
    if (!check_mutable(thread, *list, 0, "assign to element of")) return false;
    std::int64_t k = 0;
    if (!normalize_index(thread, i, static_cast<std::int64_t>(list->items.size()), k)) return false;
    list->items[static_cast<std::size_t>(k)] = v;
    return true;
  }
  if (x.is(Type::kDict)) return dict_set(thread, *x.as<Dict>(), i, v);
  return thread.fail(std::string(type_of(x)) + " value does not support item assignment");
}

bool slice(Thread& thread, const Value& x, const Value& lo, const Value& hi, const Value& step_v,
           Value& out) {
  std::int64_t n = 0;
  if (!length(thread, x, n)) return false;
  if (x.is(Type::kDict) || x.is(Type::kSet))
    return thread.fail("cannot slice " + std::string(type_of(x)));
  std::int64_t step = 1;
  if (!step_v.is(Type::kNone)) {
    if (!step_v.is(Type::kInt))
      return thread.fail("slice step must be int, not " + std::string(type_of(step_v)));
    step = step_v.as_int();
    if (step == 0) return thread.fail("zero is not a valid slice step");
  }
  auto bound = [&](const Value& v, std::int64_t dflt, std::int64_t& out_bound) {
    if (v.is(Type::kNone)) {
      out_bound = dflt;
      return true;
    }
    if (!v.is(Type::kInt))
      return thread.fail("slice bound must be int, not " + std::string(type_of(v)));
    std::int64_t b = v.as_int();
    if (b < 0) b += n;
    if (step > 0)
      out_bound = std::clamp<std::int64_t>(b, 0, n);
    else
      out_bound = std::clamp<std::int64_t>(b, -1, n - 1);
    return true;
  };
  std::int64_t start = 0, stop = 0;
  if (!bound(lo, step > 0 ? 0 : n - 1, start) || !bound(hi, step > 0 ? n : -1, stop)) return false;
  std::vector<std::int64_t> picks;
  for (std::int64_t k = start; step > 0 ? k < stop : k > stop; k += step) picks.push_back(k);
  switch (x.type()) {
    case Type::kString:
    case Type::kBytes: {
      const std::string& s = x.as<String>()->text;
      std::string r;
      for (auto k : picks) r += s[static_cast<std::size_t>(k)];
      out = x.is(Type::kString) ? make_string(std::move(r)) : make_bytes(std::move(r));
      return true;
    }
    case Type::kRange: {
      auto* r = x.as<Range>();
      std::int64_t new_start = picks.empty() ? r->start : r->at(start);
      out = Value::adopt(
          new Range(new_start, new_start + static_cast<std::int64_t>(picks.size()) * r->step * step,
                    r->step * step));
      return true;
    }
    default: {
      const auto& items = x.as<List>()->items;
      std::vector<Value> r;
      r.reserve(picks.size());
      for (auto k : picks) r.push_back(items[static_cast<std::size_t>(k)]);
      out = x.is(Type::kList) ? make_list(std::move(r)) : make_tuple(std::move(r));
      return true;
    }
  }
}

bool length(Thread& thread, const Value& x, std::int64_t& out) {
  if (const auto* items = host_elements(x)) {
    out = static_cast<std::int64_t>(items->size());
    return true;
  }
  switch (x.type()) {
    case Type::kString:
    case Type::kBytes: out = static_cast<std::int64_t>(x.as<String>()->text.size()); return true;
    case Type::kList:
    case Type::kTuple: out = static_cast<std::int64_t>(x.as<List>()->items.size()); return true;
    case Type::kDict:
    case Type::kSet: out = static_cast<std::int64_t>(x.as<Dict>()->entries.size()); return true;
    case Type::kRange: out = x.as<Range>()->length(); return true;
    default: return thread.fail(std::string(type_of(x)) + " value has no len()");
  }
}

// ---- iteration --------------------------------------------------------------------------

std::int64_t Range::length() const {
  if (step > 0) return start < stop ? (stop - start + step - 1) / step : 0;
  return start > stop ? (start - stop - step - 1) / (-step) : 0;
}

Iterator::Iterator(Value v) : Object(Type::kIterator), iterable(std::move(v)) {
  if (iterable.is(Type::kRange)) range_length = iterable.as<Range>()->length();
  if (iterable.is(Type::kList)) ++iterable.as<List>()->iterating;
  if (iterable.is(Type::kDict) || iterable.is(Type::kSet)) ++iterable.as<Dict>()->iterating;
}

Iterator::~Iterator() {
  if (iterable.is(Type::kList)) --iterable.as<List>()->iterating;
  if (iterable.is(Type::kDict) || iterable.is(Type::kSet)) --iterable.as<Dict>()->iterating;
}

bool iterate(Thread& thread, const Value& x, Value& iterator) {
  switch (x.type()) {
    case Type::kList:
    case Type::kTuple:
    case Type::kDict:
    case Type::kSet:
    case Type::kRange: iterator = Value::adopt(new Iterator(x)); return true;
    case Type::kHost:
      if (!host_elements(x)) return thread.fail(std::string(type_of(x)) + " value is not iterable");
      iterator = Value::adopt(new Iterator(x));
      return true;
    case Type::kString:
      return thread.fail("string value is not iterable; use .elems() or .split()");
    default: return thread.fail(std::string(type_of(x)) + " value is not iterable");
  }
}

bool next(Thread&, Iterator& it, Value& out) {
  const Value& x = it.iterable;
  auto pos = static_cast<std::size_t>(it.position);
  switch (x.type()) {
    case Type::kList:
    case Type::kTuple: {
      const auto& items = x.as<List>()->items;
      if (pos >= items.size()) return false;
      out = items[pos];
      break;
    }
    case Type::kDict:
    case Type::kSet: {
      const auto& entries = x.as<Dict>()->entries;
      if (pos >= entries.size()) return false;
      out = entries[pos].key;
      break;
    }
    case Type::kRange: {
      auto* r = x.as<Range>();
      if (it.position >= it.range_length) return false;
      out = Value::integer(r->at(it.position));
      break;
    }
    case Type::kHost: {
      const auto& items = *host_elements(x);  // iterate() checked it is a sequence
      if (pos >= items.size()) return false;
      out = items[pos];
      break;
    }
    default: return false;
  }
  ++it.position;
  return true;
}

bool to_vector(Thread& thread, const Value& x, std::vector<Value>& out) {
  if (x.is(Type::kList) || x.is(Type::kTuple)) {
    out = x.as<List>()->items;
    return true;
  }
  if (x.is(Type::kRange) && static_cast<std::uint64_t>(x.as<Range>()->length()) > kMaxElements) {
    return thread.fail("range of " + std::to_string(x.as<Range>()->length()) +
                       " elements is too large to materialize");
  }
  Value it;
  if (!iterate(thread, x, it)) return false;
  Value item;
  while (next(thread, *it.as<Iterator>(), item)) out.push_back(item);
  return !thread.failed();
}

// ---- dicts ------------------------------------------------------------------------------

namespace {

void rebuild_index(Dict& d) {
  std::size_t size = 8;
  while (size < d.entries.size() * 2 + 2) size *= 2;
  d.index.assign(size, -1);
  std::size_t mask = size - 1;
  for (std::size_t i = 0; i < d.entries.size(); ++i) {
    std::size_t slot = d.entries[i].hash & mask;
    while (d.index[slot] != -1) slot = (slot + 1) & mask;
    d.index[slot] = static_cast<std::int32_t>(i);
  }
}

/// Sets `slot` to the slot in d.index holding `key`, or to the empty slot where it would
/// go. False when comparing keys failed (tuples nested too deeply).
bool probe(Thread& thread, Dict& d, const Value& key, std::uint64_t h, std::size_t& slot,
           bool& found) {
  std::size_t mask = d.index.size() - 1;
  slot = h & mask;
  for (;;) {
    std::int32_t at = d.index[slot];
    if (at == -1) {
      found = false;
      return true;
    }
    const auto& e = d.entries[static_cast<std::size_t>(at)];
    if (e.hash == h) {
      if (!equals(thread, e.key, key, found)) return false;
      if (found) return true;
    }
    slot = (slot + 1) & mask;
  }
}

}  // namespace

Value* dict_find(Thread& thread, Dict& d, const Value& key, bool& error) {
  std::uint64_t h;
  if (!hash(thread, key, h)) {
    error = true;
    return nullptr;
  }
  if (d.entries.empty()) return nullptr;
  if (d.index.empty()) rebuild_index(d);
  bool found = false;
  std::size_t slot = 0;
  if (!probe(thread, d, key, h, slot, found)) {
    error = true;
    return nullptr;
  }
  return found ? &d.entries[static_cast<std::size_t>(d.index[slot])].value : nullptr;
}

bool dict_set(Thread& thread, Dict& d, Value key, Value value) {
  if (!check_mutable(thread, d, 0, "insert into")) return false;
  std::uint64_t h;
  if (!hash(thread, key, h)) return false;
  if (d.index.empty() || (d.entries.size() + 1) * 2 > d.index.size()) {
    d.entries.reserve(d.entries.size() + 1);
    rebuild_index(d);
  }
  bool found = false;
  std::size_t slot = 0;
  if (!probe(thread, d, key, h, slot, found)) return false;
  if (found) {
    d.entries[static_cast<std::size_t>(d.index[slot])].value = std::move(value);
    return true;
  }
  if (d.iterating)
    return thread.fail("cannot insert into " + std::string(type_name(d.type)) +
                       " during iteration");
  d.index[slot] = static_cast<std::int32_t>(d.entries.size());
  d.entries.push_back(Dict::Entry{std::move(key), std::move(value), h});
  return true;
}

bool dict_remove(Thread& thread, Dict& d, const Value& key, Value* removed) {
  if (!check_mutable(thread, d, d.iterating, "delete from")) return false;
  std::uint64_t h;
  if (!hash(thread, key, h)) return false;
  if (d.entries.empty()) return false;
  if (d.index.empty()) rebuild_index(d);
  bool found = false;
  std::size_t slot = 0;
  if (!probe(thread, d, key, h, slot, found) || !found) return false;
  auto at = static_cast<std::size_t>(d.index[slot]);
  if (removed) *removed = d.entries[at].value;
  d.entries.erase(d.entries.begin() + static_cast<long>(at));
  rebuild_index(d);  // positions after `at` moved; O(n) removal keeps lookups simple
  return true;
}

// ---- attributes -------------------------------------------------------------------------

const Value* Struct::find(std::string_view name) const {
  auto it = std::lower_bound(fields.begin(), fields.end(), name,
                             [](const auto& f, std::string_view n) { return f.first < n; });
  return it != fields.end() && it->first == name ? &it->second : nullptr;
}

bool get_attr(Thread& thread, const Value& x, std::string_view name, Value& out) {
  if (x.is(Type::kHost)) {
    if (x.as<HostObject>()->attr(x, name, out)) return true;
  } else if (x.is(Type::kStruct)) {
    if (const Value* v = x.as<Struct>()->find(name)) {
      out = *v;
      return true;
    }
  } else if (NativeFn fn = find_method(x.type(), name)) {
    out = Value::adopt(new Builtin(std::string(name), fn, x));
    return true;
  }
  return thread.fail(std::string(type_of(x)) + " has no ." + std::string(name) +
                     " field or method");
}

bool has_attr(const Value& x, std::string_view name) {
  if (x.is(Type::kStruct)) return x.as<Struct>()->find(name) != nullptr;
  if (x.is(Type::kHost)) {
    Value ignored;
    return x.as<HostObject>()->attr(x, name, ignored);
  }
  return find_method(x.type(), name) != nullptr;
}

std::vector<std::string> attr_names(const Value& x) {
  if (x.is(Type::kHost)) return x.as<HostObject>()->attr_names();
  if (x.is(Type::kStruct)) {
    std::vector<std::string> names;
    for (const auto& f : x.as<Struct>()->fields) names.push_back(f.first);
    return names;
  }
  return method_names(x.type());
}

// ---- repr and str -----------------------------------------------------------------------

namespace {

void quote_to(std::string& out, std::string_view s, bool bytes) {
  if (bytes) out += 'b';
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7F || (bytes && c >= 0x80)) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void float_to(std::string& out, double f) {
  if (std::isnan(f)) {
    out += "nan";
    return;
  }
  if (std::isinf(f)) {
    out += f > 0 ? "+inf" : "-inf";
    return;
  }
  // The shortest digits that round-trip, laid out as Python's repr does: positional
  // for decimal exponents in [-4, 16), scientific otherwise.
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, f, std::chars_format::scientific);
  std::string sci(buf, end);  // "-1.2345e+21"
  bool negative = sci[0] == '-';
  std::size_t e_at = sci.find('e');
  std::string digits;
  for (std::size_t i = negative ? 1 : 0; i < e_at; ++i) {
    if (sci[i] != '.') digits += sci[i];
  }
  int exponent = std::stoi(sci.substr(e_at + 1));
  if (negative) out += '-';
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) {
      out += "0." + std::string(static_cast<std::size_t>(-exponent - 1), '0') + digits;
    } else if (static_cast<std::size_t>(exponent) + 1 >= digits.size()) {
      out +=
          digits + std::string(static_cast<std::size_t>(exponent) + 1 - digits.size(), '0') + ".0";
    } else {
      out += digits.substr(0, static_cast<std::size_t>(exponent) + 1) + "." +
             digits.substr(static_cast<std::size_t>(exponent) + 1);
    }
    return;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  char exp_buf[16];
  std::snprintf(exp_buf, sizeof exp_buf, "e%c%02d", exponent < 0 ? '-' : '+',
                exponent < 0 ? -exponent : exponent);
  out += exp_buf;
}

/// Writes a scalar (a value that holds no other values) and returns true, or returns
/// false for a container.
bool scalar_to(std::string& out, const Value& v) {
  switch (v.type()) {
    case Type::kNone: out += "None"; return true;
    case Type::kBool: out += v.as_bool() ? "True" : "False"; return true;
    case Type::kInt: out += std::to_string(v.as_int()); return true;
    case Type::kBigInt: out += int_to_string(v.as<BigInt>()->value); return true;
    case Type::kFloat: float_to(out, v.as_float()); return true;
    case Type::kString: quote_to(out, v.as<String>()->text, false); return true;
    case Type::kBytes: quote_to(out, v.as<String>()->text, true); return true;
    case Type::kRange: {
      auto* r = v.as<Range>();
      out += "range(";
      if (r->start != 0 || r->step != 1) out += std::to_string(r->start) + ", ";
      out += std::to_string(r->stop);
      if (r->step != 1) out += ", " + std::to_string(r->step);
      out += ')';
      return true;
    }
    case Type::kFunction: out += "<function " + v.as<Function>()->code().name + ">"; return true;
    case Type::kBuiltin: {
      auto* b = v.as<Builtin>();
      if (b->self.is(Type::kNone)) {
        out += "<built-in function " + b->name + ">";
      } else {
        out += "<built-in method " + b->name + " of " + std::string(type_of(b->self)) + " value>";
      }
      return true;
    }
    case Type::kHost: v.as<HostObject>()->repr(out); return true;
    case Type::kList:
    case Type::kTuple:
    case Type::kDict:
    case Type::kSet:
    case Type::kStruct: return false;
    default: out += "<" + std::string(type_of(v)) + ">"; return true;
  }
}

/// repr without recursion: a value nested 300,000 deep prints as it is, and a list or
/// dict that contains itself prints as [...] or {...} where it recurs, as starlark-go
/// does. Work is a stack of tasks, each container pushing its parts in reverse.
class Printer {
 public:
  explicit Printer(std::string& out) : out_(out) {}

  void print(const Value& root) {
    push(Task::kValue, &root);
    while (!tasks_.empty()) {
      Task task = tasks_.back();
      tasks_.pop_back();
      switch (task.kind) {
        case Task::kText: out_ += static_cast<const char*>(task.what); break;
        case Task::kName: out_ += *static_cast<const std::string*>(task.what); break;
        case Task::kLeave: open_.erase(task.what); break;
        case Task::kValue: value(*static_cast<const Value*>(task.what)); break;
      }
    }
  }

 private:
  struct Task {
    enum Kind { kValue, kText, kName, kLeave } kind;
    const void* what;
  };
  void push(Task::Kind kind, const void* what) { tasks_.push_back(Task{kind, what}); }

  void value(const Value& v) {
    if (scalar_to(out_, v)) return;
    const Object* o = v.object();
    bool mutable_container = v.is(Type::kList) || v.is(Type::kDict);
    if (mutable_container && open_.count(o)) {
      out_ += v.is(Type::kList) ? "[...]" : "{...}";
      return;
    }
    if (mutable_container) {
      open_.insert(o);
      push(Task::kLeave, o);
    }
    switch (v.type()) {
      case Type::kList: items("[", v.as<List>()->items, "]"); break;
      case Type::kTuple:
        items("(", v.as<List>()->items, v.as<List>()->items.size() == 1 ? ",)" : ")");
        break;
      case Type::kDict: entries(*v.as<Dict>()); break;
      case Type::kSet: keys(*v.as<Dict>()); break;
      default: fields(*v.as<Struct>()); break;
    }
  }

  void items(const char* open, const std::vector<Value>& items, const char* close) {
    out_ += open;
    push(Task::kText, close);
    for (std::size_t i = items.size(); i-- > 0;) {
      push(Task::kValue, &items[i]);
      if (i) push(Task::kText, ", ");
    }
  }

  void entries(const Dict& d) {
    out_ += '{';
    push(Task::kText, "}");
    for (std::size_t i = d.entries.size(); i-- > 0;) {
      push(Task::kValue, &d.entries[i].value);
      push(Task::kText, ": ");
      push(Task::kValue, &d.entries[i].key);
      if (i) push(Task::kText, ", ");
    }
  }

  void keys(const Dict& d) {
    out_ += "set([";
    push(Task::kText, "])");
    for (std::size_t i = d.entries.size(); i-- > 0;) {
      push(Task::kValue, &d.entries[i].key);
      if (i) push(Task::kText, ", ");
    }
  }

  void fields(const Struct& s) {
    out_ += "struct(";
    push(Task::kText, ")");
    for (std::size_t i = s.fields.size(); i-- > 0;) {
      push(Task::kValue, &s.fields[i].second);
      push(Task::kText, " = ");
      push(Task::kName, &s.fields[i].first);
      if (i) push(Task::kText, ", ");
    }
  }

  std::string& out_;
  std::vector<Task> tasks_;
  std::unordered_set<const void*> open_;  // lists and dicts being printed
};

}  // namespace

std::string repr(const Value& v) {
  std::string out;
  if (!scalar_to(out, v)) Printer(out).print(v);
  return out;
}

std::string str(const Value& v) {
  if (v.is(Type::kString)) return v.as<String>()->text;
  return repr(v);
}

}  // namespace fb::vm
