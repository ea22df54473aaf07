#pragma once
// Lane-parallel building blocks of the fused kernels, on the base layer's float batch. A block of `width` query rows is
// processed with one query per SIMD lane, so every per-row quantity of the softmax (max, sum, lse, validity) is a
// lane-wise operation, and both products are broadcast x vector FMA chains on the operands as the engine stores them
// (no packed copy of K or V). The only horizontal step is the column sums of the statistics: one transpose-reduce per
// `width` keys.
//
// Layouts (float, 64-byte aligned):
//   query panel [dim][width]   q[first + lane][c] * scale; lanes past the block hold 0
//   score tile  [keys][width]  row j holds key j's score (later weight) for every query lane
//   value rows  [width][vector_columns(dim)]   output accumulator sum_j weight[j][lane] * v[j][c]
//                              for the columns that fill whole SIMD vectors
//   value panel [dim][width]   the same, transposed, for any columns (the tail, and sink sums)

#include <act/simd/aligned_vector.hpp>
#include <act/simd/batch.hpp>
#include <act/simd/lane_totals.hpp>
#include <act/simd/widen.hpp>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace act::simd {

// Key or value rows j = 0, 1, ... of one head, consecutive in the sequence; elements are float,
// Half or BFloat16 (widened in registers where they are read).
template <class T>
struct ConsecutiveRows {
  static constexpr bool consecutive = true;
  const T* base;
  std::ptrdiff_t stride;
  const T* operator[](std::size_t j) const noexcept { return base + static_cast<std::ptrdiff_t>(j) * stride; }
  std::size_t column(std::size_t j) const noexcept { return j; }
};
template <class T>
ConsecutiveRows(T*, std::ptrdiff_t) -> ConsecutiveRows<std::remove_const_t<T>>;

// The rows of chosen columns (sorted), e.g. the sinks of a head.
template <class T>
struct ChosenRows {
  static constexpr bool consecutive = false;
  const T* base;
  std::ptrdiff_t stride;
  const std::uint32_t* columns;
  const T* operator[](std::size_t j) const noexcept { return base + static_cast<std::ptrdiff_t>(columns[j]) * stride; }
  std::size_t column(std::size_t j) const noexcept { return columns[j]; }
};
template <class T>
ChosenRows(T*, std::ptrdiff_t, const std::uint32_t*) -> ChosenRows<std::remove_const_t<T>>;

// Lane-wise summary of the scores written so far.
struct ScoreSummary {
  Floats max = Floats(-infinity);
  Lanes bad = Lanes(false);  // a NaN or +inf score was seen (both fail `s < +inf`)

  void add(Floats score) noexcept {
    max = xsimd::max(max, score);
    bad = bad | !(score < Floats(infinity));
  }
};

// Mask entries by their bits (float32, or IEEE half as std::uint16_t): +0 exactly (-0 and NaN are
// not), and -inf, the hidden key (one bit pattern per type).
template <class Element>
using MaskBits = std::conditional_t<std::is_same_v<Element, float>, std::uint32_t, std::uint16_t>;

template <class Element>
inline constexpr MaskBits<Element> hidden_bits = std::is_same_v<Element, float> ? 0xFF800000u : 0xFC00u;

template <class Element>
MaskBits<Element> bits_of(Element x) noexcept {
  return std::bit_cast<MaskBits<Element>>(x);
}

// Mask entries checked at once by all_bits: one SIMD register's worth (16 floats or 32 halves).
template <class Element>
inline constexpr std::size_t mask_span = xsimd::batch<std::uint32_t>::size * sizeof(std::uint32_t) / sizeof(Element);

// Whether the Registers * mask_span entries from `entries` all have the bits `pattern`: their
// differences from it OR-ed together, one compare and branch (a scan of the mask reads every entry
// once, 19 MB for a 2,048-query call over 2,304 cells: several registers per test make it cheaper).
template <class Element, std::size_t Registers = 1>
bool all_bits(const Element* entries, MaskBits<Element> pattern) noexcept {
  using Words = xsimd::batch<std::uint32_t>;
  const Words word(static_cast<std::uint32_t>(sizeof(Element) == 4 ? pattern : (pattern << 16) | pattern));
  // Intrinsic loads may alias any type.
  const auto* words = reinterpret_cast<const std::uint32_t*>(entries);
  Words differences(0u);
  ACT_UNROLL for (std::size_t r = 0; r < Registers; ++r) {
    differences |= Words::load_unaligned(words + r * Words::size) ^ word;
  }
  return xsimd::all(differences == Words(0u));
}

