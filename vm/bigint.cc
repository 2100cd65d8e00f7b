#include "vm/bigint.h"

#include <algorithm>
#include <cmath>

namespace fb::vm {
namespace {

using Mag = std::vector<std::uint32_t>;

void trim(Mag& m) {
  while (!m.empty() && m.back() == 0) m.pop_back();
}

int compare_mag(const Mag& a, const Mag& b) {
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  for (std::size_t i = a.size(); i-- > 0;) {
    if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return 0;
}

Mag add_mag(const Mag& a, const Mag& b) {
  Mag r(std::max(a.size(), b.size()) + 1, 0);
  std::uint64_t carry = 0;
  for (std::size_t i = 0; i < r.size(); ++i) {
    std::uint64_t s = carry + (i < a.size() ? a[i] : 0) + (i < b.size() ? b[i] : 0);
    r[i] = static_cast<std::uint32_t>(s);
    carry = s >> 32;
  }
  trim(r);
  return r;
}

/// a - b for |a| >= |b|.
Mag sub_mag(const Mag& a, const Mag& b) {
  Mag r(a.size(), 0);
  std::int64_t borrow = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    std::int64_t d = static_cast<std::int64_t>(a[i]) - (i < b.size() ? b[i] : 0) - borrow;
    borrow = d < 0 ? 1 : 0;
    r[i] = static_cast<std::uint32_t>(d + (borrow << 32));
  }
  trim(r);
  return r;
}

Mag mul_mag(const Mag& a, const Mag& b) {
  if (a.empty() || b.empty()) return {};
  Mag r(a.size() + b.size(), 0);
  for (std::size_t i = 0; i < a.size(); ++i) {
    std::uint64_t carry = 0;
    for (std::size_t j = 0; j < b.size(); ++j) {
      std::uint64_t t = static_cast<std::uint64_t>(a[i]) * b[j] + r[i + j] + carry;
      r[i + j] = static_cast<std::uint32_t>(t);
      carry = t >> 32;
    }
    r[i + b.size()] = static_cast<std::uint32_t>(carry);
  }
  trim(r);
  return r;
}

/// Long division by a single limb; returns the remainder.
std::uint32_t divmod_small(Mag& a, std::uint32_t d) {
  std::uint64_t rem = 0;
  for (std::size_t i = a.size(); i-- > 0;) {
    std::uint64_t cur = (rem << 32) | a[i];
    a[i] = static_cast<std::uint32_t>(cur / d);
    rem = cur % d;
  }
  trim(a);
  return static_cast<std::uint32_t>(rem);
}

Mag shl_mag(const Mag& a, std::uint64_t n) {
  if (a.empty()) return {};
  std::size_t limbs = n / 32, bits = n % 32;
  Mag r(a.size() + limbs + 1, 0);
  for (std::size_t i = 0; i < a.size(); ++i) {
    std::uint64_t v = static_cast<std::uint64_t>(a[i]) << bits;
    r[i + limbs] |= static_cast<std::uint32_t>(v);
    r[i + limbs + 1] |= static_cast<std::uint32_t>(v >> 32);
  }
  trim(r);
  return r;
}

Mag shr_mag(const Mag& a, std::uint64_t n) {
  std::size_t limbs = n / 32, bits = n % 32;
  if (limbs >= a.size()) return {};
  Mag r(a.size() - limbs, 0);
  for (std::size_t i = 0; i < r.size(); ++i) {
    std::uint64_t v = a[i + limbs];
    if (i + limbs + 1 < a.size()) v |= static_cast<std::uint64_t>(a[i + limbs + 1]) << 32;
    r[i] = static_cast<std::uint32_t>(v >> bits);
  }
  trim(r);
  return r;
}

/// Schoolbook division of magnitudes (bit by bit over limbs; specs' big numbers are
/// small, so clarity wins over Knuth's algorithm D).
void divmod_mag(const Mag& a, const Mag& b, Mag& q, Mag& r) {
  if (compare_mag(a, b) < 0) {
    q.clear();
    r = a;
    return;
  }
  if (b.size() == 1) {
    q = a;
    std::uint32_t rem = divmod_small(q, b[0]);
    r = rem ? Mag{rem} : Mag{};
    return;
  }
  q.assign(a.size(), 0);
  r.clear();
  for (std::size_t i = a.size() * 32; i-- > 0;) {
    r = shl_mag(r, 1);
    if ((a[i / 32] >> (i % 32)) & 1) {
      if (r.empty()) r.push_back(0);
      r[0] |= 1;
    }
    if (compare_mag(r, b) >= 0) {
      r = sub_mag(r, b);
      q[i / 32] |= 1u << (i % 32);
    }
  }
  trim(q);
}

Int make(bool negative, Mag mag) {
  trim(mag);
  Int r;
  r.negative = negative && !mag.empty();
  r.mag = std::move(mag);
  return r;
}

/// Two's complement limbs of `a`, `size` limbs wide (enough for the sign).
Mag to_twos(const Int& a, std::size_t size) {
  Mag m = a.mag;
  m.resize(size, 0);
  if (!a.negative) return m;
  for (auto& limb : m) limb = ~limb;
  for (auto& limb : m) {  // + 1
    if (++limb != 0) break;
  }
  return m;
}

Int from_twos(Mag m) {
  bool negative = !m.empty() && (m.back() & 0x80000000u);
  if (negative) {
    for (auto& limb : m) limb = ~limb;
    for (auto& limb : m) {
      if (++limb != 0) break;
    }
  }
  return make(negative, std::move(m));
}

template <typename F>
Int bitwise(const Int& a, const Int& b, F f) {
  std::size_t size = std::max(a.mag.size(), b.mag.size()) + 1;
  Mag x = to_twos(a, size), y = to_twos(b, size);
  for (std::size_t i = 0; i < size; ++i) x[i] = f(x[i], y[i]);
  return from_twos(std::move(x));
}

}  // namespace

Int Int::from(std::int64_t v) {
  std::uint64_t m = v < 0 ? 0 - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v);
  Mag mag;
  if (m) mag.push_back(static_cast<std::uint32_t>(m));
  if (m >> 32) mag.push_back(static_cast<std::uint32_t>(m >> 32));
  return make(v < 0, std::move(mag));
}

