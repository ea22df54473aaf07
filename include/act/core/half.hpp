#pragma once
// 16-bit floats (IEEE half and bfloat16) as stored in model files and KV caches: widened to float
// exactly, and floats rounded to them (to nearest, ties to even, as a KV cache stores new keys).
// Scalar and constexpr; simd/widen.hpp has the vector widening.
#include <bit>
#include <cstdint>
#include <type_traits>

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

// Float to bfloat16, rounded to nearest even; NaNs stay NaNs (quieted, sign kept), overflow rounds
// to infinity as IEEE rounding does.
constexpr std::uint16_t f32_to_bf16(float x) noexcept {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(x);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<std::uint16_t>((bits >> 16) | 0x40u);
  const std::uint32_t round = 0x7FFFu + ((bits >> 16) & 1u);
  return static_cast<std::uint16_t>((bits + round) >> 16);
}

// Float to IEEE half, rounded to nearest even, subnormals included; beyond the half range:
// infinity; NaN: a quiet NaN of the same sign.
constexpr std::uint16_t f32_to_f16(float x) noexcept {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(x);
  const std::uint16_t sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000u);
  const std::uint32_t magnitude = bits & 0x7FFFFFFFu;
  if (magnitude > 0x7F800000u) return static_cast<std::uint16_t>(sign | 0x7E00u);
  if (magnitude >= 0x477FF000u) return static_cast<std::uint16_t>(sign | 0x7C00u);  // rounds past 65504
  const int exponent = static_cast<int>(magnitude >> 23) - 127;
  // Normal halves keep 10 mantissa bits; below 2^-14 the spacing stays 2^-24, so fewer are kept.
  const int dropped = exponent >= -14 ? 13 : 13 + (-14 - exponent);
  if (dropped > 24) return sign;  // below half the smallest subnormal: rounds to zero
  const std::uint32_t mantissa = (magnitude & 0x7FFFFFu) | (magnitude >= 0x00800000u ? 0x800000u : 0u);
  const std::uint32_t kept = mantissa >> dropped;
  const std::uint32_t rest = mantissa & ((1u << dropped) - 1u), half_way = 1u << (dropped - 1);
  const std::uint32_t rounded = kept + (rest > half_way || (rest == half_way && (kept & 1u)) ? 1u : 0u);
  // Normal: biased exponent above the kept 10 bits (a mantissa carry rolls into the exponent).
  const std::uint32_t biased = exponent >= -14 ? static_cast<std::uint32_t>(exponent + 14) << 10 : 0u;
  return static_cast<std::uint16_t>(sign | (biased + rounded));
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

// A float rounded to a cache element type (to nearest even).
template <class Element>
constexpr Element from_float(float x) noexcept {
  if constexpr (std::is_same_v<Element, Half>)
    return Half{f32_to_f16(x)};
  else if constexpr (std::is_same_v<Element, BFloat16>)
    return BFloat16{f32_to_bf16(x)};
  else
    return x;
}

}  // namespace act