// How a score tile hides keys from lanes.
enum class KeyMask {
  none,   // every lane sees every key
  count,  // a key whose column is not below the lane's `visible` count scores -inf
  bias,   // bias[j][lane] is added to the score; -inf hides the key (whatever the product gave)
};

// Q K^T in float32 for a query panel: acc[j][lane] = panel[.][lane] . keys[first + j] (keys widened
// exactly). Keys independent FMA chains hide the FMA latency; `group` keys per call keep both FMA
// pipes busy. (simd/bf16_dot.hpp has the bfloat16 counterpart, Bf16Dot.)
struct FloatDot {
  static constexpr std::size_t group = 8;
  static constexpr bool reads_past_range = false;  // rows past the keys may not exist
  const float* panel;
  std::size_t dim;
  // [group][dim] floats: 16-bit key rows are widened here once per group, so the FMA chains below
  // take each key element as a broadcast memory operand, as they do for float32 rows (a scalar
  // conversion and broadcast per multiply-add made half caches 1.3x slower than float32).
  float* widened = nullptr;

  template <std::size_t Keys, class Rows>
  void operator()(const Rows& keys, std::size_t first, Floats (&acc)[Keys]) const noexcept {
    const float* rows[Keys];
    widen_rows<Keys>(keys, first, rows);
    ACT_UNROLL for (std::size_t j = 0; j < Keys; ++j) acc[j] = Floats(0.0f);
    for (std::size_t c = 0; c < dim; ++c) {
      const Floats query = load(panel + c * width);
      ACT_UNROLL for (std::size_t j = 0; j < Keys; ++j) acc[j] = simd::fma(query, Floats(rows[j][c]), acc[j]);
    }
  }

 private:
  // Float32 rows are read in place, 16-bit rows widened into the buffer.
  template <std::size_t Keys, class Rows>
  void widen_rows(const Rows& keys, std::size_t first, const float* (&rows)[Keys]) const noexcept {
    ACT_UNROLL for (std::size_t j = 0; j < Keys; ++j) {
      if constexpr (std::is_same_v<std::remove_cvref_t<decltype(*keys[0])>, float>) {
        rows[j] = keys[first + j];
      } else {
        widen_row(keys[first + j], dim, widened + j * dim);
        rows[j] = widened + j * dim;
      }
    }
  }
};

// Scores of rows [first, first + Keys) into out[j][lane] by `dot`, masked as Mask says. Always
// inlined: called out of line (GCC 12's choice once the sweep grew), the summary and accumulators
// went through memory for every group and float32 prefill took 1.05x as long.
template <std::size_t Keys, KeyMask Mask, class Dot, class Rows>
[[gnu::always_inline]] inline void score_group(const Dot& dot, const Rows& keys, std::size_t first, Floats visible,
                                               const float* bias, float* out, ScoreSummary& summary) noexcept {
  Floats acc[Keys];
  dot.template operator()<Keys>(keys, first, acc);
  ScoreSummary local = summary;  // in registers: `out` may alias `summary` as far as the compiler knows
  ACT_UNROLL for (std::size_t j = 0; j < Keys; ++j) {
    Floats score = acc[j];
    if constexpr (Mask == KeyMask::count) {
      const Floats column(static_cast<float>(keys.column(first + j)));
      score = xsimd::select(column < visible, score, Floats(-infinity));
    } else if constexpr (Mask == KeyMask::bias) {
      const Floats added = load(bias + (first + j) * width);
      score = xsimd::select(added == Floats(-infinity), added, score + added);
    }
    local.add(score);
    score.store_aligned(out + (first + j) * width);
  }
  summary = local;
}