Int to_int(const Value& v) {
  return v.is(Type::kBigInt) ? v.as<BigInt>()->value : Int::from(v.as_int());
}

Value make_int(Int v) {
  if (v.mag.size() <= 2) {
    std::uint64_t m = v.mag.empty() ? 0 : v.mag[0];
    if (v.mag.size() == 2) m |= static_cast<std::uint64_t>(v.mag[1]) << 32;
    if (!v.negative && m <= static_cast<std::uint64_t>(INT64_MAX))
      return Value::integer(static_cast<std::int64_t>(m));
    if (v.negative && m <= static_cast<std::uint64_t>(INT64_MAX) + 1) {
      return Value::integer(static_cast<std::int64_t>(0 - m));
    }
  }
  return Value::adopt(new BigInt(std::move(v)));
}

Int int_neg(const Int& a) { return make(!a.negative, a.mag); }

Int int_add(const Int& a, const Int& b) {
  if (a.negative == b.negative) return make(a.negative, add_mag(a.mag, b.mag));
  int c = compare_mag(a.mag, b.mag);
  if (c == 0) return Int{};
  return c > 0 ? make(a.negative, sub_mag(a.mag, b.mag)) : make(b.negative, sub_mag(b.mag, a.mag));
}

Int int_sub(const Int& a, const Int& b) { return int_add(a, int_neg(b)); }

Int int_mul(const Int& a, const Int& b) {
  return make(a.negative != b.negative, mul_mag(a.mag, b.mag));
}

void int_floordiv_mod(const Int& a, const Int& b, Int* quotient, Int* remainder) {
  Mag q, r;
  divmod_mag(a.mag, b.mag, q, r);
  Int qi = make(a.negative != b.negative, q);
  Int ri = make(a.negative, r);
  // Truncation to floor: when the signs differ and there is a remainder.
  if (!ri.is_zero() && a.negative != b.negative) {
    qi = int_sub(qi, Int::from(1));
    ri = int_add(ri, b);
  }
  if (quotient) *quotient = std::move(qi);
  if (remainder) *remainder = std::move(ri);
}

