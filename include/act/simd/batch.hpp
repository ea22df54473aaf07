#pragma once
// The SIMD base layer: the float batch every vectorised routine of the library uses (kernels and
// model alike). It is xsimd's widest float batch the build enables (AVX-512, AVX2+FMA, SSE2, ...),
// so the instruction set is whatever the including translation unit is compiled for: act::act adds
// no architecture flag, act::native (or the caller's own flags) chooses one.

// GCC 12's AVX-512 intrinsic headers trip -Wuninitialized on their own _mm512_undefined_ps (GCC bug
// 105593, fixed in 13); the pragma covers only the headers' text, not the project's code.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#ifndef __clang__  // a GCC-only warning: clang would warn that it does not know it
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <xsimd/xsimd.hpp>
#pragma GCC diagnostic pop

#include <cstddef>
#include <limits>

namespace act::simd {

// xsimd 8.1's AVX-512BW code hands its batches to GCC intrinsics that are casting macros when
// optimisation is off (no __OPTIMIZE__), which does not compile; AVX-512F has every float
// operation the library uses, so unoptimised (Debug) builds stop there.
#if defined(__GNUC__) && !defined(__clang__) && !defined(__OPTIMIZE__) && XSIMD_WITH_AVX512BW
using Arch = xsimd::avx512f;
#else
using Arch = xsimd::default_arch;
#endif
using Floats = xsimd::batch<float, Arch>;
using Lanes = Floats::batch_bool_type;
inline constexpr std::size_t width = Floats::size;
inline constexpr std::size_t alignment = 64;
inline constexpr float infinity = std::numeric_limits<float>::infinity();

// Before a loop over a fixed number of registers (an accumulator array, the batches of a block):
// such an array lives in registers only once the loop is unrolled, which GCC does by itself at -O3
// but not at -O2 (RelWithDebInfo, and many engines' release flags), where the kernels then ran 2-3x
// slower. The pragma asks for the unrolling at any optimisation level (GCC and clang). A loop that
// zeroes such an array needs it too: rolled, GCC makes it a memset (rep stos for AVX2's four or
// eight batches) and the array stays in memory.
#define ACT_UNROLL _Pragma("GCC unroll 32")

inline Floats load(const float* p) noexcept { return Floats::load_aligned(p); }

// a * b + c rounded once. xsimd 8.1 has no AVX-512 fma: it writes a * b + c as two operations and
// leaves fusing them to the compiler, which GCC does not do in ISO mode (-std=c++20 implies
// -ffp-contract=off) nor always in sanitizer builds, so results and speed would depend on the
// consumer's flags. AVX-512 therefore calls the instruction itself; elsewhere xsimd's fma is FMA3's
// (two roundings only on CPUs without FMA).
inline Floats fma(Floats a, Floats b, Floats c) noexcept {
#if defined(__AVX512F__)
  if constexpr (Floats::size == 16) return Floats(_mm512_fmadd_ps(a, b, c));  // an AVX-512 register
#endif
  return xsimd::fma(a, b, c);
}

}  // namespace act::simd