// Scores of the last keys [first, end) of a range (fewer than a group) by a dot whose rows extend
// past the range (Dot::reads_past_range): one group from `first` into a side tile, of which the
// wanted rows are kept. A call per key would run one dependency chain at a time.
template <KeyMask Mask, class Dot, class Rows>
void score_padded_tail(const Dot& dot, const Rows& keys, std::size_t first, std::size_t end, Floats visible, float* out,
                       ScoreSummary& summary) noexcept {
  constexpr std::size_t group = Dot::group;
  alignas(alignment) float tile[group * width];
  ScoreSummary whole_group;  // includes the surplus rows: not kept
  const Rows from_first{keys[first], keys.stride};
  score_group<group, Mask>(dot.from(first), from_first, 0, visible - Floats(static_cast<float>(first)), nullptr, tile,
                           whole_group);
  for (std::size_t j = first; j < end; ++j) {
    const Floats score = load(tile + (j - first) * width);
    summary.add(score);
    score.store_aligned(out + j * width);
  }
}

template <KeyMask Mask, class Dot, class Rows>
void score_range(const Dot& dot, const Rows& keys, std::size_t begin, std::size_t end, Floats visible,
                 const float* bias, float* out, ScoreSummary& summary) noexcept {
  constexpr std::size_t group = Dot::group;
  std::size_t j = begin;
  for (; j + group <= end; j += group) score_group<group, Mask>(dot, keys, j, visible, bias, out, summary);
  if constexpr (Dot::reads_past_range && Mask != KeyMask::bias) {  // the bias has no rows past the range
    if (j < end) score_padded_tail<Mask>(dot, keys, j, end, visible, out, summary);
    return;
  }
  for (; j < end; ++j) score_group<1, Mask>(dot, keys, j, visible, bias, out, summary);
}

// Rows [0, count) of a head's 16-bit keys already widened to float32 (count 0: none), which the
// sweeps read in place of the keys themselves.
struct WidenedPrefix {
  ConsecutiveRows<float> rows{nullptr, 0};
  std::size_t count = 0;
};

// score_range over rows [begin, end): those of the widened prefix from it (16-bit keys scored by
// FloatDot only: the bfloat16 products read 16-bit rows), the others from `keys`.
template <KeyMask Mask, class Dot, class Rows>
void score_split(const Dot& dot, const WidenedPrefix& prefix, const Rows& keys, std::size_t begin, std::size_t end,
                 Floats visible, const float* bias, float* out, ScoreSummary& summary) noexcept {
  using Element = std::remove_cvref_t<decltype(*keys[0])>;
  std::size_t split = begin;
  if constexpr (std::is_same_v<Dot, FloatDot> && !std::is_same_v<Element, float>) {
    split = std::clamp(prefix.count, begin, end);
    score_range<Mask>(dot, prefix.rows, begin, split, visible, bias, out, summary);
  }
  score_range<Mask>(dot, keys, split, end, visible, bias, out, summary);
}

// Scores of rows [0, count) by `dot` (FloatDot, Bf16Dot) into out[j][lane]; rows from `unmasked`
// on are masked by `visible` (rows before it must be visible to every lane). Returns the lane-wise
// summary.
template <class Dot, class Rows>
ScoreSummary score_keys_by(const Dot& dot, const Rows& keys, std::size_t count, std::size_t unmasked, Floats visible,
                           float* out, const WidenedPrefix& prefix = {}) noexcept {
  ScoreSummary summary;
  score_split<KeyMask::none>(dot, prefix, keys, 0, unmasked, visible, nullptr, out, summary);
  score_split<KeyMask::count>(dot, prefix, keys, unmasked, count, visible, nullptr, out, summary);
  return summary;
}

// Scores of rows [0, count) plus bias[j][lane] into out[j][lane] (-inf bias: hidden, scores -inf);
// rows before `unbiased` have bias 0 in every lane of the block and are scored without it.
template <class Dot, class Rows>
ScoreSummary score_keys_biased_by(const Dot& dot, const Rows& keys, std::size_t count, std::size_t unbiased,
                                  const float* bias, float* out, const WidenedPrefix& prefix = {}) noexcept {
  ScoreSummary summary;
  score_split<KeyMask::none>(dot, prefix, keys, 0, unbiased, Floats(0.0f), nullptr, out, summary);
  score_split<KeyMask::bias>(dot, prefix, keys, unbiased, count, Floats(0.0f), bias, out, summary);
  return summary;
}

