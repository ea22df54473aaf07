// The SIMD base layer's widening routines against their scalar definitions: every half-precision
// bit pattern, and every 8-bit integer in every lane.
#include <act/simd/widen.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace {

bool same_float(float a, float b) {
  return std::isnan(a) ? std::isnan(b) : std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(b);
}

template <class Int8>
void check_widen_all_values() {
  std::array<Int8, 256 + act::simd::width> bytes{};
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<Int8>(i);
  for (std::size_t first = 0; first < 256; ++first) {
    alignas(64) std::array<float, act::simd::width> lanes{};
    act::simd::widen(bytes.data() + first).store_aligned(lanes.data());
    for (std::size_t lane = 0; lane < act::simd::width; ++lane)
      REQUIRE(lanes[lane] == static_cast<float>(bytes[first + lane]));
  }
}

}  // namespace

TEST_CASE("simd: half_to_float equals the exact scalar conversion for all 65536 halves", "[simd]") {
  for (std::uint32_t bits = 0; bits <= 0xFFFF; ++bits) {
    const auto half = static_cast<std::uint16_t>(bits);
    INFO("half bits " << bits);
    REQUIRE(same_float(act::simd::half_to_float(half), act::f16_to_f32(half)));
  }
  CHECK(act::f16_to_f32(0x3C00) == 1.0f);
  CHECK(act::f16_to_f32(0xC000) == -2.0f);
  CHECK(act::f16_to_f32(0x0001) == std::ldexp(1.0f, -24));  // smallest subnormal
  CHECK(std::isinf(act::f16_to_f32(0x7C00)));
  CHECK(act::bf16_to_f32(0x3F80) == 1.0f);
}

TEST_CASE("simd: widen turns signed and unsigned bytes into floats in every lane", "[simd]") {
  check_widen_all_values<std::int8_t>();
  check_widen_all_values<std::uint8_t>();
}

// Rounding to half against the F16C instruction (round to nearest even) over every float whose
// exponent matters to a half (steps through the mantissas, every exponent, both signs), plus the
// boundaries: the largest half, the overflow point, subnormal ties.
TEST_CASE("f32_to_f16 rounds to nearest even like F16C", "[simd]") {
#ifdef __F16C__
  std::size_t checked = 0, mismatches = 0;
  for (std::uint32_t exponent = 90; exponent <= 145; ++exponent)
    for (std::uint32_t mantissa = 0; mantissa < (1u << 23); mantissa += 997)
      for (const std::uint32_t sign : {0u, 0x80000000u}) {
        const float x = std::bit_cast<float>(sign | (exponent << 23) | mantissa);
        ++checked;
        mismatches += act::f32_to_f16(x) != _cvtss_sh(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      }
  CHECK(checked > 900000);
  CHECK(mismatches == 0);
#endif
  CHECK(act::f32_to_f16(65504.0f) == 0x7BFF);
  CHECK(act::f32_to_f16(65519.99f) == 0x7BFF);
  CHECK(act::f32_to_f16(65520.0f) == 0x7C00);                                   // the tie rounds to even: infinity
  CHECK(act::f32_to_f16(std::ldexp(1.0f, -25)) == 0x0000);                      // tie between 0 and 2^-24
  CHECK(act::f32_to_f16(std::ldexp(3.0f, -25)) == 0x0002);                      // tie between 2^-24 and 2^-23
  CHECK(act::f32_to_f16(std::ldexp(1.0f, -14) * (1.0f - 0x1p-12f)) == 0x0400);  // rounds up to the smallest normal
  CHECK(act::f32_to_f16(-1.0f) == 0xBC00);
  CHECK(std::isnan(act::f16_to_f32(act::f32_to_f16(std::numeric_limits<float>::quiet_NaN()))));
  CHECK(act::f32_to_f16(-std::numeric_limits<float>::infinity()) == 0xFC00);
}

TEST_CASE("f32_to_bf16 rounds to nearest even and keeps NaN", "[simd]") {
  CHECK(act::f32_to_bf16(1.0f) == 0x3F80);
  CHECK(act::f32_to_bf16(std::bit_cast<float>(0x3F808000u)) == 0x3F80);  // tie, even stays
  CHECK(act::f32_to_bf16(std::bit_cast<float>(0x3F818000u)) == 0x3F82);  // tie, odd rounds up
  CHECK(act::f32_to_bf16(std::bit_cast<float>(0x3F808001u)) == 0x3F81);
  CHECK(act::f32_to_bf16(std::bit_cast<float>(0x7F7FFFFFu)) == 0x7F80);  // largest float: infinity
  CHECK(std::isnan(act::bf16_to_f32(act::f32_to_bf16(std::bit_cast<float>(0x7F800001u)))));
  for (float x : {0.1f, -3.7f, 1e-30f, 12345.678f}) {
    const float rounded = act::bf16_to_f32(act::f32_to_bf16(x));
    CHECK(std::abs(rounded - x) <= std::abs(x) * 0x1p-8f);  // the unit roundoff of 8 significant bits
  }
}
