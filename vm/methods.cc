// The Starlark universe (predeclared functions) and the methods of built-in types.
// This file is a table of small native functions: each reads its arguments with
// unpack() and reports errors through the thread.
#include "vm/methods.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <map>

#include "vm/bigint.h"
#include "vm/ops.h"

namespace fb::vm {

bool unpack(Thread& thread, std::string_view fn, Args& args, std::initializer_list<ArgSpec> specs) {
  const ArgSpec* list = specs.begin();
  std::size_t count = specs.size();
  auto name_of = [&](std::size_t k) {
    std::string_view want = list[k].name;
    if (!want.empty() && want.back() == '?') want.remove_suffix(1);
    return want;
  };
  if (args.positional.size() > count) {
    return thread.fail(std::string(fn) + ": got " + std::to_string(args.positional.size()) +
                       " arguments, want at most " + std::to_string(count));
  }
  std::uint64_t set = 0;  // builtins take far fewer than 64 parameters
  for (std::size_t i = 0; i < args.positional.size(); ++i) {
    *list[i].out = std::move(args.positional[i]);
    set |= 1ULL << i;
  }
  for (auto& [name, value] : args.keywords) {
    std::size_t k = 0;
    while (k < count && name_of(k) != name) ++k;
    if (k == count)
      return thread.fail(std::string(fn) + ": unexpected keyword argument " + std::string(name));
    if (set & (1ULL << k))
      return thread.fail(std::string(fn) + ": got multiple values for parameter " +
                         std::string(name));
    *list[k].out = std::move(value);
    set |= 1ULL << k;
  }
  for (std::size_t k = 0; k < count; ++k) {
    std::string_view want = list[k].name;
    if (!(set & (1ULL << k)) && (want.empty() || want.back() != '?')) {
      return thread.fail(std::string(fn) + ": missing argument for " + std::string(name_of(k)));
    }
  }
  return true;
}

bool no_args(Thread& thread, std::string_view fn, Args& args) {
  return unpack(thread, fn, args, {});
}

bool want_int(Thread& thread, std::string_view fn, const Value& v, std::int64_t& out) {
  if (v.is(Type::kBigInt))
    return thread.fail(std::string(fn) + ": int " + repr(v) + " is too large");
  if (!v.is(Type::kInt))
    return thread.fail(std::string(fn) + ": got " + std::string(type_of(v)) + ", want int");
  out = v.as_int();
  return true;
}

bool want_string(Thread& thread, std::string_view fn, const Value& v, const std::string*& out) {
  if (!v.is(Type::kString))
    return thread.fail(std::string(fn) + ": got " + std::string(type_of(v)) + ", want string");
  out = &v.as<String>()->text;
  return true;
}

namespace {

// ---- universe ---------------------------------------------------------------------------

bool u_len(Thread& t, const Value&, Args& a, Value& r) {
  Value x;
  if (!unpack(t, "len", a, {{"x", &x}})) return false;
  std::int64_t n;
  if (!length(t, x, n)) return false;
  r = Value::integer(n);
  return true;
}

bool u_print(Thread& t, const Value&, Args& a, Value& r) {
  std::string sep = " ";
  for (auto& [k, v] : a.keywords) {
    if (k != "sep" || !v.is(Type::kString))
      return t.fail("print: unexpected keyword argument " + std::string(k));
    sep = v.as<String>()->text;
  }
  std::string line;
  for (std::size_t i = 0; i < a.positional.size(); ++i) {
    if (i) line += sep;
    line += str(a.positional[i]);
  }
  if (t.print) t.print(line);
  r = Value();
  return true;
}

bool u_range(Thread& t, const Value&, Args& a, Value& r) {
  if (!a.keywords.empty()) return t.fail("range: unexpected keyword arguments");
  std::int64_t v[3] = {0, 0, 1};
  std::size_t n = a.positional.size();
  if (n < 1 || n > 3) return t.fail("range: got " + std::to_string(n) + " arguments, want 1 to 3");
  for (std::size_t i = 0; i < n; ++i) {
    if (!want_int(t, "range", a.positional[i], v[i])) return false;
  }
  if (n == 1) {
    v[1] = v[0];
    v[0] = 0;
  }
  if (v[2] == 0) return t.fail("range: step argument must not be zero");
  r = Value::adopt(new Range(v[0], v[1], v[2]));
  return true;
}

bool u_str(Thread& t, const Value&, Args& a, Value& r) {
  Value x;
  if (!unpack(t, "str", a, {{"x", &x}})) return false;
  r = x.is(Type::kString) ? x : make_string(str(x));
  return true;
}

bool u_repr(Thread& t, const Value&, Args& a, Value& r) {
  Value x;
  if (!unpack(t, "repr", a, {{"x", &x}})) return false;
  r = make_string(repr(x));
  return true;
}

bool u_type(Thread& t, const Value&, Args& a, Value& r) {
  Value x;
  if (!unpack(t, "type", a, {{"x", &x}})) return false;
  r = make_string(std::string(type_of(x)));
  return true;
}

bool u_bool(Thread& t, const Value&, Args& a, Value& r) {
  Value x = Value::boolean(false);
  if (!unpack(t, "bool", a, {{"x?", &x}})) return false;
  r = Value::boolean(truth(x));
  return true;
}

/// An integral double as an Int (exact: scaling by 2^32 loses nothing).
Int int_from_double(double f) {
  Int v;
  v.negative = f < 0;
  f = std::fabs(f);
  while (f >= 1) {
    double limb = std::fmod(f, 4294967296.0);
    v.mag.push_back(static_cast<std::uint32_t>(limb));
    f = std::floor(f / 4294967296.0);
  }
  if (v.mag.empty()) v.negative = false;
  return v;
}

bool u_int(Thread& t, const Value&, Args& a, Value& r) {
  Value x = Value::integer(0), base;
  if (!unpack(t, "int", a, {{"x?", &x}, {"base?", &base}})) return false;
  switch (x.type()) {
    case Type::kInt:
    case Type::kBigInt: r = x; return true;
    case Type::kBool: r = Value::integer(x.as_int()); return true;
    case Type::kFloat: {
      double f = std::trunc(x.as_float());
      if (!std::isfinite(f)) return t.fail("int: cannot convert " + repr(x) + " to int");
      r = make_int(int_from_double(f));
      return true;
    }
    case Type::kString: {
      std::int64_t b = 10;
      if (!base.is(Type::kNone) && !want_int(t, "int", base, b)) return false;
      std::string s = x.as<String>()->text;
      s.erase(0, s.find_first_not_of(" \t\n"));
      s.erase(s.find_last_not_of(" \t\n") + 1);
      bool neg = !s.empty() && s[0] == '-';
      std::string digits = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? s.substr(1) : s;
      if (b == 0 || b == 16 || b == 8 || b == 2) {
        if (digits.size() > 2 && digits[0] == '0') {
          char p = static_cast<char>(digits[1] | 0x20);
          int pb = p == 'x' ? 16 : p == 'o' ? 8 : p == 'b' ? 2 : 0;
          if (pb && (b == 0 || b == pb)) {
            b = pb;
            digits = digits.substr(2);
          }
        }
        if (b == 0) b = 10;
      }
      Int v;
      // Each digit is at least one bit: a longer string cannot fit, and is not parsed.
      if (digits.size() > kMaxIntBits + 64)
        return t.fail_limit("int: too many digits (an int has at most " +
                            std::to_string(kMaxIntBits) + " bits)");
      if (b < 2 || b > 36 || !int_parse(digits, static_cast<int>(b), v)) {
        return t.fail("int: invalid literal with base " + std::to_string(b) + ": " + repr(x));
      }
      if (int_too_large(v))
        return t.fail_limit("int too large (more than " + std::to_string(kMaxIntBits) + " bits)");
      r = make_int(neg ? int_neg(v) : v);
      return true;
    }
    default: return t.fail("int: cannot convert " + std::string(type_of(x)) + " to int");
  }
}

bool u_float(Thread& t, const Value&, Args& a, Value& r) {
  Value x = Value::floating(0);
  if (!unpack(t, "float", a, {{"x?", &x}})) return false;
  switch (x.type()) {
    case Type::kFloat: r = x; return true;
    case Type::kInt:
    case Type::kBool: r = Value::floating(static_cast<double>(x.as_int())); return true;
    case Type::kBigInt: {
      double d = int_to_double(x.as<BigInt>()->value);
      if (!std::isfinite(d)) return t.fail("float: int too large to convert to float");
      r = Value::floating(d);
      return true;
    }
    case Type::kString: {
      const std::string& s = x.as<String>()->text;
      char* end = nullptr;
      double f = std::strtod(s.c_str(), &end);
      if (s.empty() || *end != '\0') return t.fail("float: invalid literal: " + repr(x));
      r = Value::floating(f);
      return true;
    }
    default: return t.fail("float: cannot convert " + std::string(type_of(x)) + " to float");
  }
}

bool u_list(Thread& t, const Value&, Args& a, Value& r) {
  Value x;
  if (!unpack(t, "list", a, {{"x?", &x}})) return false;
  std::vector<Value> items;
  if (!x.is(Type::kNone) && !to_vector(t, x, items)) return false;
  r = make_list(std::move(items));
  return true;
}

bool u_tuple(Thread& t, const Value&, Args& a, Value& r) {
  Value x;
  if (!unpack(t, "tuple", a, {{"x?", &x}})) return false;
  std::vector<Value> items;
  if (!x.is(Type::kNone) && !to_vector(t, x, items)) return false;
  r = make_tuple(std::move(items));
  return true;
}

bool update_dict(Thread& t, Dict& d, const Value& pairs, decltype(Args::keywords)& keywords,
                 std::string_view fn) {
  if (pairs.is(Type::kDict)) {
    for (const auto& e : pairs.as<Dict>()->entries) {
      if (!dict_set(t, d, e.key, e.value)) return false;
    }
  } else if (!pairs.is(Type::kNone)) {
    std::vector<Value> items;
    if (!to_vector(t, pairs, items)) return false;
    for (std::size_t i = 0; i < items.size(); ++i) {
      std::vector<Value> kv;
      if (!to_vector(t, items[i], kv) || kv.size() != 2) {
        t.clear_error();
        return t.fail(std::string(fn) + ": element #" + std::to_string(i) + " is not a pair");
      }
      if (!dict_set(t, d, kv[0], kv[1])) return false;
    }
  }
  for (auto& [k, v] : keywords) {
    if (!dict_set(t, d, make_string(std::string(k)), v)) return false;
  }
  return true;
}

bool u_dict(Thread& t, const Value&, Args& a, Value& r) {
  if (a.positional.size() > 1)
    return t.fail("dict: got " + std::to_string(a.positional.size()) +
                  " arguments, want at most 1");
  auto* d = new Dict();
  r = Value::adopt(d);
  return update_dict(t, *d, a.positional.empty() ? Value() : a.positional[0], a.keywords, "dict");
}

bool u_set(Thread& t, const Value&, Args& a, Value& r) {
  Value x;
  if (!unpack(t, "set", a, {{"x?", &x}})) return false;
  auto* s = new Dict(Type::kSet);
  r = Value::adopt(s);
  std::vector<Value> items;
  if (!x.is(Type::kNone) && !to_vector(t, x, items)) return false;
  for (auto& v : items) {
    if (!dict_set(t, *s, v, Value())) return false;
  }
  return true;
}

bool u_enumerate(Thread& t, const Value&, Args& a, Value& r) {
  Value x, start = Value::integer(0);
  if (!unpack(t, "enumerate", a, {{"x", &x}, {"start?", &start}})) return false;
  std::int64_t s;
  if (!want_int(t, "enumerate", start, s)) return false;
  std::vector<Value> items, out;
  if (!to_vector(t, x, items)) return false;
  out.reserve(items.size());
  for (auto& v : items) out.push_back(make_tuple({Value::integer(s++), std::move(v)}));
  r = make_list(std::move(out));
  return true;
}

bool u_zip(Thread& t, const Value&, Args& a, Value& r) {
  if (!a.keywords.empty()) return t.fail("zip: unexpected keyword arguments");
  std::vector<std::vector<Value>> seqs(a.positional.size());
  std::size_t n = SIZE_MAX;
  for (std::size_t i = 0; i < seqs.size(); ++i) {
    if (!to_vector(t, a.positional[i], seqs[i])) return false;
    n = std::min(n, seqs[i].size());
  }
  if (seqs.empty()) n = 0;
  std::vector<Value> out;
  for (std::size_t k = 0; k < n; ++k) {
    std::vector<Value> row;
    for (auto& s : seqs) row.push_back(s[k]);
    out.push_back(make_tuple(std::move(row)));
  }
  r = make_list(std::move(out));
  return true;
}

bool call_key(Thread& t, const Value& key, const Value& v, Value& out) {
  if (key.is(Type::kNone)) {
    out = v;
    return true;
  }
  Args args;
  args.positional.push_back(v);
  return call(t, key, args, out);
}

bool u_sorted(Thread& t, const Value&, Args& a, Value& r) {
  Value x, key, reverse = Value::boolean(false);
  if (!unpack(t, "sorted", a, {{"iterable", &x}, {"key?", &key}, {"reverse?", &reverse}}))
    return false;
  std::vector<Value> items;
  if (!to_vector(t, x, items)) return false;
  std::vector<std::pair<Value, Value>> keyed;
  for (auto& v : items) {
    Value k;
    if (!call_key(t, key, v, k)) return false;
    keyed.emplace_back(std::move(k), std::move(v));
  }
  bool error = false;
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& p, const auto& q) {
    bool lt = false;
    if (error || !less(t, p.first, q.first, lt)) error = true;
    return lt;
  });
  if (error) return false;
  if (truth(reverse)) std::reverse(keyed.begin(), keyed.end());
  std::vector<Value> out;
  for (auto& p : keyed) out.push_back(std::move(p.second));
  r = make_list(std::move(out));
  return true;
}