// The same in float32 for a query panel [dim][width].
template <class Rows>
ScoreSummary score_keys(const float* panel, std::size_t dim, const Rows& keys, std::size_t count, std::size_t unmasked,
                        Floats visible, float* out) noexcept {
  static_assert(std::is_same_v<std::remove_cvref_t<decltype(*keys[0])>, float>,
                "score_keys takes float32 rows (16-bit rows need FloatDot's widening buffer)");
  return score_keys_by(FloatDot{panel, dim}, keys, count, unmasked, visible, out);
}

// weights[j][lane] = exp(weights[j][lane] - shift[lane]) in lanes of `keep`, 0 in the others
// (whatever they held, NaN included). Returns the lane sums.
inline Floats exponentiate(float* weights, std::size_t count, Floats shift, Lanes keep) noexcept {
  Floats sum(0.0f);
  for (std::size_t j = 0; j < count; ++j) {
    float* row = weights + j * width;
    const Floats weight = xsimd::select(keep, xsimd::exp(load(row) - shift), Floats(0.0f));
    weight.store_aligned(row);
    sum += weight;
  }
  return sum;
}

// Lane t of the result: sum over lanes of weights[t][lane] * lane_scale[lane], t < width.
inline Floats lane_sums(const float* weights, Floats lane_scale) noexcept {
  return lane_totals_of([&](std::size_t t) { return load(weights + t * width) * lane_scale; });
}

// sums[j] += sum over lanes of weights[j][lane] * lane_scale[lane], for j in [0, count).
inline void add_column_sums(const float* weights, std::size_t count, Floats lane_scale, float* sums) noexcept {
  std::size_t j = 0;
  for (; j + width <= count; j += width)
    (Floats::load_unaligned(sums + j) + lane_sums(weights + j * width, lane_scale)).store_unaligned(sums + j);
  for (; j < count; ++j) sums[j] += xsimd::hadd(load(weights + j * width) * lane_scale);
}

// counts[j] += sum over lanes of lane_scale[lane] where bias[j][lane] is not -inf, for j < count:
// how many of the chosen lanes (scale 1, others 0) see each key.
inline void add_visible_counts(const float* bias, std::size_t count, Floats lane_scale, float* counts) noexcept {
  alignas(alignment) float seen[width * width];
  alignas(alignment) float sums[width];
  for (std::size_t first = 0; first < count; first += width) {
    const std::size_t keys = count - first < width ? count - first : width;
    for (std::size_t t = 0; t < width; ++t) {
      const Floats shown =
          t < keys ? xsimd::select(load(bias + (first + t) * width) == Floats(-infinity), Floats(0.0f), Floats(1.0f))
                   : Floats(0.0f);
      shown.store_aligned(seen + t * width);
    }
    lane_sums(seen, lane_scale).store_aligned(sums);
    for (std::size_t t = 0; t < keys; ++t) counts[first + t] += sums[t];
  }
}

// panel[c][lane] += sum_j values[j][c] * weights[j][lane] for c in [first_col, first_col + Cols):
// Cols independent accumulators, one broadcast load per FMA.
template <std::size_t Cols, class Rows>
void accumulate_columns(const float* weights, std::size_t count, const Rows& values, std::size_t first_col,
                        float* panel) noexcept {
  Floats acc[Cols];
  ACT_UNROLL for (std::size_t c = 0; c < Cols; ++c) acc[c] = load(panel + (first_col + c) * width);
  for (std::size_t j = 0; j < count; ++j) {
    const Floats weight = load(weights + j * width);
    const auto* row = values[j] + first_col;
    ACT_UNROLL for (std::size_t c = 0; c < Cols; ++c) acc[c] = simd::fma(Floats(widen_scalar(row[c])), weight, acc[c]);
  }
  ACT_UNROLL for (std::size_t c = 0; c < Cols; ++c) acc[c].store_aligned(panel + (first_col + c) * width);
}

