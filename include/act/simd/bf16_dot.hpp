#pragma once
// bfloat16 products with float32 accumulation (AVX-512 BF16, vdpbf16ps) for the fused kernel's bf16
// path: Q K^T over a bfloat16 key cache and P V over a bfloat16 value cache, each instruction
// multiplying pairs of bfloat16 and adding both products to a float lane (twice the multiply-adds
// of a float FMA). xsimd 8.1 has no bfloat16 type, so this header is intrinsics, compiled only
// where the translation unit enables AVX-512 BF16 (act::native on such a CPU, or the caller's
// flags); the same instruction serves the model's bf16 GEMM (Bf16Products at the end of this
// file, for dot_block.hpp). The dispatch is at compile time, and elsewhere bf16_dot_compiled is false and the kernels
// take their float path (K and V widened exactly).
//
// Layouts (32-bit words of two bfloat16, low half first, 64-byte aligned):
//   query pairs   [dim / 2][width]    (q[lane][2p], q[lane][2p + 1]) * scale, rounded
//   key pairs     [dim / 2][stride]   (k[j][2p], k[j][2p + 1]) for consecutive keys j < stride
//   weight pairs  [keys / 2][width]   (w[2p][lane], w[2p + 1][lane]), rounded; an odd count's last
//                                     pair holds 0 for the missing key
//   pair rows     [width][dim]        P V accumulators in chunk order: each 32-column chunk of a
//                                     row holds columns {0-3, 8-11, 16-19, 24-27} then
//                                     {4-7, 12-15, ...} (the order vpunpck{l,h}wd produce);
//                                     unpermute_pair_rows() restores column order
#include <act/core/half.hpp>
#include <act/simd/batch.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__AVX512BF16__) && defined(__AVX512BW__) && defined(__AVX512F__)
#include <immintrin.h>
#define ACT_SIMD_BF16_DOT 1
#endif

namespace act::simd {

#ifdef ACT_SIMD_BF16_DOT
inline constexpr bool bf16_dot_compiled = true;
#else
inline constexpr bool bf16_dot_compiled = false;
#endif

// Columns one P V step covers: a 512-bit row load of 32 bfloat16. Head dimensions that are not a
// multiple of it take the float path.
inline constexpr std::size_t bf16_chunk = 32;

#ifdef ACT_SIMD_BF16_DOT
static_assert(width == 16);

inline __m512bh as_bf16(__m512i words) noexcept { return (__m512bh)words; }

// Lane `lane` of the query pairs panel from one query row (dim a multiple of bf16_chunk): the row
// times `scale`, rounded to bfloat16 (to nearest even), 32 columns = 16 pairs per conversion.
inline void load_query_pairs(const float* row, std::size_t dim, float scale, std::size_t lane,
                             std::uint32_t* panel) noexcept {
  const __m512 factor = _mm512_set1_ps(scale);
  alignas(64) std::uint32_t pairs[16];
  for (std::size_t column = 0; column < dim; column += bf16_chunk) {
    const __m512 low = _mm512_mul_ps(_mm512_loadu_ps(row + column), factor);
    const __m512 high = _mm512_mul_ps(_mm512_loadu_ps(row + column + 16), factor);
    _mm512_store_si512(pairs, (__m512i)_mm512_cvtne2ps_pbh(high, low));  // columns in order: pair t = (2t, 2t + 1)
    for (std::size_t t = 0; t < 16; ++t) panel[(column / 2 + t) * width + lane] = pairs[t];
  }
}

// acc[j][lane] = sum_p query pairs[p][lane] . key_pair(p, j) for Keys keys (Keys independent
// chains: vdpbf16ps has a longer latency than an FMA).
template <std::size_t Keys, class KeyPair>
void dot_key_pairs(const std::uint32_t* panel, std::size_t pairs, KeyPair key_pair, Floats (&acc)[Keys]) noexcept {
  // Accumulated in acc itself: a local __m512 array copied out at the end became a memcpy call.
  ACT_UNROLL for (std::size_t j = 0; j < Keys; ++j) acc[j] = _mm512_setzero_ps();
  for (std::size_t p = 0; p < pairs; ++p) {
    const __m512bh query = as_bf16(_mm512_load_si512(panel + p * width));
    ACT_UNROLL for (std::size_t j = 0; j < Keys; ++j) {
      const __m512i key = _mm512_set1_epi32(static_cast<int>(key_pair(p, j)));
      acc[j] = _mm512_dpbf16_ps(acc[j], query, as_bf16(key));
    }
  }
}

// Q K^T products for the fused kernel's score tiles: acc[j][lane] = q[lane] . k[first + j] with
// the query pairs panel above (`pairs` = dim / 2), reading each key pair from its row (any rows,
// e.g. the chosen sinks). 12 keys per call: more spill the row pointers.
struct Bf16Dot {
  static constexpr std::size_t group = 12;
  static constexpr bool reads_past_range = false;  // rows past the keys may not exist
  const std::uint32_t* panel;
  std::size_t pairs;

