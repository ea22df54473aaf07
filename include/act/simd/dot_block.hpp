#pragma once
// A block of dot products between rows stored one after another (rows of activations against rows
// of weights, as in x W^T), the register block of the model's own GEMMs (model/row_gemm.hpp): 4
// rows of one side against width / 4 of the other (4 x 4 with AVX-512), one accumulator per pair,
// so each load serves several multiply-adds (8 loads per 16 with AVX-512), and one transpose-reduce
// sums them all at the end. The arithmetic is a policy:
//
//   struct Products {
//     using Element = ...;                 // what the rows hold
//     using Operand = ...;                 // one register of elements
//     static constexpr std::size_t step;   // elements per register
//     static Operand load(const Element*); // 64-byte aligned
//     static Floats multiply_add(Operand a, Operand b, Floats sum);  // sum + products, per lane
//   };
//
// FloatProducts below (float32 FMA); Bf16Products in bf16_dot.hpp (vdpbf16ps).
#include <act/simd/batch.hpp>
#include <act/simd/lane_totals.hpp>

#include <cstddef>

namespace act::simd {

inline constexpr std::size_t dot_block_rows = 4;
inline constexpr std::size_t dot_block_columns = width / dot_block_rows;

struct FloatProducts {
  using Element = float;
  using Operand = Floats;
  static constexpr std::size_t step = width;
  static Operand load(const float* p) noexcept { return Floats::load_aligned(p); }
  static Floats multiply_add(Operand a, Operand b, Floats sum) noexcept { return simd::fma(a, b, sum); }
};

// Lane C r + c of the result (r < 4, c < C = dot_block_columns): the dot product of rows
// a + r * stride and b + c * stride, `length` elements each, a multiple of Products::step; rows
// 64-byte aligned.
template <class Products>
Floats dot_block(const typename Products::Element* a, const typename Products::Element* b, std::size_t stride,
                 std::size_t length) noexcept {
  constexpr std::size_t rows = dot_block_rows, columns = dot_block_columns;
  static_assert(rows * columns == width, "one lane per product of the block");
  Floats sums[width];
  ACT_UNROLL for (Floats& sum : sums) sum = Floats(0.0f);
  for (std::size_t offset = 0; offset < length; offset += Products::step) {
    typename Products::Operand right[columns];
    ACT_UNROLL for (std::size_t c = 0; c < columns; ++c) right[c] = Products::load(b + c * stride + offset);
    ACT_UNROLL for (std::size_t r = 0; r < rows; ++r) {
      const typename Products::Operand left = Products::load(a + r * stride + offset);
      ACT_UNROLL for (std::size_t c = 0; c < columns; ++c) sums[columns * r + c] =
          Products::multiply_add(left, right[c], sums[columns * r + c]);
    }
  }
  return lane_totals(sums);
}

}  // namespace act::simd
