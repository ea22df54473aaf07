// The SIMD base layer's fused multiply-add: one rounding in every lane, whatever the compiler's
// contraction setting (xsimd 8.1 leaves AVX-512's to the compiler; simd::fma does not).
#include <act/simd/batch.hpp>

#include <catch2/catch.hpp>

#include <cmath>

using namespace act::simd;

TEST_CASE("simd::fma rounds a * b + c once, as std::fma does", "[simd]") {
  // (1 + 2^-12)^2 = 1 + 2^-11 + 2^-24: the product rounded to float loses the 2^-24 (a tie, to
  // even), so a product then a sum gives 0 where the fused operation gives 2^-24.
  const float a = 1.0f + std::ldexp(1.0f, -12);
  const float c = -(1.0f + std::ldexp(1.0f, -11));
  REQUIRE(std::fma(a, a, c) == std::ldexp(1.0f, -24));
#if defined(__FMA__) || defined(__AVX512F__)
  const float expected = std::ldexp(1.0f, -24);
#else
  const float expected = 0.0f;  // no FMA instruction: two roundings (batch.hpp)
#endif
  float lanes[width];
  fma(Floats(a), Floats(a), Floats(c)).store_unaligned(lanes);
  for (std::size_t i = 0; i < width; ++i) CHECK(lanes[i] == expected);
}
