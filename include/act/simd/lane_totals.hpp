#pragma once
// Horizontal sums of `width` batches at once: lane t of the result is the sum of the lanes of
// rows[t]. One transpose-reduce costs about three instructions per batch, where a horizontal add
// per batch costs a dozen; used by the kernels' column statistics and the bf16 GEMM's dot products.
#include <act/simd/batch.hpp>

#include <cstddef>

namespace act::simd {

#if XSIMD_WITH_AVX512F
// xsimd 8.1's AVX-512 haddp returns its sums in a permuted lane order, so this target has its own
// transpose-reduce: halves, quarters, pairs, then single lanes are folded together. The folds
// leave row fold_order[t] in lane t; the order is its own inverse, so taking row fold_order[s]
// into slot s puts row t in lane t.
// Lane t of the result: the sum of the lanes of row_of(t), t < width. Taking the rows through a
// function lets callers load them straight from memory: an array of batches loaded unchanged
// became a 1 KiB memcpy to the stack (GCC 12), 5% of a decode step.
template <class RowOf>
Floats lane_totals_of(RowOf row_of) noexcept {
  static_assert(width == 16);
  static constexpr std::size_t fold_order[16] = {0, 2, 1, 3, 8, 10, 9, 11, 4, 6, 5, 7, 12, 14, 13, 15};
  __m512 halves[8], quarters[4], pairs[2];
  ACT_UNROLL for (std::size_t i = 0; i < 8; ++i) {
    const __m512 low = row_of(fold_order[i]), high = row_of(fold_order[i + 8]);
    halves[i] = _mm512_add_ps(_mm512_shuffle_f32x4(low, high, 0x44), _mm512_shuffle_f32x4(low, high, 0xEE));
  }
  ACT_UNROLL for (std::size_t i = 0; i < 4; ++i) {
    quarters[i] = _mm512_add_ps(_mm512_shuffle_f32x4(halves[i], halves[i + 4], 0x88),
                                _mm512_shuffle_f32x4(halves[i], halves[i + 4], 0xDD));
  }
  ACT_UNROLL for (std::size_t i = 0; i < 2; ++i) {
    pairs[i] = _mm512_add_ps(_mm512_shuffle_ps(quarters[i], quarters[i + 2], 0x44),
                             _mm512_shuffle_ps(quarters[i], quarters[i + 2], 0xEE));
  }
  return _mm512_add_ps(_mm512_shuffle_ps(pairs[0], pairs[1], 0x88), _mm512_shuffle_ps(pairs[0], pairs[1], 0xDD));
}
#else
template <class RowOf>
Floats lane_totals_of(RowOf row_of) noexcept {
  Floats rows[width];
  ACT_UNROLL for (std::size_t t = 0; t < width; ++t) rows[t] = row_of(t);
  return xsimd::haddp(rows);
}
#endif

inline Floats lane_totals(const Floats (&rows)[width]) noexcept {
  return lane_totals_of([&](std::size_t t) { return rows[t]; });
}

}  // namespace act::simd