bool u_reversed(Thread& t, const Value&, Args& a, Value& r) {
  Value x;
  if (!unpack(t, "reversed", a, {{"sequence", &x}})) return false;
  std::vector<Value> items;
  if (!to_vector(t, x, items)) return false;
  std::reverse(items.begin(), items.end());
  r = make_list(std::move(items));
  return true;
}

bool min_max(Thread& t, Args& a, Value& r, bool want_max, const char* fn) {
  Value key;
  for (auto& [k, v] : a.keywords) {
    if (k != "key")
      return t.fail(std::string(fn) + ": unexpected keyword argument " + std::string(k));
    key = v;
  }
  std::vector<Value> items;
  if (a.positional.size() == 1) {
    if (!to_vector(t, a.positional[0], items)) return false;
  } else {
    items.assign(a.positional.begin(), a.positional.end());
  }
  if (items.empty()) return t.fail(std::string(fn) + ": argument is an empty sequence");
  Value best = items[0], best_key;
  if (!call_key(t, key, best, best_key)) return false;
  for (std::size_t i = 1; i < items.size(); ++i) {
    Value k;
    if (!call_key(t, key, items[i], k)) return false;
    bool lt;
    if (!(want_max ? less(t, best_key, k, lt) : less(t, k, best_key, lt))) return false;
    if (lt) {
      best = items[i];
      best_key = std::move(k);
    }
  }
  r = best;
  return true;
}

