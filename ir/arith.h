#pragma once
/// Integer arithmetic with Starlark's (Python's) rounding, shared by the compiler's
/// constant folder and the VM so both compute the same results.

#include <cstdint>

namespace fb::ir {

/// a // b rounded towards negative infinity. b != 0, and not (INT64_MIN, -1).
inline std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/// a % b with the sign of b. b != 0.
inline std::int64_t floor_mod(std::int64_t a, std::int64_t b) {
  std::int64_t r = a % b;
  return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}

}  // namespace fb::ir
