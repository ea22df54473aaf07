#pragma once
// Decode's matrix-vector products on 8-bit activations (opt-in: DecodeActivations::int8 in
// matmul.hpp). Each activation row is rounded to int8 per block of 32, with one float scale per
// block; a Q4_1 or Q8_0 weight block then meets it in integer multiply-adds (AVX2: 32 products in
// two instructions, VNNI one) and only the block's sum is scaled in float. Decode reads every
// weight once per token and is bound by decoding it: this skips widening 32 weights to floats per
// block.
//
// The rounding (per block): d = max|x| / 127, q = x / d rounded to nearest (ties to even),
// s = d * sum(q). A block of zeros (or one whose d underflows to 0) gets d = 0 and zero quants; a
// block with a NaN or infinity gets d = s = NaN and zero quants, so every product with it is NaN
// (no float-to-int conversion ever sees a non-finite value). Block dot products:
//   Q4_1 (w = d_w q_w + m_w): d_w d sum(q_w q) + m_w s;  Q8_0 (w = d_w q_w): d_w d sum(q_w q).
// The integer sums are exact on every path (AVX2 and the portable one agree bit for bit); only the
// float accumulation over blocks differs in order.
#include <act/io/ggml_types.hpp>
#include <act/io/quant_blocks.hpp>
#include <act/model/quantized_rows.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace act::model {

// One row of rounded activations: quants[cols], and per block of 32 its scale d and s = d * sum(q).
struct Int8Row {
  const std::int8_t* quants;
  const float* scales;
  const float* sums;
};

namespace detail {

// Rounds one block of 32 activations by the rule in the header comment.
inline void quantize_block(const float* x, std::int8_t* quants, float& scale, float& sum) noexcept {
  float amax = 0.0f, probe = 0.0f;
  for (std::size_t i = 0; i < block_elements; ++i) {
    amax = std::max(amax, std::fabs(x[i]));
    probe += x[i] * 0.0f;  // NaN exactly when some x[i] is NaN or infinite
  }
  const float d = amax / 127.0f;
  std::fill_n(quants, block_elements, std::int8_t{0});
  if (std::isnan(probe) || !(d > 0.0f)) {
    scale = sum = std::isnan(probe) ? std::numeric_limits<float>::quiet_NaN() : 0.0f;
    return;
  }
  std::int32_t total = 0;
  for (std::size_t i = 0; i < block_elements; ++i) {
    // |x / d| <= 127 up to rounding; the clamp only matters when d is subnormal and inexact.
    const float q = std::clamp(std::nearbyint(x[i] / d), -127.0f, 127.0f);
    quants[i] = static_cast<std::int8_t>(q);
    total += quants[i];
  }
  scale = d;
  sum = d * static_cast<float>(total);
}

// Sum of w[i] * x[i] over a block, exact in int32 (|sum| <= 32 * 128 * 127).
template <class Quant>
std::int32_t integer_dot(const Quant* w, const std::int8_t* x) noexcept {
  std::int32_t s = 0;
  for (std::size_t i = 0; i < block_elements; ++i) s += static_cast<std::int32_t>(w[i]) * x[i];
  return s;
}

// One weight format each: its float side (scale, and Q4_1's minimum) and its integer side, the sum
// of a block's quants times 32 activation quants: portable (block_sum) and, where the build has
// AVX2, the two maddubs operands (lane_sums below).
struct Q4_1Int8 {
  using Block = io::BlockQ4_1;
  static constexpr bool has_min = true;
  static ScaleAndMin scale_and_min(const std::byte* block) noexcept { return read_scale_and_min(block); }
  static std::int32_t block_sum(const std::byte* block, const std::int8_t* x) noexcept {
    alignas(32) std::uint8_t w[block_elements];
    unpack_nibbles(block + offsetof(Block, qs), w);
    return integer_dot(w, x);
  }
#ifdef __AVX2__
  // The nibbles are unsigned (0..15): maddubs takes them as its unsigned operand as they are. They
  // are unpacked in registers: unpack_nibbles' two 16-byte stores read back as one 32-byte load
  // would defeat store-to-load forwarding.
  static __m256i weights_and_activations(const std::byte* block, const std::int8_t* x, __m256i& signed_x) noexcept {
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i_u*>(block + offsetof(Block, qs)));
    const __m128i nibble = _mm_set1_epi8(0x0F);
    signed_x = _mm256_loadu_si256(reinterpret_cast<const __m256i_u*>(x));
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(packed, 4), nibble), _mm_and_si128(packed, nibble));
  }
