#pragma once
// 16-bit floats (IEEE half and bfloat16) as stored in model files and KV caches, widened to float
// exactly. Scalar and constexpr; simd/widen.hpp has the vector forms.
#include <bit>
#include <cstdint>

namespace act {

// IEEE half precision to float, exact for every input including subnormals, infinities and NaNs
// (the NaN payload is kept).
constexpr float f16_to_f32(std::uint16_t half) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(half & 0x8000u) << 16;
  const std::uint32_t exponent = (half >> 10) & 0x1Fu;
  const std::uint32_t mantissa = half & 0x3FFu;
  if (exponent == 0x1F) return std::bit_cast<float>(sign | 0x7F800000u | (mantissa << 13));
  if (exponent != 0) {
    return std::bit_cast<float>(sign | ((exponent + (127 - 15)) << 23) | (mantissa << 13));
  }
  // Zero or subnormal: mantissa * 2^-24, a normal float (or zero) computed exactly.
  const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
  return sign != 0 ? -magnitude : magnitude;
}

// bfloat16 is the upper half of a float.
constexpr float bf16_to_f32(std::uint16_t bits) noexcept {
  return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16);
}

// Storage types of 16-bit KV caches: distinct types (both are 16 bits) so views and kernels know
// which widening applies.
struct Half {
  std::uint16_t bits;
};
struct BFloat16 {
  std::uint16_t bits;
};

constexpr float to_float(float x) noexcept { return x; }
constexpr float to_float(Half x) noexcept { return f16_to_f32(x.bits); }
constexpr float to_float(BFloat16 x) noexcept { return bf16_to_f32(x.bits); }

}  // namespace act
