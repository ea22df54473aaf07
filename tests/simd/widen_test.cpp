// The SIMD base layer's widening routines against their scalar definitions: every half-precision
// bit pattern, and every 8-bit integer in every lane.
#include <act/simd/widen.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <bit>
#include <cmath>
#include <cstdint>

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