#endif
};

struct Q8_0Int8 {
  using Block = io::BlockQ8_0;
  static constexpr bool has_min = false;
  static ScaleAndMin scale_and_min(const std::byte* block) noexcept {
    return {half_to_float(read_half(block + offsetof(Block, d))), 0.0f};
  }
  static const std::int8_t* quants(const std::byte* block) noexcept {
    return reinterpret_cast<const std::int8_t*>(block + offsetof(Block, qs));
  }
  static std::int32_t block_sum(const std::byte* block, const std::int8_t* x) noexcept {
    return integer_dot(quants(block), x);
  }
#ifdef __AVX2__
  // maddubs needs one unsigned operand: |w| (abs of -128 is 0x80, which read unsigned is 128, exact)
  // with w's sign moved onto x, which the rounding keeps within -127..127 so negating it is exact.
  static __m256i weights_and_activations(const std::byte* block, const std::int8_t* x, __m256i& signed_x) noexcept {
    const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i_u*>(quants(block)));
    signed_x = _mm256_sign_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i_u*>(x)), w);
    return _mm256_abs_epi8(w);
  }
#endif
};

// Float accumulators over a row's blocks: `add` takes one block's integer sum times its scale.
struct ScalarBlockSums {
  float total = 0.0f;
  template <class Format>
  void add(const std::byte* block, const std::int8_t* x, float scale) noexcept {
    total += scale * static_cast<float>(Format::block_sum(block, x));
  }
  float sum() const noexcept { return total; }
};

// Eight int32 lanes of u8 x s8 products, each lane the sum of four. VNNI adds the four straight into
// int32 (one instruction). Without it, pairs go to int16 first, which cannot saturate here (at most
// 2 * 128 * 127 = 32512), then pairs of pairs to int32. Both are exact. int8_dot_uses_vnni says which.
#if (defined(__AVX512VNNI__) && defined(__AVX512VL__)) || defined(__AVXVNNI__)
inline constexpr bool int8_dot_uses_vnni = true;
inline __m256i products_to_int32(__m256i unsigned_w, __m256i signed_x) noexcept {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), unsigned_w, signed_x);
#else
  return _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), unsigned_w, signed_x);
#endif
}
#else
inline constexpr bool int8_dot_uses_vnni = false;
#ifdef __AVX2__
inline __m256i products_to_int32(__m256i unsigned_w, __m256i signed_x) noexcept {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(unsigned_w, signed_x), _mm256_set1_epi16(1));
}
#endif
#endif

#ifdef __AVX2__
// Eight int32 lanes that add up to the block's integer sum.
template <class Format>
__m256i lane_sums(const std::byte* block, const std::int8_t* x) noexcept {
  __m256i signed_x;
  const __m256i unsigned_w = Format::weights_and_activations(block, x, signed_x);
  return products_to_int32(unsigned_w, signed_x);
}