  template <std::size_t Keys, class Rows>
  void operator()(const Rows& keys, std::size_t first, Floats (&acc)[Keys]) const noexcept {
    const BFloat16* rows[Keys];
    ACT_UNROLL for (std::size_t j = 0; j < Keys; ++j) rows[j] = keys[first + j];
    dot_key_pairs<Keys>(
        panel, pairs,
        [&](std::size_t p, std::size_t j) {
          std::uint32_t key;
          std::memcpy(&key, rows[j] + 2 * p, sizeof key);
          return key;
        },
        acc);
  }
};

// Key pairs panel [dim / 2][stride] of consecutive keys [0, count) (stride >= count): entry (p, j)
// holds (k[j][2p], k[j][2p + 1]). Built once per KV head and thread, it serves every query block
// and every query head of the group; 16 keys at a time, each pair one gather and one store.
template <class Rows>
void load_key_pairs(const Rows& keys, std::size_t count, std::size_t dim, std::size_t stride,
                    std::uint32_t* panel) noexcept {
  static_assert(Rows::consecutive);
  std::size_t j = 0;
  if (keys.stride > 0 && keys.stride <= std::ptrdiff_t{INT32_MAX} / std::ptrdiff_t{width}) {
    // Element offsets of the 16 rows from the first (scale 2: a row need not start on a word).
    const __m512i rows = _mm512_mullo_epi32(_mm512_set1_epi32(static_cast<int>(keys.stride)),
                                            _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    for (; j + width <= count; j += width)
      for (std::size_t p = 0; p < dim / 2; ++p)
        _mm512_storeu_si512(panel + p * stride + j, _mm512_i32gather_epi32(rows, keys[j] + 2 * p, 2));
  }
  for (; j < count; ++j) {
    const BFloat16* row = keys[j];
    for (std::size_t p = 0; p < dim / 2; ++p) std::memcpy(panel + p * stride + j, row + 2 * p, sizeof(std::uint32_t));
  }
}

// Bf16Dot over consecutive keys [0, count) through their key pairs panel: the pairs of a call's
// keys sit side by side, so one pointer with constant offsets addresses them all (the row pointers
// spilled past 12 keys, and reloading them cost an instruction per product), and 16 chains fit.
struct Bf16PanelDot {
  static constexpr std::size_t group = 16;
  // The panel's rows hold group - 1 words past the last key (see the caller's stride), so a call
  // may start at any key before the end.
  static constexpr bool reads_past_range = true;
  const std::uint32_t* panel;
  std::size_t pairs;
  const std::uint32_t* key_pairs;
  std::size_t stride;

  // The same panel from key `first` on, as key 0.
  Bf16PanelDot from(std::size_t first) const noexcept { return {panel, pairs, key_pairs + first, stride}; }

  template <std::size_t Keys, class Rows>
  void operator()(const Rows&, std::size_t first, Floats (&acc)[Keys]) const noexcept {
    static_assert(Rows::consecutive, "the key pairs panel holds consecutive keys");
    const std::uint32_t* keys = key_pairs + first;
    dot_key_pairs<Keys>(
        panel, pairs, [&](std::size_t p, std::size_t j) { return keys[p * stride + j]; }, acc);
  }
};

// weights [count][width] (float) -> weight pairs [(count + 1) / 2][width].
inline void pair_weights(const float* weights, std::size_t count, std::uint32_t* pairs) noexcept {
  alignas(64) static constexpr std::uint16_t interleave[32] = {0,  16, 1,  17, 2,  18, 3,  19, 4,  20, 5,
                                                               21, 6,  22, 7,  23, 8,  24, 9,  25, 10, 26,
                                                               11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
  const __m512i order = _mm512_load_si512(interleave);
  for (std::size_t p = 0; 2 * p < count; ++p) {
    const __m512 low = _mm512_load_ps(weights + 2 * p * width);
    const __m512 high = 2 * p + 1 < count ? _mm512_load_ps(weights + (2 * p + 1) * width) : _mm512_setzero_ps();
    const __m512i both = (__m512i)_mm512_cvtne2ps_pbh(high, low);  // low's 16 values, then high's
    _mm512_store_si512(pairs + p * width, _mm512_permutexvar_epi16(order, both));
  }
}

// The value pairs of keys (2p, 2p + 1) for one 32-column chunk, interleaved per column: the low
// vector holds columns {0-3, 8-11, 16-19, 24-27}, the high one the others. A missing second key
// (odd count) reads as zeros, not past the rows.
template <class Rows>
void value_pairs(const Rows& values, std::size_t p, std::size_t count, std::size_t column, __m512bh& low,
                 __m512bh& high) noexcept {
  const __m512i first = _mm512_loadu_si512(values[2 * p] + column);
  const __m512i second = 2 * p + 1 < count ? _mm512_loadu_si512(values[2 * p + 1] + column) : _mm512_setzero_si512();
  low = as_bf16(_mm512_unpacklo_epi16(first, second));
  high = as_bf16(_mm512_unpackhi_epi16(first, second));
}

// rows[lane][chunk] += sum_j w[j][lane] v[j][chunk columns] for lanes [first_lane, first_lane + 8)
// and the 32-column chunk at `column`, in chunk order: 16 accumulators, 8 broadcast weight pairs
// and 2 value loads per 16 instructions (each two multiply-adds per lane).
template <class Rows>
void accumulate_pair_block(const std::uint32_t* weight_pairs, std::size_t count, const Rows& values,
                           std::size_t first_lane, std::size_t column, float* rows, std::size_t dim) noexcept {
  constexpr std::size_t lanes = 8;
  __m512 acc[lanes][2];
  ACT_UNROLL for (std::size_t r = 0; r < lanes; ++r) ACT_UNROLL for (std::size_t h = 0; h < 2; ++h) acc[r][h] =
      _mm512_load_ps(rows + (first_lane + r) * dim + column + h * 16);
  for (std::size_t p = 0; 2 * p < count; ++p) {
    __m512bh low, high;
    value_pairs(values, p, count, column, low, high);
    const std::uint32_t* weight = weight_pairs + p * width + first_lane;
    ACT_UNROLL for (std::size_t r = 0; r < lanes; ++r) {
      const __m512bh w = as_bf16(_mm512_set1_epi32(static_cast<int>(weight[r])));
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], w, low);
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], w, high);
    }
  }
  ACT_UNROLL for (std::size_t r = 0; r < lanes; ++r) ACT_UNROLL for (std::size_t h = 0; h < 2; ++h)
      _mm512_store_ps(rows + (first_lane + r) * dim + column + h * 16, acc[r][h]);
}