// panel[c][lane] += sum_{j < count} values[j][c] * weights[j][lane] for c in [first_col, end_col).
template <class Rows>
void accumulate_values(const float* weights, std::size_t count, const Rows& values, std::size_t first_col,
                       std::size_t end_col, float* panel) noexcept {
  std::size_t c = first_col;
  for (; c + 16 <= end_col; c += 16) accumulate_columns<16>(weights, count, values, c, panel);
  if (end_col - c >= 8) {
    accumulate_columns<8>(weights, count, values, c, panel);
    c += 8;
  }
  if (end_col - c >= 4) {
    accumulate_columns<4>(weights, count, values, c, panel);
    c += 4;
  }
  for (; c < end_col; ++c) accumulate_columns<1>(weights, count, values, c, panel);
}

// Columns of a head that fill whole SIMD vectors (the row-layout accumulator covers these).
inline std::size_t vector_columns(std::size_t dim) noexcept { return dim / width * width; }

// Whether every value of an aligned row of `count` floats (a multiple of width) is finite. Every
// valid lane of every block is checked, so the test runs on whole vectors.
inline bool all_finite(const float* row, std::size_t count) noexcept {
  Lanes bad(false);
  for (std::size_t c = 0; c < count; c += width) bad = bad | !(xsimd::abs(load(row + c)) < Floats(infinity));
  return !xsimd::any(bad);
}

// rows[lane][c] += sum_j weights[j][lane] * values[j][c] for lanes [first_lane, first_lane + Lanes)
// and columns [first_col, first_col + Vectors * width): each broadcast weight feeds Vectors FMAs.
template <std::size_t LaneCount, std::size_t Vectors, class Rows>
void accumulate_row_block(const float* weights, std::size_t count, const Rows& values, std::size_t first_lane,
                          std::size_t first_col, float* rows, std::size_t row_length) noexcept {
  Floats acc[LaneCount][Vectors];
  ACT_UNROLL for (std::size_t r = 0; r < LaneCount; ++r) {
    ACT_UNROLL for (std::size_t v = 0; v < Vectors; ++v) {
      acc[r][v] = load(rows + (first_lane + r) * row_length + first_col + v * width);
    }
  }
  for (std::size_t j = 0; j < count; ++j) {
    const auto* row = values[j] + first_col;
    Floats value[Vectors];
    ACT_UNROLL for (std::size_t v = 0; v < Vectors; ++v) value[v] = widen(row + v * width);
    const float* weight = weights + j * width + first_lane;
    ACT_UNROLL for (std::size_t r = 0; r < LaneCount; ++r) {
      const Floats w(weight[r]);
      ACT_UNROLL for (std::size_t v = 0; v < Vectors; ++v) acc[r][v] = simd::fma(w, value[v], acc[r][v]);
    }
  }
  ACT_UNROLL for (std::size_t r = 0; r < LaneCount; ++r) {
    ACT_UNROLL for (std::size_t v = 0; v < Vectors; ++v) {
      acc[r][v].store_aligned(rows + (first_lane + r) * row_length + first_col + v * width);
    }
  }
}

// rows[lane][c] += sum_{j < count} weights[j][lane] * values[j][c] for every lane and
// c < vector_columns(dim) (rows are vector_columns(dim) floats long). Blocks of 8 lanes x 2 vectors:
// 16 accumulators and 10 loads per 16 FMAs, where the transposed layout needs a load per FMA
// (measured 1.5x faster on AVX-512).
template <class Rows>
void accumulate_value_rows(const float* weights, std::size_t count, const Rows& values, std::size_t dim,
                           float* rows) noexcept {
  constexpr std::size_t lanes_per_block = width < 8 ? width : 8;
  const std::size_t length = vector_columns(dim), vectors = length / width;
  for (std::size_t lane = 0; lane < width; lane += lanes_per_block) {
    std::size_t v = 0;
    for (; v + 2 <= vectors; v += 2)
      accumulate_row_block<lanes_per_block, 2>(weights, count, values, lane, v * width, rows, length);
    if (v < vectors) accumulate_row_block<lanes_per_block, 1>(weights, count, values, lane, v * width, rows, length);
  }
}

}  // namespace act::simd