bool u_min(Thread& t, const Value&, Args& a, Value& r) { return min_max(t, a, r, false, "min"); }
bool u_max(Thread& t, const Value&, Args& a, Value& r) { return min_max(t, a, r, true, "max"); }

bool u_abs(Thread& t, const Value&, Args& a, Value& r) {
  Value x;
  if (!unpack(t, "abs", a, {{"x", &x}})) return false;
  if (x.is(Type::kFloat)) {
    r = Value::floating(std::fabs(x.as_float()));
    return true;
  }
  if (!is_int(x)) return t.fail("abs: got " + std::string(type_of(x)) + ", want int or float");
  Int v = to_int(x);
  v.negative = false;
  r = make_int(std::move(v));
  return true;
}

bool any_all(Thread& t, Args& a, Value& r, bool want_all, const char* fn) {
  Value x;
  if (!unpack(t, fn, a, {{"x", &x}})) return false;
  std::vector<Value> items;
  if (!to_vector(t, x, items)) return false;
  for (const auto& v : items) {
    if (truth(v) != want_all) {
      r = Value::boolean(!want_all);
      return true;
    }
  }
  r = Value::boolean(want_all);
  return true;
}

bool u_any(Thread& t, const Value&, Args& a, Value& r) { return any_all(t, a, r, false, "any"); }
bool u_all(Thread& t, const Value&, Args& a, Value& r) { return any_all(t, a, r, true, "all"); }

