#pragma once
// Rows into a panel: up to `width` rows of floats, each times a scale, stored column by column
// (panel[c * width + t] = row t's column c * scale), the layout the block kernel keeps its queries
// in, one query per lane. Element by element, this copy was 4% of a prefill's samples (perf); with
// AVX-512 each 16 x 16 tile is loaded as 16 row vectors and transposed in registers.
#include <act/simd/batch.hpp>

#include <cstddef>

namespace act::simd {

namespace detail {

// Panel columns [first, end) of rows [0, count), one element at a time; lanes past count get 0.
template <class RowOf>
void transpose_columns_scalar(RowOf row_of, std::size_t count, std::size_t first, std::size_t end, float scale,
                              float* panel) noexcept {
  for (std::size_t c = first; c < end; ++c)
    for (std::size_t t = 0; t < width; ++t) panel[c * width + t] = t < count ? row_of(t)[c] * scale : 0.0f;
}

#if XSIMD_WITH_AVX512F
// A 16 x 16 transpose in four rounds of shuffles: pairs of lanes, quads, 128-bit and 256-bit blocks.
inline void transpose_16x16(const __m512 (&rows)[16], __m512 (&columns)[16]) noexcept {
  __m512 pairs[16], quads[16], halves[16];
  ACT_UNROLL for (std::size_t i = 0; i < 8; ++i) {
    pairs[2 * i] = _mm512_unpacklo_ps(rows[2 * i], rows[2 * i + 1]);
    pairs[2 * i + 1] = _mm512_unpackhi_ps(rows[2 * i], rows[2 * i + 1]);
  }
  ACT_UNROLL for (std::size_t i = 0; i < 16; i += 4) {
    quads[i] = _mm512_shuffle_ps(pairs[i], pairs[i + 2], 0x44);
    quads[i + 1] = _mm512_shuffle_ps(pairs[i], pairs[i + 2], 0xEE);
    quads[i + 2] = _mm512_shuffle_ps(pairs[i + 1], pairs[i + 3], 0x44);
    quads[i + 3] = _mm512_shuffle_ps(pairs[i + 1], pairs[i + 3], 0xEE);
  }
  ACT_UNROLL for (std::size_t h = 0; h < 16; h += 8) {
    ACT_UNROLL for (std::size_t i = 0; i < 4; ++i) {
      halves[h + i] = _mm512_shuffle_f32x4(quads[h + i], quads[h + 4 + i], 0x88);
      halves[h + 4 + i] = _mm512_shuffle_f32x4(quads[h + i], quads[h + 4 + i], 0xDD);
    }
  }
  ACT_UNROLL for (std::size_t i = 0; i < 8; ++i) {
    columns[i] = _mm512_shuffle_f32x4(halves[i], halves[8 + i], 0x88);
    columns[8 + i] = _mm512_shuffle_f32x4(halves[i], halves[8 + i], 0xDD);
  }
}
#endif

}  // namespace detail

// panel[c * width + t] = row_of(t)[c] * scale for t < count (<= width) and c < cols; lanes past
// count are 0. Each element is one multiplication, as element by element: the same values.
template <class RowOf>
void transpose_rows(RowOf row_of, std::size_t count, std::size_t cols, float scale, float* panel) noexcept {
  std::size_t first = 0;
#if XSIMD_WITH_AVX512F
  static_assert(width == 16);
  const __m512 factor = _mm512_set1_ps(scale);
  for (; first + 16 <= cols; first += 16) {
    __m512 rows[16], columns[16];
    ACT_UNROLL for (std::size_t t = 0; t < 16; ++t) {
      rows[t] = t < count ? _mm512_mul_ps(_mm512_loadu_ps(row_of(t) + first), factor) : _mm512_setzero_ps();
    }
    detail::transpose_16x16(rows, columns);
    ACT_UNROLL for (std::size_t c = 0; c < 16; ++c) _mm512_storeu_ps(panel + (first + c) * width, columns[c]);
  }
#endif
  detail::transpose_columns_scalar(row_of, count, first, cols, scale, panel);
}

}  // namespace act::simd
