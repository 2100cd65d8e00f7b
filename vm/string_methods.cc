// The methods of string values: one small native function each, and their table.
#include <algorithm>
#include <cctype>

#include "vm/methods.h"
#include "vm/ops.h"

namespace fb::vm {
namespace {

// ---- string methods ---------------------------------------------------------------------

const std::string& text(const Value& self) { return self.as<String>()->text; }

bool s_join(Thread& t, const Value& self, Args& a, Value& r) {
  Value x;
  if (!unpack(t, "join", a, {{"iterable", &x}})) return false;
  std::vector<Value> items;
  if (!to_vector(t, x, items)) return false;
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (!items[i].is(Type::kString))
      return t.fail("join: in list, want string, got " + std::string(type_of(items[i])));
    if (i) out += text(self);
    out += text(items[i]);
  }
  r = make_string(std::move(out));
  return true;
}

bool s_case(Thread& t, const Value& self, Args& a, Value& r, bool upper) {
  if (!no_args(t, upper ? "upper" : "lower", a)) return false;
  std::string s = text(self);
  for (char& c : s)
    c = static_cast<char>(upper ? std::toupper(static_cast<unsigned char>(c))
                                : std::tolower(static_cast<unsigned char>(c)));
  r = make_string(std::move(s));
  return true;
}
bool s_upper(Thread& t, const Value& self, Args& a, Value& r) {
  return s_case(t, self, a, r, true);
}
bool s_lower(Thread& t, const Value& self, Args& a, Value& r) {
  return s_case(t, self, a, r, false);
}

bool s_strip_impl(Thread& t, const Value& self, Args& a, Value& r, bool left, bool right,
                  const char* fn) {
  Value chars;
  if (!unpack(t, fn, a, {{"cutset?", &chars}})) return false;
  std::string set = " \t\n\r\v\f";
  if (!chars.is(Type::kNone)) {
    const std::string* c;
    if (!want_string(t, fn, chars, c)) return false;
    set = *c;
  }
  const std::string& s = text(self);
  std::size_t b = left ? s.find_first_not_of(set) : 0;
  if (b == std::string::npos) {
    r = make_string("");
    return true;
  }
  std::size_t e = right ? s.find_last_not_of(set) + 1 : s.size();
  r = make_string(s.substr(b, e - b));
  return true;
}
bool s_strip(Thread& t, const Value& self, Args& a, Value& r) {
  return s_strip_impl(t, self, a, r, true, true, "strip");
}
bool s_lstrip(Thread& t, const Value& self, Args& a, Value& r) {
  return s_strip_impl(t, self, a, r, true, false, "lstrip");
}
bool s_rstrip(Thread& t, const Value& self, Args& a, Value& r) {
  return s_strip_impl(t, self, a, r, false, true, "rstrip");
}

bool s_split(Thread& t, const Value& self, Args& a, Value& r) {
  Value sep, maxsplit = Value::integer(-1);
  if (!unpack(t, "split", a, {{"sep?", &sep}, {"maxsplit?", &maxsplit}})) return false;
  std::int64_t max;
  if (!want_int(t, "split", maxsplit, max)) return false;
  const std::string& s = text(self);
  std::vector<Value> out;
  if (sep.is(Type::kNone)) {
    std::size_t i = 0;
    while (true) {
      i = s.find_first_not_of(" \t\n\r\v\f", i);
      if (i == std::string::npos) break;
      if (max >= 0 && static_cast<std::int64_t>(out.size()) == max) {
        std::string rest = s.substr(i);
        rest.erase(rest.find_last_not_of(" \t\n\r\v\f") + 1);
        out.push_back(make_string(rest));
        break;
      }
      std::size_t j = s.find_first_of(" \t\n\r\v\f", i);
      out.push_back(make_string(s.substr(i, j == std::string::npos ? std::string::npos : j - i)));
      if (j == std::string::npos) break;
      i = j;
    }
  } else {
    const std::string* d;
    if (!want_string(t, "split", sep, d)) return false;
    if (d->empty()) return t.fail("split: empty separator");
    std::size_t i = 0;
    while (true) {
      std::size_t j = s.find(*d, i);
      if (j == std::string::npos || (max >= 0 && static_cast<std::int64_t>(out.size()) == max)) {
        out.push_back(make_string(s.substr(i)));
        break;
      }
      out.push_back(make_string(s.substr(i, j - i)));
      i = j + d->size();
    }
  }
  r = make_list(std::move(out));
  return true;
}

bool s_replace(Thread& t, const Value& self, Args& a, Value& r) {
  Value old_v, new_v, count = Value::integer(-1);
  if (!unpack(t, "replace", a, {{"old", &old_v}, {"new", &new_v}, {"count?", &count}}))
    return false;
  const std::string *o, *n;
  std::int64_t c;
  if (!want_string(t, "replace", old_v, o) || !want_string(t, "replace", new_v, n) ||
      !want_int(t, "replace", count, c))
    return false;
  const std::string& s = text(self);
  std::string out;
  std::size_t i = 0;
  std::int64_t done = 0;
  while (c < 0 || done < c) {
    std::size_t j = o->empty() ? (i <= s.size() ? i : std::string::npos) : s.find(*o, i);
    if (j == std::string::npos) break;
    out += s.substr(i, j - i) + *n;
    ++done;
    if (o->empty()) {
      if (j < s.size()) out += s[j];
      i = j + 1;
      if (i > s.size()) break;
    } else {
      i = j + o->size();
    }
  }
  if (i < s.size()) out += s.substr(i);
  r = make_string(std::move(out));
  return true;
}

bool s_affix(Thread& t, const Value& self, Args& a, Value& r, bool starts, const char* fn) {
  Value x;
  if (!unpack(t, fn, a, {{"x", &x}})) return false;
  std::vector<Value> options;
  if (x.is(Type::kTuple)) {
    options = x.as<List>()->items;
  } else {
    options.push_back(x);
  }
  for (const Value& opt : options) {
    const std::string* p;
    if (!want_string(t, fn, opt, p)) return false;
    if (starts ? text(self).starts_with(*p) : text(self).ends_with(*p)) {
      r = Value::boolean(true);
      return true;
    }
  }
  r = Value::boolean(false);
  return true;
}
bool s_startswith(Thread& t, const Value& self, Args& a, Value& r) {
  return s_affix(t, self, a, r, true, "startswith");
}
bool s_endswith(Thread& t, const Value& self, Args& a, Value& r) {
  return s_affix(t, self, a, r, false, "endswith");
}

bool s_find_impl(Thread& t, const Value& self, Args& a, Value& r, bool reverse, bool strict,
                 const char* fn) {
  Value sub;
  if (!unpack(t, fn, a, {{"sub", &sub}})) return false;
  const std::string* p;
  if (!want_string(t, fn, sub, p)) return false;
  std::size_t at = reverse ? text(self).rfind(*p) : text(self).find(*p);
  if (at == std::string::npos && strict) return t.fail(std::string(fn) + ": substring not found");
  r = Value::integer(at == std::string::npos ? -1 : static_cast<std::int64_t>(at));
  return true;
}
bool s_find(Thread& t, const Value& self, Args& a, Value& r) {
  return s_find_impl(t, self, a, r, false, false, "find");
}
bool s_rfind(Thread& t, const Value& self, Args& a, Value& r) {
  return s_find_impl(t, self, a, r, true, false, "rfind");
}
bool s_index(Thread& t, const Value& self, Args& a, Value& r) {
  return s_find_impl(t, self, a, r, false, true, "index");
}
bool s_rindex(Thread& t, const Value& self, Args& a, Value& r) {
  return s_find_impl(t, self, a, r, true, true, "rindex");
}

bool s_count(Thread& t, const Value& self, Args& a, Value& r) {
  Value sub;
  if (!unpack(t, "count", a, {{"sub", &sub}})) return false;
  const std::string* p;
  if (!want_string(t, "count", sub, p)) return false;
  std::int64_t n = 0;
  if (p->empty()) {
    n = static_cast<std::int64_t>(text(self).size()) + 1;
  } else {
    for (std::size_t i = text(self).find(*p); i != std::string::npos;
         i = text(self).find(*p, i + p->size()))
      ++n;
  }
  r = Value::integer(n);
  return true;
}

bool s_elems(Thread& t, const Value& self, Args& a, Value& r) {
  if (!no_args(t, "elems", a)) return false;
  std::vector<Value> out;
  for (char c : text(self)) out.push_back(make_string(std::string(1, c)));
  r = make_list(std::move(out));
  return true;
}

bool s_format(Thread& t, const Value& self, Args& a, Value& r) {
  const std::string& f = text(self);
  std::string out;
  std::size_t auto_index = 0;
  enum class Numbering { kNone, kAutomatic, kManual } numbering = Numbering::kNone;
  for (std::size_t i = 0; i < f.size(); ++i) {
    char c = f[i];
    if (c == '}') {
      if (i + 1 < f.size() && f[i + 1] == '}') {
        out += '}';
        ++i;
        continue;
      }
      return t.fail("format: single '}' in format");
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (i + 1 < f.size() && f[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    std::size_t close = f.find('}', i);
    if (close == std::string::npos) return t.fail("format: unmatched '{' in format");
    std::string field = f.substr(i + 1, close - i - 1);
    bool as_repr = false;
    if (field.ends_with("!r")) {
      as_repr = true;
      field.resize(field.size() - 2);
    } else if (field.ends_with("!s")) {
      field.resize(field.size() - 2);
    }
    const Value* v = nullptr;
    if (field.empty()) {
      if (numbering == Numbering::kManual) {
        return t.fail(
            "format: cannot switch from manual field specification to automatic field numbering");
      }
      numbering = Numbering::kAutomatic;
      if (auto_index >= a.positional.size())
        return t.fail("format: index " + std::to_string(auto_index) + " out of range");
      v = &a.positional[auto_index++];
    } else if (std::all_of(field.begin(), field.end(), ::isdigit)) {
      if (numbering == Numbering::kAutomatic) {
        return t.fail(
            "format: cannot switch from automatic field numbering to manual field specification");
      }
      numbering = Numbering::kManual;
      std::size_t k = field.size() > 9 ? SIZE_MAX : std::stoul(field);
      if (k >= a.positional.size()) return t.fail("format: index " + field + " out of range");
      v = &a.positional[k];
    } else {
      for (auto& [k, val] : a.keywords) {
        if (k == field) v = &val;
      }
      if (!v) return t.fail("format: keyword " + field + " not found");
    }
    out += as_repr ? repr(*v) : str(*v);
    i = close;
  }
  r = make_string(std::move(out));
  return true;
}

bool s_capitalize(Thread& t, const Value& self, Args& a, Value& r) {
  if (!no_args(t, "capitalize", a)) return false;
  std::string s = text(self);
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    s[i] = static_cast<char>(i == 0 ? std::toupper(c) : std::tolower(c));
  }
  r = make_string(std::move(s));
  return true;
}

bool s_title(Thread& t, const Value& self, Args& a, Value& r) {
  if (!no_args(t, "title", a)) return false;
  std::string s = text(self);
  bool previous_letter = false;
  for (char& ch : s) {
    auto c = static_cast<unsigned char>(ch);
    ch = static_cast<char>(previous_letter ? std::tolower(c) : std::toupper(c));
    previous_letter = std::isalpha(c) != 0;
  }
  r = make_string(std::move(s));
  return true;
}

/// isalnum, isalpha, isdigit, isspace: true for a non-empty string of such characters.
template <int (*Class)(int)>
bool s_is_class(Thread& t, const Value& self, Args& a, Value& r, const char* fn) {
  if (!no_args(t, fn, a)) return false;
  const std::string& s = text(self);
  r = Value::boolean(!s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return Class(static_cast<unsigned char>(c)) != 0;
  }));
  return true;
}
bool s_isalnum(Thread& t, const Value& self, Args& a, Value& r) {
  return s_is_class<std::isalnum>(t, self, a, r, "isalnum");
}
bool s_isalpha(Thread& t, const Value& self, Args& a, Value& r) {
  return s_is_class<std::isalpha>(t, self, a, r, "isalpha");
}
bool s_isdigit(Thread& t, const Value& self, Args& a, Value& r) {
  return s_is_class<std::isdigit>(t, self, a, r, "isdigit");
}
bool s_isspace(Thread& t, const Value& self, Args& a, Value& r) {
  return s_is_class<std::isspace>(t, self, a, r, "isspace");
}

/// islower / isupper: at least one cased character, and none of the other case.
bool s_is_case(Thread& t, const Value& self, Args& a, Value& r, bool upper, const char* fn) {
  if (!no_args(t, fn, a)) return false;
  bool cased = false, wrong = false;
  for (char ch : text(self)) {
    auto c = static_cast<unsigned char>(ch);
    if (std::isupper(c)) (upper ? cased : wrong) = true;
    if (std::islower(c)) (upper ? wrong : cased) = true;
  }
  r = Value::boolean(cased && !wrong);
  return true;
}
bool s_islower(Thread& t, const Value& self, Args& a, Value& r) {
  return s_is_case(t, self, a, r, false, "islower");
}
bool s_isupper(Thread& t, const Value& self, Args& a, Value& r) {
  return s_is_case(t, self, a, r, true, "isupper");
}

bool s_istitle(Thread& t, const Value& self, Args& a, Value& r) {
  if (!no_args(t, "istitle", a)) return false;
  bool cased = false, previous_cased = false;
  for (char ch : text(self)) {
    auto c = static_cast<unsigned char>(ch);
    if (std::isupper(c)) {
      if (previous_cased) return r = Value::boolean(false), true;
      previous_cased = cased = true;
    } else if (std::islower(c)) {
      if (!previous_cased) return r = Value::boolean(false), true;
      cased = true;
    } else {
      previous_cased = false;
    }
  }
  r = Value::boolean(cased);
  return true;
}

bool s_affix_remove(Thread& t, const Value& self, Args& a, Value& r, bool prefix, const char* fn) {
  Value x;
  if (!unpack(t, fn, a, {{"x", &x}})) return false;
  const std::string* p;
  if (!want_string(t, fn, x, p)) return false;
  const std::string& s = text(self);
  if (prefix ? s.starts_with(*p) : s.ends_with(*p)) {
    r = make_string(prefix ? s.substr(p->size()) : s.substr(0, s.size() - p->size()));
  } else {
    r = self;
  }
  return true;
}
bool s_removeprefix(Thread& t, const Value& self, Args& a, Value& r) {
  return s_affix_remove(t, self, a, r, true, "removeprefix");
}
bool s_removesuffix(Thread& t, const Value& self, Args& a, Value& r) {
  return s_affix_remove(t, self, a, r, false, "removesuffix");
}

bool s_partition_impl(Thread& t, const Value& self, Args& a, Value& r, bool reverse,
                      const char* fn) {
  Value sep;
  if (!unpack(t, fn, a, {{"x", &sep}})) return false;
  const std::string* p;
  if (!want_string(t, fn, sep, p)) return false;
  if (p->empty()) return t.fail(std::string(fn) + ": empty separator");
  const std::string& s = text(self);
  std::size_t at = reverse ? s.rfind(*p) : s.find(*p);
  if (at == std::string::npos) {
    r = reverse ? make_tuple({make_string(""), make_string(""), self})
                : make_tuple({self, make_string(""), make_string("")});
  } else {
    r = make_tuple({make_string(s.substr(0, at)), sep, make_string(s.substr(at + p->size()))});
  }
  return true;
}
bool s_partition(Thread& t, const Value& self, Args& a, Value& r) {
  return s_partition_impl(t, self, a, r, false, "partition");
}
bool s_rpartition(Thread& t, const Value& self, Args& a, Value& r) {
  return s_partition_impl(t, self, a, r, true, "rpartition");
}

bool s_rsplit(Thread& t, const Value& self, Args& a, Value& r) {
  Value sep, maxsplit = Value::integer(-1);
  if (!unpack(t, "rsplit", a, {{"sep?", &sep}, {"maxsplit?", &maxsplit}})) return false;
  std::int64_t max;
  if (!want_int(t, "rsplit", maxsplit, max)) return false;
  if (sep.is(Type::kNone) || max < 0) {
    Args forward;
    forward.positional.push_back(sep);
    forward.positional.push_back(maxsplit);
    return s_split(t, self, forward, r);
  }
  const std::string* d;
  if (!want_string(t, "rsplit", sep, d)) return false;
  if (d->empty()) return t.fail("rsplit: empty separator");
  const std::string& s = text(self);
  std::vector<Value> out;
  std::size_t end = s.size();
  while (static_cast<std::int64_t>(out.size()) < max) {
    std::size_t at = end >= d->size() ? s.rfind(*d, end - d->size()) : std::string::npos;
    if (at == std::string::npos) break;
    out.push_back(make_string(s.substr(at + d->size(), end - at - d->size())));
    end = at;
  }
  out.push_back(make_string(s.substr(0, end)));
  std::reverse(out.begin(), out.end());
  r = make_list(std::move(out));
  return true;
}

bool s_splitlines(Thread& t, const Value& self, Args& a, Value& r) {
  Value keep = Value::boolean(false);
  if (!unpack(t, "splitlines", a, {{"keepends?", &keep}})) return false;
  const std::string& s = text(self);
  std::vector<Value> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\n' && s[i] != '\r') continue;
    std::size_t end = i;
    if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
    out.push_back(make_string(s.substr(start, (truth(keep) ? i + 1 : end) - start)));
    start = i + 1;
  }
  if (start < s.size()) out.push_back(make_string(s.substr(start)));
  r = make_list(std::move(out));
  return true;
}