bool u_hasattr(Thread& t, const Value&, Args& a, Value& r) {
  Value x, name;
  if (!unpack(t, "hasattr", a, {{"x", &x}, {"name", &name}})) return false;
  const std::string* n;
  if (!want_string(t, "hasattr", name, n)) return false;
  r = Value::boolean(has_attr(x, *n));
  return true;
}

bool u_getattr(Thread& t, const Value&, Args& a, Value& r) {
  Value x, name, dflt;
  bool has_default = a.positional.size() == 3;
  if (!unpack(t, "getattr", a, {{"x", &x}, {"name", &name}, {"default?", &dflt}})) return false;
  const std::string* n;
  if (!want_string(t, "getattr", name, n)) return false;
  if (get_attr(t, x, *n, r)) return true;
  if (!has_default) return false;
  t.clear_error();
  r = dflt;
  return true;
}

bool u_dir(Thread& t, const Value&, Args& a, Value& r) {
  Value x;
  if (!unpack(t, "dir", a, {{"x", &x}})) return false;
  std::vector<std::string> names = attr_names(x);
  std::sort(names.begin(), names.end());
  std::vector<Value> out;
  for (auto& n : names) out.push_back(make_string(std::move(n)));
  r = make_list(std::move(out));
  return true;
}

bool u_fail(Thread& t, const Value&, Args& a, Value&) {
  std::string sep = " ";
  for (auto& [k, v] : a.keywords) {
    if (k != "sep" || !v.is(Type::kString))
      return t.fail("fail: unexpected keyword argument " + std::string(k));
    sep = v.as<String>()->text;
  }
  std::string msg;
  for (std::size_t i = 0; i < a.positional.size(); ++i) {
    if (i) msg += sep;
    msg += str(a.positional[i]);
  }
  return t.fail("fail: " + msg);
}

bool u_hash(Thread& t, const Value&, Args& a, Value& r) {
  Value x;
  if (!unpack(t, "hash", a, {{"x", &x}})) return false;
  std::uint64_t h;
  if (!hash(t, x, h)) return false;
  r = Value::integer(static_cast<std::int32_t>(h));
  return true;
}

bool u_bytes(Thread& t, const Value&, Args& a, Value& r) {
  Value x;
  if (!unpack(t, "bytes", a, {{"x", &x}})) return false;
  if (x.is(Type::kBytes)) {
    r = x;
    return true;
  }
  if (x.is(Type::kString)) {
    r = make_bytes(x.as<String>()->text);
    return true;
  }
  std::vector<Value> items;
  if (!to_vector(t, x, items)) return false;
  std::string out;
  for (const Value& v : items) {
    if (!v.is(Type::kInt) || v.as_int() < 0 || v.as_int() > 255) {
      return t.fail("bytes: element " + repr(v) + " is not a byte value (0-255)");
    }
    out += static_cast<char>(v.as_int());
  }
  r = make_bytes(std::move(out));
  return true;
}

bool b_elems(Thread& t, const Value& self, Args& a, Value& r) {
  if (!no_args(t, "elems", a)) return false;
  std::vector<Value> out;
  for (char c : self.as<String>()->text)
    out.push_back(Value::integer(static_cast<unsigned char>(c)));
  r = make_list(std::move(out));
  return true;
}

bool u_chr(Thread& t, const Value&, Args& a, Value& r) {
  Value x;
  if (!unpack(t, "chr", a, {{"i", &x}})) return false;
  std::int64_t i;
  if (!want_int(t, "chr", x, i)) return false;
  if (i < 0 || i > 0x10FFFF || (i >= 0xD800 && i <= 0xDFFF))
    return t.fail("chr: Unicode code point " + std::to_string(i) + " out of range");
  std::string s;
  auto cp = static_cast<char32_t>(i);
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  r = make_string(std::move(s));
  return true;
}

bool u_ord(Thread& t, const Value&, Args& a, Value& r) {
  Value x;
  if (!unpack(t, "ord", a, {{"c", &x}})) return false;
  const std::string* s;
  if (!want_string(t, "ord", x, s)) return false;
  char32_t cp = 0;
  unsigned char b = s->empty() ? 0 : static_cast<unsigned char>((*s)[0]);
  std::size_t len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : 4;
  if (s->size() != len)
    return t.fail("ord: string encodes " + std::to_string(s->size()) +
                  " bytes, want one character");
  cp = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
  for (std::size_t k = 1; k < len; ++k)
    cp = (cp << 6) | (static_cast<unsigned char>((*s)[k]) & 0x3F);
  r = Value::integer(cp);
  return true;
}

