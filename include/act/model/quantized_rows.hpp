#pragma once
// Fast decoding of weight rows stored as F32, Q8_0 or Q4_1 (the types of llama GGUFs such as
// SmolLM2's): a row is decoded block by block into registers, then either dotted with activation
// rows (decode: the weights are read once, in their compact form) or stored as floats (prefill:
// tiles for a GEMM). Arithmetic is on xsimd batches, as wide as the build allows (AVX-512 decodes a
// block in half the instructions of AVX2: 1.6x faster on Zen 4); only widening bytes to floats has
// no portable xsimd form and is written per instruction set. Every value is decoded exactly (see
// quant_blocks.hpp), so all builds agree up to summation order.
#include <act/io/ggml_types.hpp>
#include <act/io/quant_blocks.hpp>
#include <act/model/vector_ops.hpp>
#include <act/simd/widen.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

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

struct DecodedBlock {
  Floats v[groups];
};

template <class Block>
DecodedBlock decode(const std::byte* block) noexcept;

template <>
inline DecodedBlock decode<io::BlockQ8_0>(const std::byte* block) noexcept {
  const Floats scale(half_to_float(read_half(block + offsetof(io::BlockQ8_0, d))));
  const auto* quants = reinterpret_cast<const std::int8_t*>(block + offsetof(io::BlockQ8_0, qs));
  DecodedBlock out;
  for (std::size_t g = 0; g < groups; ++g) out.v[g] = widen(quants + g * lanes) * scale;
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
  for (std::size_t g = 0; g < groups; ++g) quants[g] = widen(unpacked + g * lanes);
}

template <>
inline DecodedBlock decode<io::BlockQ4_1>(const std::byte* block) noexcept {
  const ScaleAndMin dm = read_scale_and_min(block);
  const Floats scale(dm.scale), offset(dm.min);
  Floats quants[groups];
  q4_1_quants(block + offsetof(io::BlockQ4_1, qs), quants);
  DecodedBlock out;
  for (std::size_t g = 0; g < groups; ++g) out.v[g] = simd::fma(quants[g], scale, offset);
  return out;
}

// One sum per batch of the block: independent FMA chains instead of one long one.
struct Accumulator {
  std::array<Floats, groups> sum = simd::zeros<groups>();
  void add(const DecodedBlock& w, const float* x) noexcept {
    for (std::size_t g = 0; g < groups; ++g) sum[g] = simd::fma(w.v[g], Floats::load_unaligned(x + g * lanes), sum[g]);
  }
  float total() const noexcept {
    Floats all = sum[0];
    for (std::size_t g = 1; g < groups; ++g) all += sum[g];
    return xsimd::hadd(all);
  }
};

inline void store(const DecodedBlock& w, float* out) noexcept {
  for (std::size_t g = 0; g < groups; ++g) w.v[g].store_unaligned(out + g * lanes);
}

// Calls visit(block index, decoded block) for each block of a row of `cols` elements.
template <class Block, class Visit>
void for_each_block(const std::byte* row, std::size_t cols, Visit&& visit) {
  for (std::size_t b = 0; b < cols / block_elements; ++b) visit(b, decode<Block>(row + b * sizeof(Block)));
}

// out[r * out_stride] = dot(weight row, x + r * x_stride) for r < Rows; the row count is a
// template argument so the accumulators stay in registers.
template <class Block, std::size_t Rows>
void dot_fixed_rows(const std::byte* row, std::size_t cols, const float* x, std::size_t x_stride, float* out,
                    std::size_t out_stride) {
  Accumulator acc[Rows];
  for_each_block<Block>(row, cols, [&](std::size_t b, const DecodedBlock& w) {
    for (std::size_t r = 0; r < Rows; ++r) acc[r].add(w, x + r * x_stride + b * block_elements);
  });
  for (std::size_t r = 0; r < Rows; ++r) out[r * out_stride] = acc[r].total();
}

// dot_fixed_rows for one row (decode): even and odd blocks in accumulators of their own, two
// independent chains of multiply-adds, so a block does not wait for the previous one's sums.
template <class Block>
float dot_one_row(const std::byte* row, std::size_t cols, const float* x) noexcept {
  Accumulator even, odd;
  const std::size_t blocks = cols / block_elements;
  std::size_t b = 0;
  for (; b + 2 <= blocks; b += 2) {
    even.add(decode<Block>(row + b * sizeof(Block)), x + b * block_elements);
    odd.add(decode<Block>(row + (b + 1) * sizeof(Block)), x + (b + 1) * block_elements);
  }
  if (b < blocks) even.add(decode<Block>(row + b * sizeof(Block)), x + b * block_elements);
  return even.total() + odd.total();
}

// As dot_fixed_rows for any count: groups of four activation rows share each decoded block.
template <class Block>
void dot_quantized(const std::byte* row, std::size_t cols, const float* x, std::size_t x_stride, std::size_t count,
                   float* out, std::size_t out_stride) {
  std::size_t r = 0;
  for (; r + 4 <= count; r += 4)
    dot_fixed_rows<Block, 4>(row, cols, x + r * x_stride, x_stride, out + r * out_stride, out_stride);
  x += r * x_stride;
  out += r * out_stride;
  switch (count - r) {
    case 3: return dot_fixed_rows<Block, 3>(row, cols, x, x_stride, out, out_stride);
    case 2: return dot_fixed_rows<Block, 2>(row, cols, x, x_stride, out, out_stride);
    case 1: out[0] = dot_one_row<Block>(row, cols, x); return;
    default: return;
  }
}

}  // namespace detail

// One weight row against `count` activation rows: out[r * out_stride] = row . x[r * x_stride ..].
// `type` must satisfy has_fast_rows; quantised rows need cols to be a multiple of 32.
inline void dot_rows(io::GgmlType type, const std::byte* row, std::size_t cols, const float* x, std::size_t x_stride,
                     std::size_t count, float* out, std::size_t out_stride) {
  switch (type) {
    case io::GgmlType::q4_1:
      return detail::dot_quantized<io::BlockQ4_1>(row, cols, x, x_stride, count, out, out_stride);
    case io::GgmlType::q8_0:
      return detail::dot_quantized<io::BlockQ8_0>(row, cols, x, x_stride, count, out, out_stride);
    default: {
      const auto* weights = reinterpret_cast<const float*>(row);
      for (std::size_t r = 0; r < count; ++r) out[r * out_stride] = dot(weights, x + r * x_stride, cols);
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
