#pragma once
// Bit-for-bit equality of float results, for tests whose claim is "identical": operator== would
// call a NaN unequal to itself and -0 equal to +0.
#include <cstring>
#include <span>

namespace act::testing {

inline bool same_bits(std::span<const float> a, std::span<const float> b) noexcept {
  // memcmp's pointers must be valid even for zero bytes, and an empty vector's data() may be null.
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size_bytes()) == 0);
}

}  // namespace act::testing