/// Code points of a UTF-8 string (invalid bytes count as U+FFFD, as starlark-go does).
std::vector<char32_t> code_points(const std::string& s) {
  std::vector<char32_t> out;
  for (std::size_t i = 0; i < s.size();) {
    auto b = static_cast<unsigned char>(s[i]);
    std::size_t len = b < 0x80         ? 1
                      : (b >> 5) == 6  ? 2
                      : (b >> 4) == 14 ? 3
                      : (b >> 3) == 30 ? 4
                                       : 0;
    char32_t cp = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
    bool ok = len != 0 && i + len <= s.size();
    for (std::size_t k = 1; ok && k < len; ++k) {
      auto c = static_cast<unsigned char>(s[i + k]);
      ok = (c & 0xC0) == 0x80;
      cp = (cp << 6) | (c & 0x3F);
    }
    out.push_back(ok ? cp : 0xFFFD);
    i += ok ? len : 1;
  }
  return out;
}

bool s_codepoint_ords(Thread& t, const Value& self, Args& a, Value& r) {
  if (!no_args(t, "codepoint_ords", a)) return false;
  std::vector<Value> out;
  for (char32_t cp : code_points(text(self))) out.push_back(Value::integer(cp));
  r = make_list(std::move(out));
  return true;
}

bool s_codepoints(Thread& t, const Value& self, Args& a, Value& r) {
  if (!no_args(t, "codepoints", a)) return false;
  std::vector<Value> out;
  const std::string& s = text(self);
  for (std::size_t i = 0; i < s.size();) {
    auto b = static_cast<unsigned char>(s[i]);
    std::size_t len = b < 0x80         ? 1
                      : (b >> 5) == 6  ? 2
                      : (b >> 4) == 14 ? 3
                      : (b >> 3) == 30 ? 4
                                       : 1;
    len = std::min(len, s.size() - i);
    out.push_back(make_string(s.substr(i, len)));
    i += len;
  }
  r = make_list(std::move(out));
  return true;
}

