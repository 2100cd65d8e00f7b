#pragma once
/// Arbitrary-precision integers for the values that do not fit in 64 bits.
///
/// Starlark ints are unbounded. The VM keeps ints in an int64 and promotes a result to a
/// BigInt object only when it does not fit; every BigInt is therefore outside the int64
/// range, and every result that fits is demoted back, so equal values always have the
/// same representation (which equality and hashing rely on).

#include <cstdint>
#include <string>
#include <vector>

#include "vm/value.h"

namespace fb::vm {

/// Sign and magnitude (little-endian base-2^32 limbs, no leading zero limbs).
struct Int {
  bool negative = false;
  std::vector<std::uint32_t> mag;

  static Int from(std::int64_t v);
  bool is_zero() const { return mag.empty(); }
};

struct BigInt final : Object {
  Int value;
  explicit BigInt(Int v) : Object(Type::kBigInt), value(std::move(v)) {}
};

/// The largest int, in bits (19,728 decimal digits). An operation whose result would be
/// larger fails: arithmetic on such ints is cheap, but printing one of a million bits
/// took seconds, long enough to hang a run. Cryptographic sizes fit many times over.
inline constexpr std::size_t kMaxIntBits = std::size_t{1} << 16;
inline constexpr std::size_t kMaxIntLimbs = kMaxIntBits / 32;

/// True for int values in either representation.
inline bool is_int(const Value& v) { return v.is(Type::kInt) || v.is(Type::kBigInt); }

Int to_int(const Value& v);  // v must satisfy is_int
/// The canonical value: a small int when it fits in 64 bits, else a BigInt.
Value make_int(Int v);

Int int_add(const Int& a, const Int& b);
Int int_sub(const Int& a, const Int& b);
Int int_mul(const Int& a, const Int& b);
/// Floor division and the matching modulo (sign of the divisor); b must not be zero.
void int_floordiv_mod(const Int& a, const Int& b, Int* quotient, Int* remainder);
Int int_and(const Int& a, const Int& b);
Int int_or(const Int& a, const Int& b);
Int int_xor(const Int& a, const Int& b);
Int int_not(const Int& a);
Int int_shl(const Int& a, std::uint64_t n);
Int int_shr(const Int& a, std::uint64_t n);
Int int_neg(const Int& a);
/// Whether `a` has more than kMaxIntBits bits.
inline bool int_too_large(const Int& a) { return a.mag.size() > kMaxIntLimbs; }
int int_compare(const Int& a, const Int& b);
double int_to_double(const Int& a);
std::string int_to_string(const Int& a, int base = 10);
/// Parses digits (no sign, no prefix) in `base`; false on a bad digit.
bool int_parse(std::string_view digits, int base, Int& out);
std::uint64_t int_hash(const Int& a);

}  // namespace fb::vm