bool u_struct(Thread& t, const Value&, Args& a, Value& r) {
  if (!a.positional.empty()) return t.fail("struct: unexpected positional arguments");
  auto* s = new Struct();
  r = Value::adopt(s);
  for (auto& [k, v] : a.keywords) s->fields.emplace_back(std::string(k), v);
  std::sort(s->fields.begin(), s->fields.end(),
            [](const auto& x, const auto& y) { return x.first < y.first; });
  return true;
}

// ---- list methods -----------------------------------------------------------------------

List* mutable_list(Thread& t, const Value& self, const char* what) {
  auto* l = self.as<List>();
  return check_mutable(t, *l, l->iterating, what) ? l : nullptr;
}

bool l_append(Thread& t, const Value& self, Args& a, Value& r) {
  Value x;
  if (!unpack(t, "append", a, {{"x", &x}})) return false;
  List* l = mutable_list(t, self, "append to");
  if (!l) return false;
  l->items.push_back(std::move(x));
  r = Value();
  return true;
}

bool l_extend(Thread& t, const Value& self, Args& a, Value& r) {
  Value x;
  if (!unpack(t, "extend", a, {{"x", &x}})) return false;
  List* l = mutable_list(t, self, "extend");
  if (!l) return false;
  std::vector<Value> items;
  if (!to_vector(t, x, items)) return false;
  l->items.insert(l->items.end(), items.begin(), items.end());
  r = Value();
  return true;
}

bool l_pop(Thread& t, const Value& self, Args& a, Value& r) {
  Value i;
  if (!unpack(t, "pop", a, {{"i?", &i}})) return false;
  List* l = mutable_list(t, self, "pop from");
  if (!l) return false;
  auto n = static_cast<std::int64_t>(l->items.size());
  std::int64_t k = n - 1;
  if (!i.is(Type::kNone) && !want_int(t, "pop", i, k)) return false;
  if (k < 0) k += n;
  if (k < 0 || k >= n) return t.fail("pop: index " + std::to_string(k) + " out of range");
  r = std::move(l->items[static_cast<std::size_t>(k)]);
  l->items.erase(l->items.begin() + k);
  return true;
}

bool l_insert(Thread& t, const Value& self, Args& a, Value& r) {
  Value i, x;
  if (!unpack(t, "insert", a, {{"index", &i}, {"x", &x}})) return false;
  List* l = mutable_list(t, self, "insert into");
  if (!l) return false;
  std::int64_t k;
  if (!want_int(t, "insert", i, k)) return false;
  auto n = static_cast<std::int64_t>(l->items.size());
  if (k < 0) k += n;
  k = std::clamp<std::int64_t>(k, 0, n);
  l->items.insert(l->items.begin() + k, std::move(x));
  r = Value();
  return true;
}

bool l_remove(Thread& t, const Value& self, Args& a, Value& r) {
  Value x;
  if (!unpack(t, "remove", a, {{"x", &x}})) return false;
  List* l = mutable_list(t, self, "remove from");
  if (!l) return false;
  std::size_t at = 0;
  if (!index_of(t, l->items, x, at)) return false;
  if (at == l->items.size()) return t.fail("remove: element not found");
  l->items.erase(l->items.begin() + static_cast<std::ptrdiff_t>(at));
  r = Value();
  return true;
}

bool l_index(Thread& t, const Value& self, Args& a, Value& r) {
  Value x;
  if (!unpack(t, "index", a, {{"x", &x}})) return false;
  const auto& items = self.as<List>()->items;
  std::size_t at = 0;
  if (!index_of(t, items, x, at)) return false;
  if (at == items.size()) return t.fail("index: value not in list");
  r = Value::integer(static_cast<std::int64_t>(at));
  return true;
}

bool l_clear(Thread& t, const Value& self, Args& a, Value& r) {
  if (!no_args(t, "clear", a)) return false;
  List* l = mutable_list(t, self, "clear");
  if (!l) return false;
  l->items.clear();
  r = Value();
  return true;
}

// ---- dict methods -----------------------------------------------------------------------

bool d_get(Thread& t, const Value& self, Args& a, Value& r) {
  Value k, dflt;
  if (!unpack(t, "get", a, {{"key", &k}, {"default?", &dflt}})) return false;
  bool error = false;
  Value* v = dict_find(t, *self.as<Dict>(), k, error);
  if (error) return false;
  r = v ? *v : dflt;
  return true;
}

bool d_view(Thread& t, const Value& self, Args& a, Value& r, int which) {
  if (!no_args(t, which == 0 ? "keys" : which == 1 ? "values" : "items", a)) return false;
  std::vector<Value> out;
  for (const auto& e : self.as<Dict>()->entries) {
    out.push_back(which == 0 ? e.key : which == 1 ? e.value : make_tuple({e.key, e.value}));
  }
  r = make_list(std::move(out));
  return true;
}
bool d_keys(Thread& t, const Value& self, Args& a, Value& r) { return d_view(t, self, a, r, 0); }
bool d_values(Thread& t, const Value& self, Args& a, Value& r) { return d_view(t, self, a, r, 1); }
bool d_items(Thread& t, const Value& self, Args& a, Value& r) { return d_view(t, self, a, r, 2); }

