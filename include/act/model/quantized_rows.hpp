#pragma once
// Fast decoding of weight rows stored as F32, Q8_0 or Q4_1 (the types of llama GGUFs such as
// SmolLM2's): a row is read block by block into registers, then either dotted with activation
// rows (decode: the weights are read once, in their compact form; each block's quants meet the
// activations with its scale and minimum factored out) or stored as floats (prefill: tiles for a
// GEMM). Arithmetic is on xsimd batches, as wide as the build allows (AVX-512 decodes a block in
// half the instructions of AVX2: 1.6x faster on Zen 4); only widening bytes to floats has no
// portable xsimd form and is written per instruction set. Every value is decoded exactly (see
// quant_blocks.hpp), so all builds agree up to the order and grouping of float sums.
#include <act/io/ggml_types.hpp>
#include <act/io/quant_blocks.hpp>
#include <act/model/vector_ops.hpp>
#include <act/simd/widen.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace act::model {

// Types these kernels read directly; others are dequantised to F32 when a model is loaded.
constexpr bool has_fast_rows(io::GgmlType type) noexcept {
  return type == io::GgmlType::f32 || type == io::GgmlType::q8_0 || type == io::GgmlType::q4_1;
}

namespace detail {

inline constexpr std::size_t block_elements = 32;

// Blocks are read straight from the file bytes, which carry no alignment guarantee: scalar fields
// through memcpy, quants through unaligned vector loads. (Copying a whole block to the stack first
// would make the vector load straddle two smaller stores and stall store-to-load forwarding.)
inline std::uint16_t read_half(const std::byte* bytes) noexcept {
  std::uint16_t half;
  std::memcpy(&half, bytes, sizeof half);
  return half;
}

struct ScaleAndMin {
  float scale, min;
};

// d and m of a Q4_1 block: adjacent halves, so F16C converts both at once (by hand: xsimd 8 has
// no half-precision type).
inline ScaleAndMin read_scale_and_min(const std::byte* block) noexcept {
  static_assert(offsetof(io::BlockQ4_1, d) == 0 && offsetof(io::BlockQ4_1, m) == 2);
#ifdef __F16C__
  std::uint32_t halves;
  std::memcpy(&halves, block, sizeof halves);
  const __m128 both = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(halves)));
  return {_mm_cvtss_f32(both), _mm_cvtss_f32(_mm_movehdup_ps(both))};
#else
  return {f16_to_f32(read_half(block)), f16_to_f32(read_half(block + 2))};
#endif
}

// Blocks are decoded in `lanes`-wide float batches; only widening bytes to floats is written per
// instruction set.
using simd::Floats;
using simd::half_to_float;
using simd::widen;
inline constexpr std::size_t lanes = Floats::size;
inline constexpr std::size_t groups = block_elements / lanes;

// The 32 quants of a Q4_1 block, one per byte: low nibbles are elements 0..15, high ones 16..31.
// SSE2 by hand: a block's 16 packed bytes are narrower than xsimd 8's byte batch on AVX2/AVX-512,
// which has no half- or quarter-width load.
inline void unpack_nibbles(const std::byte* packed, std::uint8_t* quants) noexcept {
#ifdef __SSE2__
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i_u*>(packed));
  const __m128i nibble = _mm_set1_epi8(0x0F);
  _mm_storeu_si128(reinterpret_cast<__m128i_u*>(quants), _mm_and_si128(bytes, nibble));
  _mm_storeu_si128(reinterpret_cast<__m128i_u*>(quants + 16), _mm_and_si128(_mm_srli_epi16(bytes, 4), nibble));
#else
  for (std::size_t j = 0; j < 16; ++j) {
    const auto byte = static_cast<std::uint8_t>(packed[j]);
    quants[j] = byte & 0x0F;
    quants[j + 16] = byte >> 4;
  }
#endif
}

// A block's quants as float batches with its scale and (Q4_1) minimum: w = scale * q + min.
struct QuantBlock {
  Floats q[groups];
  float scale, min;
};

template <class Block>
inline constexpr bool has_min = std::is_same_v<Block, io::BlockQ4_1>;

template <class Block>
QuantBlock quants_of(const std::byte* block) noexcept;

template <>
inline QuantBlock quants_of<io::BlockQ8_0>(const std::byte* block) noexcept {
  const auto* quants = reinterpret_cast<const std::int8_t*>(block + offsetof(io::BlockQ8_0, qs));
  QuantBlock out{.q = {}, .scale = half_to_float(read_half(block + offsetof(io::BlockQ8_0, d))), .min = 0.0f};
  ACT_UNROLL for (std::size_t g = 0; g < groups; ++g) out.q[g] = widen(quants + g * lanes);
  return out;
}