// The lanes are scaled and accumulated as floats: no horizontal sum per block.
struct Avx2BlockSums {
  __m256 lanes = _mm256_setzero_ps();
  template <class Format>
  void add(const std::byte* block, const std::int8_t* x, float scale) noexcept {
    lanes = _mm256_fmadd_ps(_mm256_cvtepi32_ps(lane_sums<Format>(block, x)), _mm256_set1_ps(scale), lanes);
  }
  float sum() const noexcept {
    const __m128 four = _mm_add_ps(_mm256_castps256_ps128(lanes), _mm256_extractf128_ps(lanes, 1));
    const __m128 two = _mm_add_ps(four, _mm_movehl_ps(four, four));
    return _mm_cvtss_f32(_mm_add_ss(two, _mm_movehdup_ps(two)));
  }
};
using BlockSums = Avx2BlockSums;
#else
using BlockSums = ScalarBlockSums;
#endif

// Adds block b of a row to `sums` (its integer sum times both scales) and, for Q4_1, m_w * s to
// `offsets`.
template <class Format, class Sums>
[[gnu::always_inline]] inline void add_block(const std::byte* row, std::size_t b, const Int8Row& x, Sums& sums,
                                             float& offsets) noexcept {
  const std::byte* block = row + b * sizeof(typename Format::Block);
  const ScaleAndMin w = Format::scale_and_min(block);
  sums.template add<Format>(block, x.quants + b * block_elements, w.scale * x.scales[b]);
  if constexpr (Format::has_min) offsets += w.min * x.sums[b];
}

// One weight row of `cols` elements (a multiple of 32) against one rounded activation row. Even and
// odd blocks go to accumulators of their own: two independent chains of multiply-adds, so a block
// does not wait for the previous one's sum.
template <class Format, class Sums = BlockSums>
float dot_int8(const std::byte* row, std::size_t cols, const Int8Row& x) noexcept {
  Sums even, odd;
  float even_offsets = 0.0f, odd_offsets = 0.0f;  // Q4_1: sums of m_w * s
  const std::size_t blocks = cols / block_elements;
  std::size_t b = 0;
  for (; b + 2 <= blocks; b += 2) {
    add_block<Format>(row, b, x, even, even_offsets);
    add_block<Format>(row, b + 1, x, odd, odd_offsets);
  }
  if (b < blocks) add_block<Format>(row, b, x, even, even_offsets);
  return (even.sum() + odd.sum()) + (even_offsets + odd_offsets);
}

}  // namespace detail

// Activation rows rounded to int8 per block of 32. The buffers are kept between calls, so decode,
// which rounds a few rows per product, allocates only when a row is wider than any before.
class Int8Activations {
 public:
  // Rounds x [rows, cols] (cols a multiple of 32).
  void quantize(const float* x, std::size_t rows, std::size_t cols) {
    const std::size_t blocks = rows * (cols / detail::block_elements);
    cols_ = cols;
    quants_.resize(rows * cols);
    scales_.resize(blocks);
    sums_.resize(blocks);
    for (std::size_t b = 0; b < blocks; ++b)
      detail::quantize_block(x + b * detail::block_elements, quants_.data() + b * detail::block_elements, scales_[b],
                             sums_[b]);
  }
  Int8Row row(std::size_t r) const noexcept {
    const std::size_t blocks = cols_ / detail::block_elements;
    return {quants_.data() + r * cols_, scales_.data() + r * blocks, sums_.data() + r * blocks};
  }

 private:
  std::size_t cols_ = 0;
  std::vector<std::int8_t> quants_;
  std::vector<float> scales_, sums_;
};

// As dot_rows for Q4_1 and Q8_0 rows against `count` rounded activation rows (x.row(r)); F32 rows
// are not rounded: callers take dot_rows for them.
inline void dot_rows_int8(io::GgmlType type, const std::byte* row, std::size_t cols, const Int8Activations& x,
                          std::size_t count, float* out, std::size_t out_stride) noexcept {
  for (std::size_t r = 0; r < count; ++r)
    out[r * out_stride] = type == io::GgmlType::q4_1 ? detail::dot_int8<detail::Q4_1Int8>(row, cols, x.row(r))
                                                     : detail::dot_int8<detail::Q8_0Int8>(row, cols, x.row(r));
}

}  // namespace act::model