bool d_pop(Thread& t, const Value& self, Args& a, Value& r) {
  Value k, dflt;
  bool has_default = a.positional.size() == 2;
  if (!unpack(t, "pop", a, {{"key", &k}, {"default?", &dflt}})) return false;
  if (dict_remove(t, *self.as<Dict>(), k, &r)) return true;
  if (t.failed()) return false;
  if (!has_default) return t.fail("pop: missing key " + repr(k));
  r = dflt;
  return true;
}

bool d_setdefault(Thread& t, const Value& self, Args& a, Value& r) {
  Value k, dflt;
  if (!unpack(t, "setdefault", a, {{"key", &k}, {"default?", &dflt}})) return false;
  bool error = false;
  if (Value* v = dict_find(t, *self.as<Dict>(), k, error)) {
    r = *v;
    return true;
  }
  if (error || !dict_set(t, *self.as<Dict>(), k, dflt)) return false;
  r = dflt;
  return true;
}

bool d_update(Thread& t, const Value& self, Args& a, Value& r) {
  if (a.positional.size() > 1)
    return t.fail("update: got " + std::to_string(a.positional.size()) +
                  " arguments, want at most 1");
  r = Value();
  return update_dict(t, *self.as<Dict>(), a.positional.empty() ? Value() : a.positional[0],
                     a.keywords, "update");
}

bool d_clear(Thread& t, const Value& self, Args& a, Value& r) {
  if (!no_args(t, "clear", a)) return false;
  auto* d = self.as<Dict>();
  if (!check_mutable(t, *d, d->iterating, "clear")) return false;
  d->entries.clear();
  d->index.clear();
  r = Value();
  return true;
}

bool d_popitem(Thread& t, const Value& self, Args& a, Value& r) {
  if (!no_args(t, "popitem", a)) return false;
  auto* d = self.as<Dict>();
  if (d->entries.empty()) return t.fail("popitem: empty dict");
  Value key = d->entries.front().key, value;
  if (!dict_remove(t, *d, key, &value)) return false;
  r = make_tuple({key, value});
  return true;
}

// ---- set methods ------------------------------------------------------------------------

Dict* mutable_set(Thread& t, const Value& self, const char* what) {
  auto* d = self.as<Dict>();
  return check_mutable(t, *d, d->iterating, what) ? d : nullptr;
}

bool set_add(Thread& t, const Value& self, Args& a, Value& r) {
  Value x;
  if (!unpack(t, "add", a, {{"x", &x}})) return false;
  Dict* d = mutable_set(t, self, "insert into");
  r = Value();
  return d && dict_set(t, *d, x, Value());
}

bool set_remove_impl(Thread& t, const Value& self, Args& a, Value& r, bool must_exist,
                     const char* fn) {
  Value x;
  if (!unpack(t, fn, a, {{"x", &x}})) return false;
  Dict* d = mutable_set(t, self, "delete from");
  if (!d) return false;
  r = Value();
  if (dict_remove(t, *d, x, nullptr)) return true;
  if (t.failed()) return false;
  return must_exist ? t.fail(std::string(fn) + ": missing key " + repr(x)) : true;
}
bool set_remove(Thread& t, const Value& self, Args& a, Value& r) {
  return set_remove_impl(t, self, a, r, true, "remove");
}
bool set_discard(Thread& t, const Value& self, Args& a, Value& r) {
  return set_remove_impl(t, self, a, r, false, "discard");
}

bool set_pop(Thread& t, const Value& self, Args& a, Value& r) {
  if (!no_args(t, "pop", a)) return false;
  Dict* d = mutable_set(t, self, "pop from");
  if (!d) return false;
  if (d->entries.empty()) return t.fail("pop: empty set");
  r = d->entries.front().key;
  return dict_remove(t, *d, r, nullptr);
}

bool set_clear(Thread& t, const Value& self, Args& a, Value& r) {
  if (!no_args(t, "clear", a)) return false;
  Dict* d = mutable_set(t, self, "clear");
  if (!d) return false;
  d->entries.clear();
  d->index.clear();
  r = Value();
  return true;
}

/// A set built from an iterable argument (for the algebra methods).
bool as_set(Thread& t, const Value& x, Value& out) {
  if (x.is(Type::kSet)) {
    out = x;
    return true;
  }
  std::vector<Value> items;
  if (!to_vector(t, x, items)) return false;
  auto* s = new Dict(Type::kSet);
  out = Value::adopt(s);
  for (auto& v : items) {
    if (!dict_set(t, *s, v, Value())) return false;
  }
  return true;
}

bool set_algebra_method(Thread& t, const Value& self, Args& a, Value& r, ir::Op op,
                        const char* fn) {
  Value x, other;
  if (!unpack(t, fn, a, {{"x", &x}}) || !as_set(t, x, other)) return false;
  return binary(t, op, self, other, r);
}
bool set_union(Thread& t, const Value& self, Args& a, Value& r) {
  return set_algebra_method(t, self, a, r, ir::Op::BITOR, "union");
}
bool set_intersection(Thread& t, const Value& self, Args& a, Value& r) {
  return set_algebra_method(t, self, a, r, ir::Op::BITAND, "intersection");
}
bool set_difference(Thread& t, const Value& self, Args& a, Value& r) {
  return set_algebra_method(t, self, a, r, ir::Op::SUB, "difference");
}
bool set_symmetric_difference(Thread& t, const Value& self, Args& a, Value& r) {
  return set_algebra_method(t, self, a, r, ir::Op::BITXOR, "symmetric_difference");
}