// The quants of a Q4_1 block as floats, `lanes` per batch. With AVX-512 the 16 packed bytes widen
// to 16 integer lanes in one instruction, and the low and high nibbles (elements 0..15 and 16..31)
// come from a mask and a shift in registers: half the instructions of unpacking through the stack,
// where matrix-vector products in decode spend most of their time. AVX2 does the same in two
// halves of 8 bytes.
inline void q4_1_quants(const std::byte* packed, Floats (&quants)[groups]) noexcept {
#if defined(ACT_SIMD_WIDEN_AVX512)
  if constexpr (lanes == 16) {
    const __m512i bytes = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i_u*>(packed)));
    quants[0] = _mm512_cvtepi32_ps(_mm512_and_si512(bytes, _mm512_set1_epi32(0x0F)));
    quants[1] = _mm512_cvtepi32_ps(_mm512_srli_epi32(bytes, 4));
    return;
  }
#elif defined(ACT_SIMD_WIDEN_AVX2)
  if constexpr (lanes == 8) {  // bytes 0..7 hold elements 0..7 and 16..23, bytes 8..15 the others
    const auto half = [packed](std::size_t offset) {  // widened straight from memory: no shuffle between
      return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i_u*>(packed + offset)));
    };
    const __m256i first = half(0), second = half(8);
    const __m256i nibble = _mm256_set1_epi32(0x0F);
    quants[0] = _mm256_cvtepi32_ps(_mm256_and_si256(first, nibble));
    quants[1] = _mm256_cvtepi32_ps(_mm256_and_si256(second, nibble));
    quants[2] = _mm256_cvtepi32_ps(_mm256_srli_epi32(first, 4));
    quants[3] = _mm256_cvtepi32_ps(_mm256_srli_epi32(second, 4));
    return;
  }
#endif
  alignas(32) std::uint8_t unpacked[block_elements];
  unpack_nibbles(packed, unpacked);
  ACT_UNROLL for (std::size_t g = 0; g < groups; ++g) quants[g] = widen(unpacked + g * lanes);
}

template <>
inline QuantBlock quants_of<io::BlockQ4_1>(const std::byte* block) noexcept {
  const ScaleAndMin dm = read_scale_and_min(block);
  QuantBlock out{.q = {}, .scale = dm.scale, .min = dm.min};
  q4_1_quants(block + offsetof(io::BlockQ4_1, qs), out.q);
  return out;
}

// A block's weights as floats, exactly (one rounding of scale * q + min).
struct DecodedBlock {
  Floats v[groups];
};

template <class Block>
DecodedBlock decode(const std::byte* block) noexcept {
  const QuantBlock w = quants_of<Block>(block);
  const Floats scale(w.scale), min(w.min);
  DecodedBlock out;
  ACT_UNROLL for (std::size_t g = 0; g < groups; ++g) {
    out.v[g] = has_min<Block> ? simd::fma(w.q[g], scale, min) : w.q[g] * scale;
  }
  return out;
}

// One weight row's dot product with one activation row, block by block with the scale and minimum
// factored out: w . x = sum_b scale_b (q_b . x_b) + min_b s_b, where s_b is the activation block's
// sum (FloatActivations). A batch of quants then costs one multiply-add, not a decoding one and a
// product one (decode's products 0.85-0.93x the time on AVX2, level on AVX-512).
template <class Block>
struct Accumulator {
  Floats scaled = Floats(0.0f);  // sum_b scale_b (q_b . x_b), per lane
  float offsets = 0.0f;          // Q4_1: sum_b min_b s_b
  void add(const QuantBlock& w, const float* x, float x_sum) noexcept {
    Floats products = w.q[0] * Floats::load_unaligned(x);
    ACT_UNROLL for (std::size_t g = 1; g < groups; ++g) {
      products = simd::fma(w.q[g], Floats::load_unaligned(x + g * lanes), products);
    }
    scaled = simd::fma(products, Floats(w.scale), scaled);
    if constexpr (has_min<Block>) offsets = std::fma(w.min, x_sum, offsets);
  }
  float total() const noexcept { return xsimd::hadd(scaled) + offsets; }
};

inline void store(const DecodedBlock& w, float* out) noexcept {
  ACT_UNROLL for (std::size_t g = 0; g < groups; ++g) w.v[g].store_unaligned(out + g * lanes);
}

// Calls visit(block index, decoded block) for each block of a row of `cols` elements.
template <class Block, class Visit>
void for_each_block(const std::byte* row, std::size_t cols, Visit&& visit) {
  for (std::size_t b = 0; b < cols / block_elements; ++b) visit(b, decode<Block>(row + b * sizeof(Block)));
}

}  // namespace detail