bool s_elem_ords(Thread& t, const Value& self, Args& a, Value& r) {
  if (!no_args(t, "elem_ords", a)) return false;
  std::vector<Value> out;
  for (char c : text(self)) out.push_back(Value::integer(static_cast<unsigned char>(c)));
  r = make_list(std::move(out));
  return true;
}

struct Entry {
  std::string_view name;
  NativeFn fn;
};

constexpr Entry kStringMethods[] = {
    {"capitalize", s_capitalize},
    {"codepoint_ords", s_codepoint_ords},
    {"codepoints", s_codepoints},
    {"elem_ords", s_elem_ords},
    {"isalnum", s_isalnum},
    {"isalpha", s_isalpha},
    {"isdigit", s_isdigit},
    {"islower", s_islower},
    {"isspace", s_isspace},
    {"istitle", s_istitle},
    {"isupper", s_isupper},
    {"partition", s_partition},
    {"removeprefix", s_removeprefix},
    {"removesuffix", s_removesuffix},
    {"rpartition", s_rpartition},
    {"rsplit", s_rsplit},
    {"splitlines", s_splitlines},
    {"title", s_title},
    {"count", s_count},
    {"elems", s_elems},
    {"endswith", s_endswith},
    {"find", s_find},
    {"format", s_format},
    {"index", s_index},
    {"join", s_join},
    {"lower", s_lower},
    {"lstrip", s_lstrip},
    {"replace", s_replace},
    {"rfind", s_rfind},
    {"rindex", s_rindex},
    {"rstrip", s_rstrip},
    {"split", s_split},
    {"startswith", s_startswith},
    {"strip", s_strip},
    {"upper", s_upper},
};

}  // namespace

NativeFn find_string_method(std::string_view name) {
  for (const Entry& e : kStringMethods) {
    if (e.name == name) return e.fn;
  }
  return nullptr;
}

std::vector<std::string> string_method_names() {
  std::vector<std::string> names;
  for (const Entry& e : kStringMethods) names.emplace_back(e.name);
  return names;
}

}  // namespace fb::vm