bool set_update(Thread& t, const Value& self, Args& a, Value& r) {
  Value x;
  if (!unpack(t, "update", a, {{"x", &x}})) return false;
  Dict* d = mutable_set(t, self, "insert into");
  if (!d) return false;
  std::vector<Value> items;
  if (!to_vector(t, x, items)) return false;
  for (auto& v : items) {
    if (!dict_set(t, *d, v, Value())) return false;
  }
  r = Value();
  return true;
}

bool set_subset_impl(Thread& t, const Value& self, Args& a, Value& r, bool superset,
                     const char* fn) {
  Value x, other;
  if (!unpack(t, fn, a, {{"x", &x}}) || !as_set(t, x, other)) return false;
  const Dict& small = superset ? *other.as<Dict>() : *self.as<Dict>();
  Dict& big = superset ? *self.as<Dict>() : *other.as<Dict>();
  for (const auto& e : small.entries) {
    bool error = false;
    if (!dict_find(t, big, e.key, error)) {
      r = Value::boolean(false);
      return !error;
    }
  }
  r = Value::boolean(true);
  return true;
}
bool set_issubset(Thread& t, const Value& self, Args& a, Value& r) {
  return set_subset_impl(t, self, a, r, false, "issubset");
}
bool set_issuperset(Thread& t, const Value& self, Args& a, Value& r) {
  return set_subset_impl(t, self, a, r, true, "issuperset");
}

// ---- tables -----------------------------------------------------------------------------

struct Entry {
  std::string_view name;
  NativeFn fn;
};

constexpr Entry kUniverse[] = {
    {"abs", u_abs},         {"all", u_all},       {"any", u_any},
    {"bool", u_bool},       {"bytes", u_bytes},   {"chr", u_chr},
    {"dict", u_dict},       {"dir", u_dir},       {"enumerate", u_enumerate},
    {"fail", u_fail},       {"float", u_float},   {"getattr", u_getattr},
    {"hasattr", u_hasattr}, {"hash", u_hash},     {"int", u_int},
    {"len", u_len},         {"list", u_list},     {"max", u_max},
    {"min", u_min},         {"ord", u_ord},       {"print", u_print},
    {"range", u_range},     {"repr", u_repr},     {"reversed", u_reversed},
    {"set", u_set},         {"sorted", u_sorted}, {"str", u_str},
    {"struct", u_struct},   {"tuple", u_tuple},   {"type", u_type},
    {"zip", u_zip},
};

constexpr Entry kListMethods[] = {
    {"append", l_append}, {"clear", l_clear}, {"extend", l_extend}, {"index", l_index},
    {"insert", l_insert}, {"pop", l_pop},     {"remove", l_remove},
};

constexpr Entry kBytesMethods[] = {
    {"elems", b_elems},
};

constexpr Entry kSetMethods[] = {
    {"add", set_add},
    {"clear", set_clear},
    {"difference", set_difference},
    {"discard", set_discard},
    {"intersection", set_intersection},
    {"issubset", set_issubset},
    {"issuperset", set_issuperset},
    {"pop", set_pop},
    {"remove", set_remove},
    {"symmetric_difference", set_symmetric_difference},
    {"union", set_union},
    {"update", set_update},
};

constexpr Entry kDictMethods[] = {
    {"clear", d_clear},
    {"get", d_get},
    {"items", d_items},
    {"keys", d_keys},
    {"pop", d_pop},
    {"popitem", d_popitem},
    {"setdefault", d_setdefault},
    {"update", d_update},
    {"values", d_values},
};

template <std::size_t N>
NativeFn lookup(const Entry (&table)[N], std::string_view name) {
  for (const Entry& e : table) {
    if (e.name == name) return e.fn;
  }
  return nullptr;
}

template <std::size_t N>
std::vector<std::string> names_of(const Entry (&table)[N]) {
  std::vector<std::string> out;
  for (const Entry& e : table) out.emplace_back(e.name);
  return out;
}

}  // namespace

NativeFn find_method(Type type, std::string_view name) {
  switch (type) {
    case Type::kString: return find_string_method(name);
    case Type::kList: return lookup(kListMethods, name);
    case Type::kDict: return lookup(kDictMethods, name);
    case Type::kSet: return lookup(kSetMethods, name);
    case Type::kBytes: return lookup(kBytesMethods, name);
    default: return nullptr;
  }
}

std::vector<std::string> method_names(Type type) {
  switch (type) {
    case Type::kString: return string_method_names();
    case Type::kList: return names_of(kListMethods);
    case Type::kDict: return names_of(kDictMethods);
    case Type::kSet: return names_of(kSetMethods);
    case Type::kBytes: return names_of(kBytesMethods);
    default: return {};
  }
}

