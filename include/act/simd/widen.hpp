#pragma once
// Narrow numbers widened to floats: KV cache elements (float, IEEE half, bfloat16; scalar and a
// batch) and a batch of 8-bit integers. xsimd 8
// has no conversion from 8-bit integers to a float batch of the same lane count (its batch_cast
// converts between batches of equal width only) nor an F16C half conversion, so these two are
// written per instruction set, with a portable fallback; everything else in the library is xsimd.
#include <act/core/half.hpp>
#include <act/simd/batch.hpp>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif
// The float batch is as wide as the widest instruction set enabled; widen() matches it.
#if defined(__AVX512F__)
#define ACT_SIMD_WIDEN_AVX512 1
#elif defined(__AVX2__)
#define ACT_SIMD_WIDEN_AVX2 1
#endif

namespace act::simd {

// One F16C instruction where the build has it (xsimd 8 has no half type).
inline float half_to_float(std::uint16_t half) noexcept {
#ifdef __F16C__
  return _cvtsh_ss(half);
#else
  return f16_to_f32(half);
#endif
}

// One element of a float, half or bfloat16 cache as a float (F16C where the build has it).
inline float widen_scalar(float x) noexcept { return x; }
inline float widen_scalar(Half x) noexcept { return half_to_float(x.bits); }
inline float widen_scalar(BFloat16 x) noexcept { return bf16_to_f32(x.bits); }

// `width` consecutive cache elements as floats, widened in registers.
inline Floats widen(const float* p) noexcept { return Floats::load_unaligned(p); }

inline Floats widen(const Half* p) noexcept {
#if defined(ACT_SIMD_WIDEN_AVX512)
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i_u*>(p)));
#elif defined(ACT_SIMD_WIDEN_AVX2) && defined(__F16C__)
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i_u*>(p)));
#else
  alignas(64) float values[width];
  for (std::size_t i = 0; i < width; ++i) values[i] = half_to_float(p[i].bits);
  return Floats::load_aligned(values);
#endif
}

// bfloat16 is the upper half of a float: zero-extend to 32 bits and shift.
inline Floats widen(const BFloat16* p) noexcept {
#if defined(ACT_SIMD_WIDEN_AVX512)
  const __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i_u*>(p)));
  return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
#elif defined(ACT_SIMD_WIDEN_AVX2)
  const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i_u*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
#else
  alignas(64) float values[width];
  for (std::size_t i = 0; i < width; ++i) values[i] = bf16_to_f32(p[i].bits);
  return Floats::load_aligned(values);
#endif
}

// `count` consecutive cache elements widened into out[0, count).
template <class Element>
void widen_row(const Element* row, std::size_t count, float* out) noexcept {
  std::size_t c = 0;
  for (; c + width <= count; c += width) widen(row + c).store_unaligned(out + c);
  for (; c < count; ++c) out[c] = widen_scalar(row[c]);
}

// `width` consecutive 8-bit integers as floats.
template <class Int8>
Floats widen(const Int8* q) noexcept {
  static_assert(sizeof(Int8) == 1);
#if defined(ACT_SIMD_WIDEN_AVX512)
  static_assert(width == 16);
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i_u*>(q));
  if constexpr (std::is_signed_v<Int8>)
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(bytes));
  else
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(bytes));
#elif defined(ACT_SIMD_WIDEN_AVX2)
  static_assert(width == 8);
  const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i_u*>(q));
  if constexpr (std::is_signed_v<Int8>)
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes));
  else
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes));
#else
  alignas(64) float values[width];
  for (std::size_t i = 0; i < width; ++i) values[i] = static_cast<float>(q[i]);
  return Floats::load_aligned(values);
#endif
}

}  // namespace act::simd