Int int_and(const Int& a, const Int& b) {
  return bitwise(a, b, [](std::uint32_t x, std::uint32_t y) { return x & y; });
}
Int int_or(const Int& a, const Int& b) {
  return bitwise(a, b, [](std::uint32_t x, std::uint32_t y) { return x | y; });
}
Int int_xor(const Int& a, const Int& b) {
  return bitwise(a, b, [](std::uint32_t x, std::uint32_t y) { return x ^ y; });
}
Int int_not(const Int& a) { return int_sub(int_neg(a), Int::from(1)); }

Int int_shl(const Int& a, std::uint64_t n) { return make(a.negative, shl_mag(a.mag, n)); }

Int int_shr(const Int& a, std::uint64_t n) {
  if (!a.negative) return make(false, shr_mag(a.mag, n));
  // Floor: -((|a| - 1) >> n) - 1
  Int m1 = make(false, sub_mag(a.mag, Mag{1}));
  return int_sub(int_neg(make(false, shr_mag(m1.mag, n))), Int::from(1));
}

int int_compare(const Int& a, const Int& b) {
  if (a.negative != b.negative) return a.negative ? -1 : 1;
  int c = compare_mag(a.mag, b.mag);
  return a.negative ? -c : c;
}

double int_to_double(const Int& a) {
  double d = 0;
  for (std::size_t i = a.mag.size(); i-- > 0;) d = d * 4294967296.0 + a.mag[i];
  return a.negative ? -d : d;
}

namespace {

/// The largest power of `base` that fits in 32 bits, and its exponent: digits are
/// converted that many at a time, a division or multiplication per chunk, not per digit.
std::pair<std::uint32_t, int> digit_chunk(int base) {
  std::uint64_t power = static_cast<std::uint64_t>(base);
  int digits = 1;
  while (power * static_cast<std::uint64_t>(base) <= UINT32_MAX) {
    power *= static_cast<std::uint64_t>(base);
    ++digits;
  }
  return {static_cast<std::uint32_t>(power), digits};
}

int digit_of(char c) {
  return (c >= '0' && c <= '9')                     ? c - '0'
         : ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ? (c | 0x20) - 'a' + 10
                                                    : 99;
}

}  // namespace

std::string int_to_string(const Int& a, int base) {
  if (a.is_zero()) return "0";
  static constexpr char kDigits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  auto [power, per_chunk] = digit_chunk(base);
  Mag m = a.mag;
  std::string digits;  // least significant first
  while (!m.empty()) {
    std::uint32_t chunk = divmod_small(m, power);
    // Every chunk but the most significant one has all its digits, zeros included.
    for (int i = 0; i < per_chunk && (chunk != 0 || !m.empty()); ++i) {
      digits += kDigits[chunk % static_cast<std::uint32_t>(base)];
      chunk /= static_cast<std::uint32_t>(base);
    }
  }
  if (a.negative) digits += '-';
  return std::string(digits.rbegin(), digits.rend());
}

bool int_parse(std::string_view digits, int base, Int& out) {
  auto [power, per_chunk] = digit_chunk(base);
  Mag m;
  auto multiply_add = [&m](std::uint64_t factor, std::uint64_t addend) {
    std::uint64_t carry = addend;
    for (auto& limb : m) {
      std::uint64_t t = static_cast<std::uint64_t>(limb) * factor + carry;
      limb = static_cast<std::uint32_t>(t);
      carry = t >> 32;
    }
    if (carry) m.push_back(static_cast<std::uint32_t>(carry));
  };
  for (std::size_t at = 0; at < digits.size(); at += static_cast<std::size_t>(per_chunk)) {
    std::string_view chunk = digits.substr(at, static_cast<std::size_t>(per_chunk));
    std::uint64_t value = 0, scale = 1;
    for (char c : chunk) {
      int d = digit_of(c);
      if (d >= base) return false;
      value = value * static_cast<std::uint64_t>(base) + static_cast<std::uint64_t>(d);
      scale *= static_cast<std::uint64_t>(base);
    }
    multiply_add(chunk.size() == static_cast<std::size_t>(per_chunk) ? power : scale, value);
  }
  trim(m);
  out = make(false, std::move(m));
  return !digits.empty();
}

std::uint64_t int_hash(const Int& a) {
  std::uint64_t h = a.negative ? 0x9ae16a3b2f90404fULL : 0;
  for (std::uint32_t limb : a.mag) h = (h ^ limb) * 0x100000001b3ULL;
  return h;
}

}  // namespace fb::vm