// Activation rows x [rows, cols] for decode's float products, with the sum of each of their blocks
// of 32 (a Q4_1 block's minimum multiplies it, detail::Accumulator), computed once per product
// instead of once per weight row. The rows are read in place; the sums' buffer is kept between calls.
class FloatActivations {
 public:
  void prepare(const float* x, std::size_t rows, std::size_t cols) {
    x_ = x;
    cols_ = cols;
    const std::size_t blocks = cols / detail::block_elements;
    sums_.resize(rows * blocks);
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t b = 0; b < blocks; ++b) sums_[r * blocks + b] = block_sum(row(r) + b * detail::block_elements);
  }
  const float* row(std::size_t r) const noexcept { return x_ + r * cols_; }
  const float* block_sums(std::size_t r) const noexcept { return sums_.data() + r * (cols_ / detail::block_elements); }

 private:
  static float block_sum(const float* x) noexcept {
    simd::Floats sum = simd::Floats::load_unaligned(x);
    ACT_UNROLL for (std::size_t g = 1; g < detail::groups; ++g) {
      sum += simd::Floats::load_unaligned(x + g * detail::lanes);
    }
    return xsimd::hadd(sum);
  }
  const float* x_ = nullptr;
  std::size_t cols_ = 0;
  std::vector<float> sums_;
};

namespace detail {

// out[r * out_stride] = dot(weight row, x.row(first + r)) for r < Rows; the row count is a template
// argument so the accumulators stay in registers.
template <class Block, std::size_t Rows>
void dot_fixed_rows(const std::byte* row, std::size_t cols, const FloatActivations& x, std::size_t first, float* out,
                    std::size_t out_stride) {
  Accumulator<Block> acc[Rows];
  for (std::size_t b = 0; b < cols / block_elements; ++b) {
    const QuantBlock w = quants_of<Block>(row + b * sizeof(Block));
    ACT_UNROLL for (std::size_t r = 0; r < Rows; ++r) {
      acc[r].add(w, x.row(first + r) + b * block_elements, x.block_sums(first + r)[b]);
    }
  }
  ACT_UNROLL for (std::size_t r = 0; r < Rows; ++r) out[r * out_stride] = acc[r].total();
}

// dot_fixed_rows for one row (decode): even and odd blocks in accumulators of their own, two
// independent chains of multiply-adds, so a block does not wait for the previous one's sums.
template <class Block>
float dot_one_row(const std::byte* row, std::size_t cols, const float* x, const float* x_sums) noexcept {
  Accumulator<Block> even, odd;
  const std::size_t blocks = cols / block_elements;
  std::size_t b = 0;
  for (; b + 2 <= blocks; b += 2) {
    even.add(quants_of<Block>(row + b * sizeof(Block)), x + b * block_elements, x_sums[b]);
    odd.add(quants_of<Block>(row + (b + 1) * sizeof(Block)), x + (b + 1) * block_elements, x_sums[b + 1]);
  }
  if (b < blocks) even.add(quants_of<Block>(row + b * sizeof(Block)), x + b * block_elements, x_sums[b]);
  return even.total() + odd.total();
}

// As dot_fixed_rows for any count: groups of four activation rows share each block's quants.
template <class Block>
void dot_quantized(const std::byte* row, std::size_t cols, const FloatActivations& x, std::size_t count, float* out,
                   std::size_t out_stride) {
  std::size_t r = 0;
  for (; r + 4 <= count; r += 4) dot_fixed_rows<Block, 4>(row, cols, x, r, out + r * out_stride, out_stride);
  out += r * out_stride;
  switch (count - r) {
    case 3: return dot_fixed_rows<Block, 3>(row, cols, x, r, out, out_stride);
    case 2: return dot_fixed_rows<Block, 2>(row, cols, x, r, out, out_stride);
    case 1: out[0] = dot_one_row<Block>(row, cols, x.row(r), x.block_sums(r)); return;
    default: return;
  }
}

}  // namespace detail

// One weight row against `count` activation rows: out[r * out_stride] = row . x.row(r). `type` must
// satisfy has_fast_rows; quantised rows need cols to be a multiple of 32.
inline void dot_rows(io::GgmlType type, const std::byte* row, std::size_t cols, const FloatActivations& x,
                     std::size_t count, float* out, std::size_t out_stride) {
  switch (type) {
    case io::GgmlType::q4_1: return detail::dot_quantized<io::BlockQ4_1>(row, cols, x, count, out, out_stride);
    case io::GgmlType::q8_0: return detail::dot_quantized<io::BlockQ8_0>(row, cols, x, count, out, out_stride);
    default: {
      const auto* weights = reinterpret_cast<const float*>(row);
      for (std::size_t r = 0; r < count; ++r) out[r * out_stride] = dot(weights, x.row(r), cols);
    }
  }
}

// Decodes one quantised row (Q4_1 or Q8_0) of `cols` elements into `out`.
inline void decode_row(io::GgmlType type, const std::byte* row, std::size_t cols, float* out) {
  const auto store_block = [out](std::size_t b, const detail::DecodedBlock& w) {
    detail::store(w, out + b * detail::block_elements);
  };
  if (type == io::GgmlType::q4_1) {
    detail::for_each_block<io::BlockQ4_1>(row, cols, store_block);
  } else {
    detail::for_each_block<io::BlockQ8_0>(row, cols, store_block);
  }
}

}  // namespace act::model