const Value* unbound_method(Type type, std::string_view name) {
  // Built once, read-only afterwards: one frozen Builtin per method of each type.
  // The table is never destroyed: its immortal objects stay reachable until exit.
  static const auto& table = *new std::map<std::pair<Type, std::string>, Value, std::less<>>([] {
    std::map<std::pair<Type, std::string>, Value, std::less<>> m;
    for (Type t : {Type::kString, Type::kBytes, Type::kList, Type::kDict, Type::kSet}) {
      for (const std::string& n : method_names(t)) {
        auto* b = new Builtin(n, find_method(t, n));
        b->unbound_method = true;
        b->frozen = true;
        b->immortal = true;
        m.emplace(std::make_pair(t, n), Value::adopt(b));
      }
    }
    return m;
  }());
  auto it = table.find(std::make_pair(type, std::string(name)));
  return it == table.end() ? nullptr : &it->second;
}

Value universe_value(std::string_view name) {
  // Builtins are immutable and shared: create each once.
  static const auto& cache = *new std::map<std::string_view, Value>([] {
    std::map<std::string_view, Value> m;
    for (const Entry& e : kUniverse) {
      Value v = Value::adopt(new Builtin(std::string(e.name), e.fn));
      v.object()->frozen = true;
      v.object()->immortal = true;
      m.emplace(e.name, std::move(v));
    }
    return m;
  }());
  auto it = cache.find(name);
  return it == cache.end() ? Value() : it->second;
}

// ---- % formatting -----------------------------------------------------------------------

bool format_percent(Thread& thread, const std::string& format, const Value& args, Value& out) {
  // The arguments: a tuple's items, or the single value itself (no copies).
  const Value* values = &args;
  std::size_t value_count = 1;
  if (args.is(Type::kTuple)) {
    values = args.as<List>()->items.data();
    value_count = args.as<List>()->items.size();
  }
  std::size_t next_arg = 0;
  bool used_mapping = false;
  std::string r;
  for (std::size_t i = 0; i < format.size(); ++i) {
    char c = format[i];
    if (c != '%') {
      r += c;
      continue;
    }
    if (++i >= format.size()) return thread.fail("incomplete format");
    const Value* v = nullptr;
    if (format[i] == '(') {
      std::size_t close = format.find(')', i);
      if (close == std::string::npos) return thread.fail("incomplete format key");
      if (!args.is(Type::kDict)) return thread.fail("format requires a mapping");
      bool error = false;
      Value key = make_string(format.substr(i + 1, close - i - 1));
      v = dict_find(thread, *args.as<Dict>(), key, error);
      if (!v) return thread.fail("key " + repr(key) + " not found");
      used_mapping = true;
      i = close + 1;
      if (i >= format.size()) return thread.fail("incomplete format");
    }
    char conv = format[i];
    if (conv == '%') {
      r += '%';
      continue;
    }
    if (!v) {
      if (next_arg >= value_count) return thread.fail("not enough arguments for format string");
      v = &values[next_arg++];
    }
    char buf[64];
    switch (conv) {
      case 's': r += str(*v); break;
      case 'r': r += repr(*v); break;
      case 'd':
      case 'i':
      case 'x':
      case 'X':
      case 'o': {
        int base = conv == 'x' || conv == 'X' ? 16 : conv == 'o' ? 8 : 10;
        if (v->is(Type::kBigInt)) {
          std::string digits = int_to_string(v->as<BigInt>()->value, base);
          if (conv == 'X')
            std::transform(digits.begin(), digits.end(), digits.begin(),
                           [](char ch) { return static_cast<char>(std::toupper(ch)); });
          r += digits;
          break;
        }
        std::int64_t n;
        if (v->is(Type::kInt) || v->is(Type::kBool)) {
          n = v->as_int();
        } else if (v->is(Type::kFloat)) {
          n = static_cast<std::int64_t>(v->as_float());
        } else {
          return thread.fail("%" + std::string(1, conv) +
                             " format requires integer: " + std::string(type_of(*v)));
        }
        if (n < 0) r += '-';
        // Magnitude as unsigned, so INT64_MIN works too.
        std::uint64_t magnitude =
            n < 0 ? 0 - static_cast<std::uint64_t>(n) : static_cast<std::uint64_t>(n);
        auto [end, ec] = std::to_chars(buf, buf + sizeof buf, magnitude, base);
        if (conv == 'X')
          std::transform(buf, end, buf,
                         [](char ch) { return static_cast<char>(std::toupper(ch)); });
        r.append(buf, end);
        break;
      }
      case 'e':
      case 'f':
      case 'g':
      case 'E':
      case 'F':
      case 'G': {
        if (!v->is(Type::kFloat) && !v->is(Type::kInt))
          return thread.fail("%" + std::string(1, conv) + " format requires float");
        double d = v->is(Type::kInt) ? static_cast<double>(v->as_int()) : v->as_float();
        char f[4] = {'%', conv, 0, 0};
        std::snprintf(buf, sizeof buf, f, d);
        r += buf;
        break;
      }
      case 'c': {
        if (v->is(Type::kString)) {
          r += v->as<String>()->text;
        } else if (v->is(Type::kInt)) {
          Args a;
          a.positional.push_back(*v);
          Value ch;
          if (!u_chr(thread, Value(), a, ch)) return false;
          r += ch.as<String>()->text;
        } else {
          return thread.fail("%c format requires a single-character string or an int");
        }
        break;
      }
      default: return thread.fail("unknown conversion %" + std::string(1, conv));
    }
  }
  if (!used_mapping && next_arg < value_count)
    return thread.fail("too many arguments for format string");
  out = make_string(std::move(r));
  return true;
}

}  // namespace fb::vm