// Pair rows [width][dim] += the tile's P V (dim a multiple of bf16_chunk).
template <class Rows>
void accumulate_pair_rows(const std::uint32_t* weight_pairs, std::size_t count, const Rows& values, std::size_t dim,
                          float* rows) noexcept {
  for (std::size_t lane = 0; lane < width; lane += 8)
    for (std::size_t column = 0; column < dim; column += bf16_chunk)
      accumulate_pair_block(weight_pairs, count, values, lane, column, rows, dim);
}

// Pair rows [width][dim] in chunk order -> column order, in place.
inline void unpermute_pair_rows(float* rows, std::size_t dim) noexcept {
  // Column c of a chunk sits in the low vector at 4 (c / 8) + c % 8 when c % 8 < 4, else in the
  // high one (index 16 + ... for permutex2var) at 4 (c / 8) + c % 8 - 4.
  alignas(64) static constexpr std::int32_t first_half[16] = {0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23};
  alignas(64) static constexpr std::int32_t second_half[16] = {8,  9,  10, 11, 24, 25, 26, 27,
                                                               12, 13, 14, 15, 28, 29, 30, 31};
  const __m512i first = _mm512_load_si512(first_half), second = _mm512_load_si512(second_half);
  for (std::size_t lane = 0; lane < width; ++lane) {
    for (std::size_t column = 0; column < dim; column += bf16_chunk) {
      float* chunk = rows + lane * dim + column;
      const __m512 low = _mm512_load_ps(chunk), high = _mm512_load_ps(chunk + 16);
      _mm512_store_ps(chunk, _mm512_permutex2var_ps(low, first, high));
      _mm512_store_ps(chunk + 16, _mm512_permutex2var_ps(low, second, high));
    }
  }
}

// --- Dot products of bfloat16 rows, for the model's bf16 GEMM (model/bf16_gemm.hpp) ---

// `count` floats rounded to bfloat16 (to nearest even), then zeros up to `padded`, a multiple of
// bf16_chunk; `out` 64-byte aligned.
inline void round_row(const float* row, std::size_t count, std::size_t padded, std::uint16_t* out) noexcept {
  std::size_t column = 0;
  for (; column + bf16_chunk <= count; column += bf16_chunk) {
    const __m512 low = _mm512_loadu_ps(row + column), high = _mm512_loadu_ps(row + column + 16);
    _mm512_store_si512(out + column, (__m512i)_mm512_cvtne2ps_pbh(high, low));
  }
  if (column == padded) return;
  alignas(64) float tail[bf16_chunk] = {};
  std::memcpy(tail, row + column, (count - column) * sizeof(float));
  _mm512_store_si512(out + column, (__m512i)_mm512_cvtne2ps_pbh(_mm512_load_ps(tail + 16), _mm512_load_ps(tail)));
  for (column += bf16_chunk; column < padded; column += bf16_chunk)
    _mm512_store_si512(out + column, _mm512_setzero_si512());
}

// Products of bfloat16 rows for dot_block (dot_block.hpp): 32 values per register, two products
// per float lane and instruction.
struct Bf16Products {
  using Element = std::uint16_t;
  using Operand = __m512bh;
  static constexpr std::size_t step = bf16_chunk;
  static Operand load(const std::uint16_t* p) noexcept { return as_bf16(_mm512_load_si512(p)); }
  static Floats multiply_add(Operand a, Operand b, Floats sum) noexcept { return _mm512_dpbf16_ps(sum, a, b); }
};
#endif

}  // namespace act::simd
