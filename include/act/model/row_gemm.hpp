#pragma once
// The library's own GEMMs for the model's prefill, on SIMD registers (simd/dot_block.hpp): both
// operands are copied into padded, aligned rows once per call, then every register block of dot
// products runs over whole registers. Two arithmetics:
//   f32_gemm   float32 FMAs: float32 results in another summation order than a BLAS
//   bf16_gemm  both operands rounded to bfloat16 (8 significant bits; Q4_1 weights themselves carry
//              4), products summed in float32 by AVX-512 BF16's vdpbf16ps, twice the multiply-adds
//              of a float FMA. Builds without AVX-512 BF16 run float FMAs over the same rounded
//              operands: same rounding, not bitwise the same sums. This changes the model's
//              numbers, so it is a choice the caller makes and measures, never a default
//              (docs/results.md has its logit differences and head-search agreement).
#include <act/core/half.hpp>
#include <act/model/gemm.hpp>
#include <act/simd/aligned_vector.hpp>
#include <act/simd/bf16_dot.hpp>
#include <act/simd/dot_block.hpp>

#include <algorithm>
#include <cstddef>

namespace act::model {

namespace detail {

// How a float row enters the products: `count` values then zeros up to `padded`.
struct FloatRows {
  using Products = simd::FloatProducts;
  static void pack(const float* row, std::size_t count, std::size_t padded, float* out) noexcept {
    std::copy_n(row, count, out);  // not memcpy: an empty row may be a null pointer
    std::fill(out + count, out + padded, 0.0f);
  }
};

#ifdef ACT_SIMD_BF16_DOT
struct Bf16Rows {
  using Products = simd::Bf16Products;
  static void pack(const float* row, std::size_t count, std::size_t padded, std::uint16_t* out) noexcept {
    simd::round_row(row, count, padded, out);
  }
};
#else
struct Bf16Rows {
  using Products = simd::FloatProducts;
  static void pack(const float* row, std::size_t count, std::size_t padded, float* out) noexcept {
    for (std::size_t c = 0; c < count; ++c) out[c] = bf16_to_f32(f32_to_bf16(row[c]));
    std::fill(out + count, out + padded, 0.0f);
  }
};
#endif

template <class Rows>
using RowElement = typename Rows::Products::Element;

// `rows` rows of a matrix packed at `stride` elements each, the row count padded with zero rows to
// a multiple of `block`.
template <class Rows>
void pack_rows(const float* matrix, std::size_t rows, std::size_t cols, std::size_t ld, std::size_t stride,
               std::size_t block, simd::AlignedVector<RowElement<Rows>>& out) {
  const std::size_t padded_rows = (rows + block - 1) / block * block;
  out.resize(padded_rows * stride);
  for (std::size_t r = 0; r < rows; ++r) Rows::pack(matrix + r * ld, cols, stride, out.data() + r * stride);
  std::fill(out.begin() + static_cast<std::ptrdiff_t>(rows * stride), out.end(), RowElement<Rows>{});
}

// A block's sums (lane C r + c) into C, clipped at the matrix edges.
inline void store_block(simd::Floats sums, const GemmArgs& g, std::size_t i, std::size_t j) {
  constexpr std::size_t columns = simd::dot_block_columns;
  alignas(simd::alignment) float block[simd::width];
  sums.store_aligned(block);
  const std::size_t rows = std::min(simd::dot_block_rows, g.m - i), cols = std::min(columns, g.n - j);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) g.c[(i + r) * g.ldc + j + c] = block[columns * r + c];
}

template <class Rows>
void row_gemm_kernel(const GemmArgs& g) {
  using Products = typename Rows::Products;
  // Per thread: the model calls its GEMM from several OpenMP threads at once.
  thread_local simd::AlignedVector<RowElement<Rows>> a, b;
  const std::size_t stride = (g.k + Products::step - 1) / Products::step * Products::step;
  pack_rows<Rows>(g.a, g.m, g.k, g.lda, stride, simd::dot_block_rows, a);
  pack_rows<Rows>(g.b, g.n, g.k, g.ldb, stride, simd::dot_block_columns, b);
  for (std::size_t j = 0; j < g.n; j += simd::dot_block_columns)
    for (std::size_t i = 0; i < g.m; i += simd::dot_block_rows)
      store_block(simd::dot_block<Products>(a.data() + i * stride, b.data() + j * stride, stride, stride), g, i, j);
}

}  // namespace detail

// Whether bf16_gemm() runs on AVX-512 BF16 in this build (else on float FMAs over the same rounding).
inline constexpr bool bf16_gemm_native = simd::bf16_dot_compiled;

inline Gemm f32_gemm() { return detail::row_gemm_kernel<detail::FloatRows>; }
inline Gemm bf16_gemm() { return detail::row_gemm_kernel<detail::Bf16Rows>; }

}  // namespace act::model
