#pragma once
// Fused float32 attention with ACT calibration, O(n) extra memory, same semantics as
// act::reference::attention (rows with a NaN/+inf score are invalid, rows seeing no finite score
// are empty, statistics count valid rows only, the rescaler is asked about every valid row of a
// calibrated head whose sink set is not empty). Over a bfloat16 cache with
// ProductPrecision::bf16, Q K^T and P V take bfloat16 operands (simd/bf16_dot.hpp) where the build
// has AVX-512 BF16; softmax, lse and statistics stay float32.
//
// Work is split into (query head, block of simd::width query rows) items scheduled dynamically over
// OpenMP threads. One item scores its rows against every key they see into a per-thread [keys][width]
// buffer (one query per lane), exponentiates it, accumulates P V, and for calibrated heads adds the
// normalised weights to the thread's column sums: the statistics cost one transpose-reduce per
// `width` keys instead of the second sweep over Q K^T that a kernel without the weights would need.
// K and V are read where the engine keeps them: with queries in lanes, Q K^T is a broadcast-k x
// q-vector FMA chain without a transposed copy of K (which would cost n * d * 4 bytes per KV head,
// 2 MiB at n = 4096, d = 128: more than the whole 2%-of-a-map memory budget). Items run one KV head
// at a time, its query heads back to back on each block, so key and value rows are reused in cache.
// Calibrated heads are processed in waves small enough that the per-thread column sums stay within
// a fixed budget; after a wave's sweep, each head's sums are reduced, its sinks chosen, and every
// valid row is corrected with the spec's two gains from its recomputed sink weights.
// act::correct (correct.hpp) runs the same waves with a statistics-only sweep.
#include <act/core/attention_options.hpp>
#include <act/core/calibration_report.hpp>
#include <act/core/column_stats.hpp>
#include <act/core/parallel.hpp>
#include <act/kernels/attention_extras.hpp>
#include <act/kernels/decode_attention.hpp>
#include <act/kernels/lane_ops.hpp>
#include <act/kernels/operands.hpp>
#include <act/kernels/value_rows.hpp>
#include <act/policies/calibration.hpp>
#include <act/simd/bf16_dot.hpp>
#include <act/simd/transpose.hpp>
#include <act/simd/widen.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <exception>
#include <limits>
#include <span>
#include <type_traits>
#include <vector>

namespace act {

namespace detail {

using simd::Floats;
using simd::Lanes;
using simd::width;

// What a masked call's mask says about one query row's keys, worked out once per call.
struct MaskedRow {
  std::size_t unbiased = 0;  // keys [0, unbiased) are visible with a mask entry of +0
  std::size_t shown = 0;     // no key at or past this one is visible
};

// Up to `width` consecutive query rows of one head, one per lane.
struct QueryBlock {
  std::size_t first = 0;
  std::size_t rows = 0;
  std::size_t keys_all_see = 0;   // keys [0, keys_all_see) are visible to every row of the block
  std::size_t keys_any_sees = 0;  // no row of the block sees a key at or past this one
  std::size_t keys_unbiased = 0;  // masked calls: keys [0, keys_unbiased) have mask 0 for every row
  Floats visible;                 // per lane: visible key count (0 for lanes past the block)
  Lanes outside;                  // lanes past the block (their scores are not masked, never use them)

  // With a mask (`masked`, null without one) keys are masked through the bias panel past the
  // leading keys that every row sees with entry 0 (keys_all_see = 0), and the keys past each row's
  // last shown one are not swept at all: a padded cache's free cells, the causal triangle.
  QueryBlock(const AttentionGeometry& g, std::size_t index, const MaskedRow* masked) : first(index * width) {
    rows = std::min(width, g.q_len - first);
    alignas(simd::alignment) float counts[width] = {};
    bool past_end[width];
    keys_all_see = masked == nullptr ? g.visible_keys(first) : 0;
    keys_unbiased = masked == nullptr ? 0 : g.kv_len;
    for (std::size_t lane = 0; lane < width; ++lane) {
      past_end[lane] = lane >= rows;
      if (past_end[lane]) continue;
      const std::size_t seen = g.visible_keys(first + lane);
      counts[lane] = static_cast<float>(seen);
      keys_all_see = std::min(keys_all_see, seen);
      keys_any_sees = std::max(keys_any_sees, masked == nullptr ? seen : masked[first + lane].shown);
      if (masked != nullptr) keys_unbiased = std::min(keys_unbiased, masked[first + lane].unbiased);
    }
    visible = simd::load(counts);
    outside = Lanes::load_unaligned(past_end);
  }
};

// A mask row's limits: its leading +0 entries before `limit` scanned forward and its trailing
// hidden (-inf) ones scanned back, a register of entries at a time (a padded cache hides long runs of
// cells, a causal mask opens long runs of zeros).
template <class Element>
MaskedRow masked_row(const Element* row, std::size_t limit) noexcept {
  constexpr auto hidden = simd::hidden_bits<Element>;
  constexpr std::size_t span = simd::mask_span<Element>, wide = 4 * span;
  constexpr simd::MaskBits<Element> zero{0};
  MaskedRow out;
  while (out.unbiased + wide <= limit && simd::all_bits<Element, 4>(row + out.unbiased, zero)) out.unbiased += wide;
  while (out.unbiased + span <= limit && simd::all_bits(row + out.unbiased, zero)) out.unbiased += span;
  while (out.unbiased < limit && simd::bits_of(row[out.unbiased]) == 0) ++out.unbiased;
  out.shown = limit;
  while (out.shown >= out.unbiased + wide && simd::all_bits<Element, 4>(row + out.shown - wide, hidden))
    out.shown -= wide;
  while (out.shown >= out.unbiased + span && simd::all_bits(row + out.shown - span, hidden)) out.shown -= span;
  while (out.shown > out.unbiased && simd::bits_of(row[out.shown - 1]) == hidden) --out.shown;
  return out;
}

// For each mask head and query, its MaskedRow within the keys the geometry lets it see. The scan
// reads the whole mask (19 MB for 2,048 queries over 2,304 float cells), so `threads` share it.
inline std::vector<MaskedRow> masked_rows(const AttentionGeometry& g, int threads) {
  std::vector<MaskedRow> rows(g.mask.empty() ? 0 : g.mask.heads * g.q_len);
  constexpr std::size_t rows_per_item = 64;
  parallel::parallel_for((rows.size() + rows_per_item - 1) / rows_per_item, threads, [&](std::size_t item) {
    for (std::size_t r = item * rows_per_item; r < std::min(rows.size(), (item + 1) * rows_per_item); ++r) {
      const std::size_t head = r / g.q_len, i = r % g.q_len, visible = g.visible_keys(i);
      rows[r] = g.mask.type == MaskType::f16 ? masked_row(g.mask.row<std::uint16_t>(head, i), visible)
                                             : masked_row(g.mask.row<float>(head, i), visible);
    }
  });
  return rows;
}

inline std::size_t block_count(const AttentionGeometry& g) noexcept { return (g.q_len + width - 1) / width; }

// The mask head and first query of the block whose mask a thread's bias panel holds.
struct BiasOwner {
  std::size_t mask_head = 0, first = 0, keys = 0;
  bool valid = false;
  bool operator==(const BiasOwner&) const = default;
};

// Keys per tile of the exp + P V pass: the tile's weights and value rows (32 KiB at d = 128) stay in
// L1 across the passes of accumulate_value_rows. Even, so bf16 weight pairs never straddle tiles.
inline constexpr std::size_t value_tile = 64;

// What products a call can use: bf16 where asked for, over a bfloat16 cache, in a build with the
// instructions and a head dimension the P V step covers; fp32 otherwise (the fallback).
template <class KV>
ProductPrecision resolve_products(ProductPrecision requested, std::size_t head_dim) noexcept {
  if constexpr (std::is_same_v<KV, BFloat16> && simd::bf16_dot_compiled) {
    if (requested == ProductPrecision::bf16 && head_dim % simd::bf16_chunk == 0) return ProductPrecision::bf16;
  }
  return ProductPrecision::fp32;
}

// Words per pair row of the key pairs panel for `keys` keys: at least 16 past the last key
// (Bf16PanelDot reads a whole group from any key), and an odd multiple of 16 (64 bytes), so the
// rows a call reads fall in distinct L1 sets (at a multiple of 4 KiB all 32 rows of a d = 64 call
// shared one set and evicted each other).
inline std::size_t key_pairs_stride(std::size_t keys) noexcept { return (keys + 31) / 32 * 32 + 16; }

// Whether bf16 Q K^T reads a call's keys through key pairs panels (else from their rows). A panel
// costs each thread kv_len * dim / 32 gathers per KV head, paid back over many query blocks and
// heads: calls with few per KV head (engine chunks, short prompts) read the rows. The bound of 64
// blocks times query heads per KV head is a conservative guess, not a tuned value.
inline bool uses_key_pairs(const AttentionGeometry& g) noexcept {
  return g.products == ProductPrecision::bf16 && block_count(g) * g.group >= 64;
}

// Per-thread working memory, reused by every item the thread runs.
struct ThreadScratch {
  simd::AlignedVector<float> query_panel;  // [dim][width]
  simd::AlignedVector<float> key_rows;     // [FloatDot::group][dim]: 16-bit keys widened for Q K^T
  simd::AlignedVector<float> key_prefix;   // [rows][dim]: a KV head's leading 16-bit keys, widened
  std::size_t prefix_head = 0;             // the KV head whose keys key_prefix holds
  std::size_t prefix_rows = 0;             // how many of them (0: none)
  simd::AlignedVector<float> value_panel;  // [dim][width]: tail columns of O, sink sums of a correction
  simd::AlignedVector<float> value_rows;   // [width][vector_columns(dim)]: O's other columns
  simd::AlignedVector<float> weights;      // [kv_len][width]
  std::vector<float> column_sums;          // [wave slot][kv_len], calibrated heads only
  simd::AlignedVector<float> bias;         // [kv_len][width], masked calls: the block's mask
  BiasOwner bias_owner;                    // whose mask `bias` holds (query heads sharing it reuse it)
  std::size_t unbiased_keys = 0;           // leading keys of `bias` that are 0 in every lane of the block
  std::vector<float> column_counts;        // [wave slot][kv_len], masked calls: rows that saw each key
  ColumnStats head_stats;                  // one head's reduced statistics
  CalibrationReport report;
  simd::AlignedVector<std::uint32_t> query_pairs;   // bf16 products: [dim / 2][width]
  simd::AlignedVector<std::uint32_t> weight_pairs;  // bf16 products: [value_tile / 2][width]
  simd::AlignedVector<std::uint32_t> key_pairs;     // uses_key_pairs: [dim / 2][stride], one KV head
  const void* key_pairs_of = nullptr;               // the head's first key row, or null: none yet

  // `prefix_keys`: capacity of key_prefix in keys (0 for float32 keys and bfloat16 products).
  void prepare(const AttentionGeometry& g, std::size_t calibrated_slots, std::size_t prefix_keys) {
    if (g.products == ProductPrecision::bf16) {
      query_pairs.resize(g.head_dim / 2 * width);
      weight_pairs.resize(value_tile / 2 * width);
    }
    if (uses_key_pairs(g)) key_pairs.resize(g.head_dim / 2 * key_pairs_stride(g.kv_len));
    key_pairs_of = nullptr;  // a new call: its keys may sit where the last call's were
    query_panel.resize(g.head_dim * width);
    key_rows.resize(simd::FloatDot::group * g.head_dim);
    key_prefix.resize(prefix_keys * g.head_dim);
    prefix_rows = 0;
    value_panel.resize(g.head_dim * width);
    value_rows.resize(simd::vector_columns(g.head_dim) * width);
    weights.resize(std::max<std::size_t>(g.kv_len, 1) * width);
    column_sums.assign(calibrated_slots * g.kv_len, 0.0f);
    if (g.mask.empty()) return;
    bias.resize(std::max<std::size_t>(g.kv_len, 1) * width);
    column_counts.assign(calibrated_slots * g.kv_len, 0.0f);
  }
};

// Where a sweep records one head's rows; null members are not wanted. A row's weight for key j is
// exp(s_j - shift) * scale: the attention sweep records shift = max and scale = 1/sum (so the
// correction recomputes bitwise the weights that formed O), act::correct reads shift = lse and
// records scale = 1 / sum_j exp(s_j - lse) (1 up to the lse's rounding).
struct HeadRows {
  float* lse_out = nullptr;        // attention sweep
  float* shift_out = nullptr;      // attention sweep, calibrated heads
  float* scale_out = nullptr;      // both sweeps, calibrated heads
  const float* shift = nullptr;    // statistics sweep and correction
  const float* scale = nullptr;    // correction
  RowStatus* status = nullptr;     // calibrated heads
  float* column_sums = nullptr;    // this thread's sums for the head, calibrated heads
  float* column_counts = nullptr;  // this thread's visibility counts, calibrated heads of masked calls
};

// The block's queries, scaled and transposed into the query panel.
inline void load_query_panel(const HeadsView<const float>& q, std::size_t head, const QueryBlock& block, float scale,
                             float* panel) {
  simd::transpose_rows([&](std::size_t lane) { return q.row(head, block.first + lane); }, block.rows, q.cols, scale,
                       panel);
}

// The first query row of each lane of the block in a mask of `Element`s (lanes past the block
// repeat its last row), and how many keys each lane sees before the mask (0 past the block).
template <class Element>
struct MaskRows {
  const Element* rows[width];
  std::size_t limits[width];

  MaskRows(const AttentionGeometry& g, std::size_t head, const QueryBlock& block) {
    for (std::size_t lane = 0; lane < width; ++lane) {
      const std::size_t query = block.first + std::min(lane, block.rows - 1);
      rows[lane] = g.mask.row<Element>(head, query);
      limits[lane] = lane < block.rows ? g.visible_keys(query) : 0;
    }
  }
};

// The block's mask for keys [first, count) as rows of a [count][width] panel: -inf where a lane
// does not see the key (past the block, past its causal or valid-key limit, or hidden by the mask).
template <class Element, class Rows>
void fill_bias(const MaskRows<Element>& mask, const Rows& keys, std::size_t first, std::size_t count, float* bias) {
  for (std::size_t j = first; j < count; ++j) {
    const std::size_t column = keys.column(j);
    float* out = bias + j * width;
    for (std::size_t lane = 0; lane < width; ++lane) {
      float value = -simd::infinity;
      if (column < mask.limits[lane]) {
        if constexpr (std::is_same_v<Element, float>)
          value = mask.rows[lane][column];
        else
          value = simd::half_to_float(mask.rows[lane][column]);
      }
      out[lane] = value;
    }
  }
}

// The panel for keys[0, count); returns how many leading keys need no bias: their panel rows are
// not written (nothing reads them: the block's rows see those keys with entry 0, and writing them
// cost 128 KiB of stores per block at 2,048 keys). Only consecutive keys (the sweep) have such a
// prefix; chosen columns (the sinks) are filled one by one.
template <class Rows>
std::size_t fill_bias(const AttentionGeometry& g, std::size_t head, const QueryBlock& block, const Rows& keys,
                      std::size_t count, float* bias) {
  const auto fill = [&](const auto& mask) {
    std::size_t unbiased = 0;
    if constexpr (Rows::consecutive) unbiased = std::min(block.keys_unbiased, count);
    fill_bias(mask, keys, unbiased, count, bias);
    return unbiased;
  };
  if (g.mask.type == MaskType::f16) return fill(MaskRows<std::uint16_t>(g, head, block));
  return fill(MaskRows<float>(g, head, block));
}

#ifdef ACT_SIMD_BF16_DOT
// The bfloat16 products' dot over the thread's key pairs panel for `keys` (consecutive rows of
// one KV head), built when the thread reaches another KV head: items run one KV head after another.
template <class Rows>
simd::Bf16PanelDot key_pairs_dot(const AttentionGeometry& g, const Rows& keys, ThreadScratch& scratch) {
  const std::size_t stride = key_pairs_stride(g.kv_len);
  if (scratch.key_pairs_of != keys.base) {
    simd::load_key_pairs(keys, g.kv_len, g.head_dim, stride, scratch.key_pairs.data());
    scratch.key_pairs_of = keys.base;
  }
  return simd::Bf16PanelDot{scratch.query_pairs.data(), g.head_dim / 2, scratch.key_pairs.data(), stride};
}
#endif

// Calls `score(dot)` with the block's Q K^T products against `keys`: float32 over the query panel,
// or (bf16 products over a bfloat16 cache) bfloat16 pairs accumulated in float32.
template <class KV, class Rows, class Score>
simd::ScoreSummary with_dot(const Operands<KV>& in, const AttentionGeometry& g, std::size_t head,
                            const QueryBlock& block, const Rows& keys, ThreadScratch& scratch, Score score) {
#ifdef ACT_SIMD_BF16_DOT
  if constexpr (std::is_same_v<KV, BFloat16>) {
    if (g.products == ProductPrecision::bf16) {
      std::uint32_t* pairs = scratch.query_pairs.data();
      std::fill_n(pairs, g.head_dim / 2 * width, 0u);
      for (std::size_t lane = 0; lane < block.rows; ++lane)
        simd::load_query_pairs(in.q.row(head, block.first + lane), g.head_dim, g.scale, lane, pairs);
      if constexpr (Rows::consecutive) {
        if (uses_key_pairs(g)) return score(key_pairs_dot(g, keys, scratch));
      }
      return score(simd::Bf16Dot{pairs, g.head_dim / 2});
    }
  }
#else
  (void)keys;
#endif
  load_query_panel(in.q, head, block, g.scale, scratch.query_panel.data());
  return score(simd::FloatDot{scratch.query_panel.data(), g.head_dim, scratch.key_rows.data()});
}

// Floats of widened keys a thread keeps per KV head (512 KiB: L2-resident on current cores).
inline constexpr std::size_t key_prefix_budget = 128 * 1024;

// Capacity of ThreadScratch::key_prefix in keys: the leading keys of a KV head that fit the budget,
// for 16-bit keys scored in float32 (float32 keys are read in place, bf16 products read 16-bit rows).
template <class KV>
std::size_t key_prefix_capacity(const AttentionGeometry& g) noexcept {
  if (std::is_same_v<KV, float> || g.products == ProductPrecision::bf16 || g.head_dim == 0) return 0;
  return std::min(g.kv_len, key_prefix_budget / g.head_dim);
}

// Keys [0, needed) of `kv_head`, as far as the thread's prefix holds them, widened to float32 once:
// a thread runs one KV head's blocks (longest first) and query heads back to back, so without it
// each 16-bit key would be widened again for every query head and block that sees it.
template <class KV>
simd::WidenedPrefix widened_keys(const Operands<KV>& in, const AttentionGeometry& g, std::size_t kv_head,
                                 std::size_t needed, ThreadScratch& scratch) {
  if (scratch.key_prefix.empty()) return {};
  if (scratch.prefix_head != kv_head) scratch.prefix_rows = 0;
  scratch.prefix_head = kv_head;
  float* rows = scratch.key_prefix.data();
  const std::size_t wanted = std::min(needed, scratch.key_prefix.size() / g.head_dim);
  for (; scratch.prefix_rows < wanted; ++scratch.prefix_rows)
    simd::widen_row(in.k.row(kv_head, scratch.prefix_rows), g.head_dim, rows + scratch.prefix_rows * g.head_dim);
  return {{rows, static_cast<std::ptrdiff_t>(g.head_dim)}, scratch.prefix_rows};
}

// Scores of the block against every key any of its rows sees, into scratch.weights (plus the mask
// in scratch.bias for masked calls; query heads sharing a mask reuse the panel of the previous one).
template <class KV>
simd::ScoreSummary score_block(const Operands<KV>& in, const AttentionGeometry& g, std::size_t head,
                               const QueryBlock& block, ThreadScratch& scratch) {
  const std::size_t kv_head = g.kv_head_of(head);
  const simd::ConsecutiveRows keys{in.k.row(kv_head, 0), in.k.row_stride};
  const simd::WidenedPrefix prefix = widened_keys(in, g, kv_head, block.keys_any_sees, scratch);
  if (g.mask.empty())
    return with_dot(in, g, head, block, keys, scratch, [&](const auto& dot) {
      return simd::score_keys_by(dot, keys, block.keys_any_sees, block.keys_all_see, block.visible,
                                 scratch.weights.data(), prefix);
    });
  const BiasOwner owner{g.mask.heads == 1 ? 0 : head, block.first, block.keys_any_sees, true};
  if (!(scratch.bias_owner == owner)) {
    scratch.unbiased_keys = fill_bias(g, head, block, keys, block.keys_any_sees, scratch.bias.data());
    scratch.bias_owner = owner;
  }
  return with_dot(in, g, head, block, keys, scratch, [&](const auto& dot) {
    return simd::score_keys_biased_by(dot, keys, block.keys_any_sees, scratch.unbiased_keys, scratch.bias.data(),
                                      scratch.weights.data(), prefix);
  });
}

// Adds the valid lanes' visibility of each key to the thread's counts (masked calls).
// Every valid lane sees the panel's leading unbiased keys, so they just gain the valid lane count.
inline void count_visible(const QueryBlock& block, const ThreadScratch& scratch, Lanes valid, const HeadRows& rows) {
  if (rows.column_counts == nullptr) return;
  const Floats lane_scale = xsimd::select(valid, Floats(1.0f), Floats(0.0f));
  const std::size_t open = std::min(scratch.unbiased_keys, block.keys_any_sees);
  const float valid_lanes = xsimd::hadd(lane_scale);
  for (std::size_t j = 0; j < open; ++j) rows.column_counts[j] += valid_lanes;
  simd::add_visible_counts(scratch.bias.data() + open * width, block.keys_any_sees - open, lane_scale,
                           rows.column_counts + open);
}

// Lane-wise classification of the block's rows: invalid wins over empty, as in the reference.
struct LaneStatus {
  Lanes invalid;
  Lanes empty;
  Lanes valid() const noexcept { return !(invalid | empty); }
};

// Records each row's status (when wanted) and counts invalid and empty rows.
inline void record_status(const QueryBlock& block, const LaneStatus& lanes, RowStatus* status,
                          CalibrationReport& report) {
  bool invalid[width], empty[width];
  lanes.invalid.store_unaligned(invalid);
  lanes.empty.store_unaligned(empty);
  for (std::size_t lane = 0; lane < block.rows; ++lane) {
    const RowStatus row = invalid[lane] ? RowStatus::invalid : empty[lane] ? RowStatus::empty : RowStatus::valid;
    report.invalid_rows += row == RowStatus::invalid;
    report.empty_rows += row == RowStatus::empty;
    if (status != nullptr) status[block.first + lane] = row;
  }
}

// Output rows of the block: the accumulated P V times 1/sum for valid rows, 0 for empty rows, NaN
// for invalid ones.
inline void write_rows(const HeadsView<float>& out, std::size_t head, const QueryBlock& block,
                       const ThreadScratch& scratch, Floats inverse_sum, const LaneStatus& lanes) {
  alignas(simd::alignment) float scale[width];
  bool empty[width];
  xsimd::select(lanes.invalid, Floats(std::numeric_limits<float>::quiet_NaN()), inverse_sum).store_aligned(scale);
  (lanes.empty & !lanes.invalid).store_unaligned(empty);
  const std::size_t length = simd::vector_columns(out.cols);
  for (std::size_t lane = 0; lane < block.rows; ++lane) {
    float* row = out.row(head, block.first + lane);
    if (empty[lane]) {  // explicitly: its zero weights times a non-finite value would give NaN
      std::fill_n(row, out.cols, 0.0f);
      continue;
    }
    const float* accumulated = scratch.value_rows.data() + lane * length;
    for (std::size_t c = 0; c < length; ++c) row[c] = accumulated[c] * scale[lane];
    for (std::size_t c = length; c < out.cols; ++c) row[c] = scratch.value_panel[c * width + lane] * scale[lane];
  }
}

// Which of the swept keys each of the block's lanes sees, for the scalar repairs below: by the lane's
// visible count, or (masked calls) by the block's bias panel, whose first `unbiased` keys every lane
// of the block sees (fill_bias leaves those rows unwritten).
class LaneVisibility {
 public:
  LaneVisibility(const QueryBlock& block, const float* bias, std::size_t unbiased = 0)
      : bias_(bias), unbiased_(unbiased) {
    alignas(simd::alignment) float lanes[width];
    block.visible.store_aligned(lanes);
    for (std::size_t lane = 0; lane < width; ++lane) counts_[lane] = static_cast<std::size_t>(lanes[lane]);
  }
  template <class Rows>
  bool sees(const Rows& keys, std::size_t j, std::size_t lane) const noexcept {
    if (bias_ == nullptr) return keys.column(j) < counts_[lane];
    return j < unbiased_ || bias_[j * width + lane] != -simd::infinity;
  }

 private:
  std::size_t counts_[width];
  const float* bias_;
  std::size_t unbiased_;
};

// The vector P V multiplies every row up to the furthest key any lane sees, with weight 0 where a
// lane does not see the key; 0 * inf = NaN would carry a non-finite value into rows that cannot see
// it. Such lanes (rare: only when some value is not finite) are summed again over their own keys.
// Columns [0, length) of the sums live in `rows` ([width][length]), the others in `panel`.
template <class Rows>
void repair_lane(const float* weights, std::size_t lane, std::size_t count, const LaneVisibility& visibility,
                 const Rows& values, std::size_t dim, std::size_t length, float* rows, float* panel) {
  bool finite = simd::all_finite(rows + lane * length, length);
  for (std::size_t c = length; c < dim; ++c) finite &= std::isfinite(panel[c * width + lane]);
  if (finite) return;
  for (std::size_t c = 0; c < dim; ++c) {
    float sum = 0.0f;
    for (std::size_t j = 0; j < count; ++j)
      if (visibility.sees(values, j, lane)) sum += weights[j * width + lane] * simd::widen_scalar(values[j][c]);
    (c < length ? rows[lane * length + c] : panel[c * width + lane]) = sum;
  }
}

// values[lane] -> destination[row of the lane], for the block's rows.
inline void store_rows(float* destination, const QueryBlock& block, Floats values) {
  alignas(simd::alignment) float lanes[width];
  values.store_aligned(lanes);
  std::copy_n(lanes, block.rows, destination + block.first);
}

inline Floats row_lse(Floats max, Floats sum, const LaneStatus& lanes) {
  const Floats lse = xsimd::select(lanes.empty, Floats(-simd::infinity), max + xsimd::log(sum));
  return xsimd::select(lanes.invalid, Floats(std::numeric_limits<float>::quiet_NaN()), lse);
}

// The thread's sums sum_j weights[j][lane] * values[j][c] start at zero: rows for the vector
// columns, the panel for the tail columns.
inline void clear_value_sums(ThreadScratch& scratch) {
  std::fill(scratch.value_panel.begin(), scratch.value_panel.end(), 0.0f);
  std::fill(scratch.value_rows.begin(), scratch.value_rows.end(), 0.0f);
}

// Adds keys [0, count) of `values` with their weights to the thread's sums (float32 products).
template <class Rows>
void add_value_sums(const float* weights, std::size_t count, const Rows& values, std::size_t dim,
                    ThreadScratch& scratch) {
  simd::accumulate_value_rows(weights, count, values, dim, scratch.value_rows.data());
  simd::accumulate_values(weights, count, values, simd::vector_columns(dim), dim, scratch.value_panel.data());
}

// repair_lane for every valid lane of an attention block whose accumulated P V is not finite.
template <class KV>
void repair_block(const Operands<KV>& in, const AttentionGeometry& g, std::size_t head, const QueryBlock& block,
                  ThreadScratch& scratch, Lanes valid) {
  bool keep[width];
  valid.store_unaligned(keep);
  const LaneVisibility visibility(block, g.mask.empty() ? nullptr : scratch.bias.data(), scratch.unbiased_keys);
  const simd::ConsecutiveRows values{in.v.row(g.kv_head_of(head), 0), in.v.row_stride};
  for (std::size_t lane = 0; lane < block.rows; ++lane) {
    if (keep[lane])
      repair_lane(scratch.weights.data(), lane, block.keys_any_sees, visibility, values, g.head_dim,
                  simd::vector_columns(g.head_dim), scratch.value_rows.data(), scratch.value_panel.data());
  }
}

// The block's weights exp(s - max) tile by tile, each tile's P V added to the thread's value rows
// (value panel for tail columns) as soon as it is exponentiated. Returns the lanes' weight sums.
template <class KV>
Floats exponentiate_and_accumulate(const Operands<KV>& in, const AttentionGeometry& g, std::size_t kv_head,
                                   std::size_t keys, Floats max, Lanes valid, ThreadScratch& scratch) {
  float* weights = scratch.weights.data();
  Floats sum(0.0f);
  for (std::size_t first = 0; first < keys; first += value_tile) {
    const std::size_t count = std::min(value_tile, keys - first);
    float* tile = weights + first * width;
    sum += simd::exponentiate(tile, count, max, valid);
    const simd::ConsecutiveRows values{in.v.row(kv_head, first), in.v.row_stride};
#ifdef ACT_SIMD_BF16_DOT
    if constexpr (std::is_same_v<KV, BFloat16>) {
      if (g.products == ProductPrecision::bf16) {  // head_dim is a multiple of bf16_chunk: no tail columns
        simd::pair_weights(tile, count, scratch.weight_pairs.data());
        simd::accumulate_pair_rows(scratch.weight_pairs.data(), count, values, g.head_dim, scratch.value_rows.data());
        continue;
      }
    }
#endif
    add_value_sums(tile, count, values, g.head_dim, scratch);
  }
#ifdef ACT_SIMD_BF16_DOT
  if constexpr (std::is_same_v<KV, BFloat16>) {
    if (g.products == ProductPrecision::bf16) simd::unpermute_pair_rows(scratch.value_rows.data(), g.head_dim);
  }
#endif
  return sum;
}

// One block of attention: scores, softmax, P V, output rows and lse; for calibrated heads also
// the rows' status and their normalised weights added to the thread's column sums.
template <class KV>
void attend_block(const Operands<KV>& in, const HeadsView<float>& out, const AttentionGeometry& g, std::size_t head,
                  const QueryBlock& block, ThreadScratch& scratch, const HeadRows& rows) {
  const simd::ScoreSummary scores = score_block(in, g, head, block, scratch);
  const LaneStatus lanes{scores.bad, (scores.max == Floats(-simd::infinity)) | block.outside};
  const Lanes valid = lanes.valid();
  float* weights = scratch.weights.data();
  clear_value_sums(scratch);
  const std::size_t kv_head = g.kv_head_of(head);
  const Floats sum = exponentiate_and_accumulate(in, g, kv_head, block.keys_any_sees, scores.max, valid, scratch);
  repair_block(in, g, head, block, scratch, valid);
  const Floats inverse_sum = xsimd::select(valid, Floats(1.0f) / sum, Floats(0.0f));
  if (rows.column_sums != nullptr) simd::add_column_sums(weights, block.keys_any_sees, inverse_sum, rows.column_sums);
  write_rows(out, head, block, scratch, inverse_sum, lanes);
  count_visible(block, scratch, valid, rows);
  if (rows.lse_out != nullptr) store_rows(rows.lse_out, block, row_lse(scores.max, sum, lanes));
  if (rows.shift_out != nullptr) {
    store_rows(rows.shift_out, block, scores.max);
    store_rows(rows.scale_out, block, inverse_sum);
  }
  record_status(block, lanes, rows.status, scratch.report);
}

// source[row of each lane] in lanes; lanes past the block hold `padding`.
inline Floats load_rows(const float* source, const QueryBlock& block, float padding) {
  alignas(simd::alignment) float values[width];
  std::fill_n(values, width, padding);
  std::copy_n(source + block.first, block.rows, values);
  return simd::load(values);
}

// One block of the statistics sweep over Q K^T given each row's lse (no output is written). The
// weights exp(s - lse) are renormalised by their own row sum, which is recorded as the row's weight
// scale: a float lse carries an absolute error of about u |lse| (3e-5 at |lse| = 300), which would
// otherwise move every weight, the sink mass m and the rest r = 1 - m by that much and be amplified
// by the 1/r gains; the common factor exp(lse_true - lse) cancels in the ratio. A row is invalid when
// a visible score or its lse is NaN or +inf, or when its lse is so far from the scores' that the
// weights underflow to 0 or overflow; empty when its lse or every visible score is -inf.
template <class KV>
void statistics_block(const Operands<KV>& in, const AttentionGeometry& g, std::size_t head, const QueryBlock& block,
                      ThreadScratch& scratch, const HeadRows& rows) {
  const simd::ScoreSummary scores = score_block(in, g, head, block, scratch);
  const Floats lse = load_rows(rows.shift, block, -simd::infinity);
  const Floats minus_infinity(-simd::infinity);
  LaneStatus lanes{scores.bad | !(lse < Floats(simd::infinity)),
                   (scores.max == minus_infinity) | (lse == minus_infinity) | block.outside};
  const Floats sum = simd::exponentiate(scratch.weights.data(), block.keys_any_sees, lse, lanes.valid());
  lanes.invalid = lanes.invalid | (lanes.valid() & !((sum > Floats(0.0f)) & (sum < Floats(simd::infinity))));
  const Floats inverse_sum = xsimd::select(lanes.valid(), Floats(1.0f) / sum, Floats(0.0f));
  simd::add_column_sums(scratch.weights.data(), block.keys_any_sees, inverse_sum, rows.column_sums);
  store_rows(rows.scale_out, block, inverse_sum);
  count_visible(block, scratch, lanes.valid(), rows);
  record_status(block, lanes, rows.status, scratch.report);
}

// The valid rows' lanes of a block.
inline Lanes valid_lanes(const QueryBlock& block, const RowStatus* status) {
  bool valid[width] = {};
  for (std::size_t lane = 0; lane < block.rows; ++lane) valid[lane] = status[block.first + lane] == RowStatus::valid;
  return Lanes::load_unaligned(valid);
}

// Applies `rule`'s gains to row `row` of the output: out = rest * (o - o_sink) + sink * o_sink,
// with o_sink = (the lane's sink sum of column c in the thread's sums) * weight_scale.
template <Rescaler Rule>
void rescale_row(float* row, std::size_t dim, std::size_t lane, float weight_scale, float sink_mass, const Rule& rule,
                 ThreadScratch& scratch) {
  const auto gains = rule.gains(sink_mass, std::max(0.0f, 1.0f - sink_mass));
  if (!gains) {
    ++scratch.report.degenerate_rows;
    return;
  }
  ++scratch.report.rows_calibrated;
  const float sink_minus_rest = (gains->sink - gains->rest) * weight_scale;
  const std::size_t length = simd::vector_columns(dim);
  const float* sums = scratch.value_rows.data() + lane * length;
  for (std::size_t c = 0; c < length; ++c)  // contiguous: vectorised
    row[c] = corrected_value(row[c], sums[c], gains->rest, sink_minus_rest, gains->sink);
  for (std::size_t c = length; c < dim; ++c)
    row[c] = corrected_value(row[c], scratch.value_panel[c * width + lane], gains->rest, sink_minus_rest, gains->sink);
}

// Scores of the block against its first `seen` sinks into scratch.weights (sinks below `unmasked`
// are visible to every row); masked calls put the sinks' mask in scratch.bias.
template <class KV>
void score_sinks(const Operands<KV>& in, const AttentionGeometry& g, std::size_t head, const QueryBlock& block,
                 const SinkSet& sinks, std::size_t seen, std::size_t unmasked, ThreadScratch& scratch) {
  // The same products as the sweep's, so the sink weights are those that formed O.
  const simd::ChosenRows keys{in.k.row(g.kv_head_of(head), 0), in.k.row_stride, sinks.data()};
  if (g.mask.empty()) {
    with_dot(in, g, head, block, keys, scratch, [&](const auto& dot) {
      return simd::score_keys_by(dot, keys, seen, unmasked, block.visible, scratch.weights.data());
    });
    return;
  }
  fill_bias(g, head, block, keys, seen, scratch.bias.data());
  scratch.bias_owner = BiasOwner{};  // the panel now holds the sinks' columns only
  with_dot(in, g, head, block, keys, scratch, [&](const auto& dot) {
    return simd::score_keys_biased_by(dot, keys, seen, 0, scratch.bias.data(), scratch.weights.data());
  });
}

// The two-gain correction of one block's valid rows (spec section 4): each row's sink weights
// a_s = exp(q.k_s * scale - shift) * weight_scale give m = sum a_s and o_sink = sum a_s v_s.
template <class KV, Rescaler Rule>
void correct_block(const Operands<KV>& in, const HeadsView<float>& out, const AttentionGeometry& g, std::size_t head,
                   const QueryBlock& block, const SinkSet& sinks, const HeadRows& rows, const Rule& rule,
                   ThreadScratch& scratch) {
  const auto sinks_below = [&](std::size_t column) {
    return static_cast<std::size_t>(std::lower_bound(sinks.begin(), sinks.end(), column) - sinks.begin());
  };
  const std::size_t seen = sinks_below(block.keys_any_sees);
  const std::size_t kv_head = g.kv_head_of(head);
  float* weights = scratch.weights.data();
  score_sinks(in, g, head, block, sinks, seen, sinks_below(block.keys_all_see), scratch);
  const Lanes valid = valid_lanes(block, rows.status);
  const Floats weight_scale = load_rows(rows.scale, block, 0.0f);
  alignas(simd::alignment) float sink_mass[width], scales[width];
  (simd::exponentiate(weights, seen, load_rows(rows.shift, block, 0.0f), valid) * weight_scale)
      .store_aligned(sink_mass);
  weight_scale.store_aligned(scales);
  // The sink sums in the sweep's layout (rows per lane, tail columns in the panel): every lane's
  // row is then contiguous for the finiteness check and the correction.
  clear_value_sums(scratch);
  const simd::ChosenRows sink_values{in.v.row(kv_head, 0), in.v.row_stride, sinks.data()};
  add_value_sums(weights, seen, sink_values, g.head_dim, scratch);
  const LaneVisibility visibility(block, g.mask.empty() ? nullptr : scratch.bias.data());
  for (std::size_t lane = 0; lane < block.rows; ++lane) {
    if (rows.status[block.first + lane] != RowStatus::valid) continue;
    repair_lane(weights, lane, seen, visibility, sink_values, g.head_dim, simd::vector_columns(g.head_dim),
                scratch.value_rows.data(), scratch.value_panel.data());
    rescale_row(out.row(head, block.first + lane), g.head_dim, lane, scales[lane], sink_mass[lane], rule, scratch);
  }
}

// What each key received in this call, for one calibrated head, from every thread's sums (which are
// reset for the next wave).
inline void reduce_received(const AttentionGeometry& g, std::size_t slot, std::span<ThreadScratch> threads,
                            std::vector<float>& received) {
  received.assign(g.kv_len, 0.0f);
  for (ThreadScratch& thread : threads) {
    float* sums = thread.column_sums.data() + slot * g.kv_len;
    for (std::size_t j = 0; j < g.kv_len; ++j) received[j] += sums[j];
    std::fill_n(sums, g.kv_len, 0.0f);
  }
}

// Adds this call's valid rows to a head's counts. Without a mask row i saw its first visible_keys(i)
// keys (a causal history stays an arithmetic count); with one, the sweeps counted who saw what.
inline void add_call_rows(const AttentionGeometry& g, std::size_t slot, std::span<ThreadScratch> threads,
                          const RowStatus* status, SeenCounts& counts) {
  if (g.mask.empty()) {
    std::vector<std::size_t> visible;
    for (std::size_t i = 0; i < g.q_len; ++i)
      if (status[i] == RowStatus::valid) visible.push_back(g.visible_keys(i));
    counts.add_rows(visible);
    return;
  }
  std::vector<std::uint32_t> seen(g.kv_len, 0u);
  for (ThreadScratch& thread : threads) {
    float* thread_seen = thread.column_counts.data() + slot * g.kv_len;
    for (std::size_t j = 0; j < g.kv_len; ++j) seen[j] += static_cast<std::uint32_t>(thread_seen[j]);  // < 2^24: exact
    std::fill_n(thread_seen, g.kv_len, 0.0f);
  }
  counts.add(std::span<const std::uint32_t>(seen));
}

// The statistics a calibrated head's sinks are chosen from: this call's, or the running totals
// (decode, chunked prefill) with this call added.
inline ColumnStatsView reduce_statistics(const AttentionGeometry& g, std::size_t slot, std::span<ThreadScratch> threads,
                                         const RowStatus* status, ColumnStats& call, ColumnStats* running) {
  reduce_received(g, slot, threads, call.received);
  if (running == nullptr) call.seen_by.clear();
  ColumnStats& target = running == nullptr ? call : *running;
  target.extend_to(g.kv_len);
  if (running != nullptr)
    for (std::size_t j = 0; j < g.kv_len; ++j) running->received[j] += call.received[j];
  add_call_rows(g, slot, threads, status, target.seen_by);
  return target.view();
}

// Which share of a phase's work a call runs: slice ith of nth (an engine's thread), or nth = 0 for
// an OpenMP team's dynamic schedule.
struct Slice {
  std::size_t ith = 0, nth = 0;
};

// A sweep fills the per-row records of one head's block: attend_block or statistics_block.
template <class S>
concept BlockSweep = requires(const S& s, std::size_t head, const QueryBlock& block, ThreadScratch& scratch,
                              const HeadRows& rows) {
  { s(head, block, scratch, rows) } -> std::same_as<void>;
};

// Runs `sweep` over the heads in waves, then chooses sinks and corrects rows for calibrated heads
// (shared by act::attention and act::correct).
template <CalibrationPolicy Cal, BlockSweep Sweep, class KV>
class WaveRunner {
 public:
  // Per-thread column sums of one wave stay within this many floats (64 KiB, L2-resident) unless
  // a wave of one head needs more, which keeps the extra memory O(kv_len) with a small constant.
  static constexpr std::size_t column_sum_budget = 16 * 1024;

  // `given_lse`: the rows' lse is an input (correct); empty: the sweep produces it.
  // `sweep_plain_heads`: uncalibrated heads are swept too (attention) or skipped (correct).
  WaveRunner(const Operands<KV>& in, const HeadsView<float>& out, const AttentionGeometry& g,
             const AttentionExtras& extras, const Cal& calibration, std::span<const float> given_lse,
             bool sweep_plain_heads, const Sweep& sweep)
      : in_(in),
        out_(out),
        g_(g),
        extras_(extras),
        calibration_(calibration),
        given_lse_(given_lse),
        sweep_plain_heads_(sweep_plain_heads),
        sweep_(sweep) {}

  // Every thread's scratch and the wave's row records, for `threads` threads; `single_wave`: all
  // heads in one wave (engine slices, which have no barrier between waves).
  void prepare(std::size_t threads, bool single_wave) {
    wave_ = single_wave ? g_.q_heads : wave_size(threads);
    if (extras_.sinks != nullptr) extras_.sinks->assign(g_.q_heads, SinkSet{});
    if (calibrates_any()) {
      status_.resize(wave_ * g_.q_len);
      own_scale_.resize(wave_ * g_.q_len);
      if (given_lse_.empty()) own_shift_.resize(wave_ * g_.q_len);
      sinks_.resize(wave_);
    }
    masked_ = masked_rows(g_, single_wave ? 1 : static_cast<int>(threads));  // engine slices: no OpenMP
    scratch_.resize(threads);
    for (ThreadScratch& thread : scratch_)
      thread.prepare(g_, calibrates_any() ? wave_ : 0, key_prefix_capacity<KV>(g_));
  }

  CalibrationReport run(int requested_threads) {
    // Scratch for every thread the region may get, ready before it starts (no barrier needed).
    prepare(static_cast<std::size_t>(requested_threads), false);
    parallel::run_team(requested_threads, [&](std::size_t thread) {
      for (std::size_t first = 0; first < g_.q_heads; first += wave_) run_wave(first, scratch_[thread]);
    });
    failure_.rethrow();
    return report();
  }

  CalibrationReport report() const {
    CalibrationReport total;
    for (const ThreadScratch& thread : scratch_) total += thread.report;
    return total;
  }

  // Engine slices (after prepare(nth, true)): the call's phases, each split into nth slices that
  // may run on any threads; every slice of a phase must end before any slice of the next starts.
  std::size_t phases() const noexcept {
    if (!calibrates_any()) return 1;
    return needs_correction<Cal> ? 3 : 2;
  }
  void run_phase(std::size_t phase, Slice slice) {
    ThreadScratch& mine = scratch_[slice.ith];
    if (phase == 0) sweep_items(0, g_.q_heads, mine, slice);
    if (phase == 1) choose_slots(0, g_.q_heads, mine, slice);
    if (phase == 2) correct_items(0, g_.q_heads, mine, slice);
  }
  void rethrow() const { failure_.rethrow(); }
  std::exception_ptr first_failure() const noexcept { return failure_.first(); }

 private:
  const MaskedRow* masked_of(std::size_t head) const noexcept {
    if (masked_.empty()) return nullptr;
    return masked_.data() + (g_.mask.heads == 1 ? 0 : head) * g_.q_len;
  }
  bool calibrated(std::size_t head) const noexcept {
    return needs_statistics<Cal> && head_is_calibrated(extras_, head);
  }
  bool calibrates_any() const noexcept {
    for (std::size_t head = 0; head < g_.q_heads; ++head)
      if (calibrated(head)) return true;
    return false;
  }

  std::size_t wave_size(std::size_t threads) const {
    if (!calibrates_any()) return g_.q_heads;
    const std::size_t blocks = std::max<std::size_t>(block_count(g_), 1);
    const std::size_t by_memory = std::max<std::size_t>(column_sum_budget / std::max<std::size_t>(g_.kv_len, 1), 1);
    const std::size_t for_balance = (4 * threads + blocks - 1) / blocks;
    const std::size_t largest = std::min(g_.q_heads, std::max(by_memory, for_balance));
    const std::size_t waves = (g_.q_heads + largest - 1) / largest;
    return (g_.q_heads + waves - 1) / waves;  // equal waves: 9 heads in waves of 5 and 4, not 8 and 1
  }

  HeadRows rows_of(std::size_t head, std::size_t slot, ThreadScratch& thread) {
    HeadRows rows;
    if (!extras_.lse.empty()) rows.lse_out = extras_.lse.data() + head * g_.q_len;
    if (!calibrated(head)) return rows;
    const std::size_t offset = slot * g_.q_len;
    rows.scale = rows.scale_out = own_scale_.data() + offset;
    if (given_lse_.empty()) {
      rows.shift = rows.shift_out = own_shift_.data() + offset;
    } else {
      rows.shift = given_lse_.data() + head * g_.q_len;
    }
    rows.status = status_.data() + offset;
    rows.column_sums = thread.column_sums.data() + slot * g_.kv_len;
    if (!g_.mask.empty()) rows.column_counts = thread.column_counts.data() + slot * g_.kv_len;
    return rows;
  }

  struct Item {
    std::size_t slot, block;
  };

  // The wave's work items in order: one KV head after another (its key and value rows stay in
  // cache, instead of every head's rows being streamed for every block), and within a KV head the
  // longest causal blocks first (the schedule ends on short items), its query heads back to back
  // on each block (they read the same rows).
  Item item_at(std::size_t item, std::size_t first_head, std::size_t heads, std::size_t blocks) const noexcept {
    std::size_t slot = 0;
    for (;;) {
      const std::size_t kv_head = g_.kv_head_of(first_head + slot);
      const std::size_t run = std::min(heads, (kv_head + 1) * g_.group - first_head) - slot;
      if (item < run * blocks) return {slot + item % run, blocks - 1 - item / run};
      item -= run * blocks;
      slot += run;
    }
  }

  // Shares the wave's items among the threads (OpenMP's dynamic schedule, or the engine slice's
  // share); no barrier at the end (callers add the ones they need).
  template <class Include, class Work>
  void for_each_item(std::size_t first_head, std::size_t heads, Include include, Work work, Slice slice) {
    const std::size_t blocks = block_count(g_);
    const std::size_t items = blocks * heads;
    const auto run_item = [&](std::size_t index) {
      const Item item = item_at(index, first_head, heads, blocks);
      if (!include(first_head + item.slot, item.slot)) return;
      failure_.guard([&] {
        work(first_head + item.slot, item.slot, QueryBlock(g_, item.block, masked_of(first_head + item.slot)));
      });
    };
    if (slice.nth != 0) {
      for (std::size_t index = slice.ith; index < items; index += slice.nth) run_item(index);
      return;
    }
    ACT_OMP(for schedule(dynamic, 1) nowait)
    for (std::size_t index = 0; index < items; ++index) run_item(index);
  }

  void sweep_items(std::size_t first_head, std::size_t heads, ThreadScratch& mine, Slice slice) {
    for_each_item(
        first_head, heads, [&](std::size_t head, std::size_t) { return sweep_plain_heads_ || calibrated(head); },
        [&](std::size_t head, std::size_t slot, const QueryBlock& block) {
          sweep_(head, block, mine, rows_of(head, slot, mine));
        },
        slice);
  }

  void choose_slots(std::size_t first_head, std::size_t heads, ThreadScratch& mine, Slice slice) {
    const auto choose = [&](std::size_t slot) {
      if (calibrated(first_head + slot)) failure_.guard([&] { choose_sinks(first_head + slot, slot, mine); });
    };
    if (slice.nth != 0) {
      for (std::size_t slot = slice.ith; slot < heads; slot += slice.nth) choose(slot);
      return;
    }
    ACT_OMP(for schedule(dynamic, 1))
    for (std::size_t slot = 0; slot < heads; ++slot) choose(slot);
  }

  void correct_items(std::size_t first_head, std::size_t heads, ThreadScratch& mine, Slice slice) {
    for_each_item(
        first_head, heads,
        [&](std::size_t head, std::size_t slot) { return calibrated(head) && !sinks_[slot].empty(); },
        [&](std::size_t head, std::size_t slot, const QueryBlock& block) {
          correct_block(in_, out_, g_, head, block, sinks_[slot], rows_of(head, slot, mine), calibration_.rescaler,
                        mine);
        },
        slice);
  }

  // Barriers (each can cost a scheduler time slice on a busy machine) only where data crosses
  // threads: the sweep's sums before the sinks are chosen, the sinks before the correction, and the
  // correction's reads of the wave's row records before the next wave overwrites them.
  void run_wave(std::size_t first_head, ThreadScratch& mine) {
    const std::size_t heads = std::min(wave_, g_.q_heads - first_head);
    sweep_items(first_head, heads, mine, {});
    bool any_calibrated = false;
    for (std::size_t slot = 0; slot < heads; ++slot) any_calibrated |= calibrated(first_head + slot);
    if (!any_calibrated) return;
    ACT_OMP(barrier)
    choose_slots(first_head, heads, mine, {});
    if constexpr (needs_correction<Cal>) {
      correct_items(first_head, heads, mine, {});
      if (first_head + heads < g_.q_heads) {
        ACT_OMP(barrier)
      }
    }
  }

  void choose_sinks(std::size_t head, std::size_t slot, ThreadScratch& mine) {
    const RowStatus* status = status_.data() + slot * g_.q_len;
    ColumnStats* running = extras_.running_stats.empty() ? nullptr : &extras_.running_stats[head];
    SinkSet& sinks = sinks_[slot];
    calibration_.detector.select(reduce_statistics(g_, slot, scratch_, status, mine.head_stats, running), sinks);
    mine.report.sinks_selected += sinks.size();
    if (extras_.sinks != nullptr) (*extras_.sinks)[head] = sinks;
    if constexpr (!needs_correction<Cal>) {
      // Nothing is rescaled, but as in the reference every valid row of a head with sinks counts.
      if (!sinks.empty())
        mine.report.rows_calibrated +=
            static_cast<std::size_t>(std::count(status, status + g_.q_len, RowStatus::valid));
    }
  }

  Operands<KV> in_;
  HeadsView<float> out_;
  AttentionGeometry g_;
  const AttentionExtras& extras_;
  const Cal& calibration_;
  std::span<const float> given_lse_;
  bool sweep_plain_heads_;
  const Sweep& sweep_;
  std::size_t wave_ = 1;
  std::vector<ThreadScratch> scratch_;
  std::vector<RowStatus> status_;     // [wave slot][q_len]
  std::vector<float> own_shift_;      // [wave slot][q_len], the attention sweep's row max
  std::vector<float> own_scale_;      // [wave slot][q_len], the sweep's row 1/sum
  std::vector<SinkSet> sinks_;        // [wave slot]
  std::vector<MaskedRow> masked_;     // masked calls: masked_rows()
  parallel::FirstException failure_;  // kept from any thread; the rest of the work is skipped
};

inline int thread_count(const AttentionOptions& options) { return parallel::resolve_threads(options.threads); }

// Shape checks shared by the public kernels; float scores index keys as floats, so kv_len < 2^24.
template <class KV>
AttentionGeometry resolve_fused(const Operands<KV>& in, const HeadsView<float>& out, const AttentionOptions& options,
                                const AttentionExtras& extras) {
  if (options.values != ValueLayout::key_rows) shape_error("the fused kernels read V as key rows (see ValueRows)");
  AttentionGeometry g = resolve_geometry(in.q, in.k, in.v, options);
  g.products = resolve_products<KV>(g.products, g.head_dim);
  check_output(out, g, "output");
  check_output_apart(out, in.q, in.k, in.v);
  check_extras(extras, g.q_heads, g.q_len);
  if (g.kv_len >= (std::size_t{1} << 24)) shape_error("the fused kernels support fewer than 2^24 keys");
  return g;
}

// The attention sweep as a named type (engine slices keep it as a member).
template <class KV>
struct AttendSweep {
  const Operands<KV>& in;
  const HeadsView<float>& out;
  const AttentionGeometry& g;
  void operator()(std::size_t head, const QueryBlock& block, ThreadScratch& scratch, const HeadRows& rows) const {
    attend_block(in, out, g, head, block, scratch, rows);
  }
};

// The block kernel for any number of query rows.
template <class KV, CalibrationPolicy Cal>
CalibrationReport block_attention(const Operands<KV>& in, const HeadsView<float>& out, const AttentionGeometry& g,
                                  const AttentionExtras& extras, const Cal& calibration, int threads) {
  const AttendSweep<KV> sweep{in, out, g};
  WaveRunner<Cal, AttendSweep<KV>, KV> runner(in, out, g, extras, calibration, {}, true, sweep);
  return runner.run(threads);
}

// act::attention for any cache element type: one query row per head (decode) takes the split-K
// path of decode_attention.hpp, everything else the block kernel.
template <class KV, class Cal>
CalibrationReport run_attention(HeadsView<const float> q, HeadsView<const KV> k, HeadsView<const KV> v,
                                HeadsView<float> out, const AttentionOptions& options, const Cal& calibration,
                                const AttentionExtras& extras) {
  const int threads = thread_count(options);
  const ValueRows<KV> values(q, k, v, options, threads, CopyStorage::thread_buffer);
  const Operands<KV> in{q, k, values.view()};
  const AttentionGeometry g = resolve_fused(in, out, values.options(), extras);
  if (takes_decode_path(g)) return decode_attention(in, out, g, extras, calibration, threads);
  return block_attention(in, out, g, extras, calibration, threads);
}

}  // namespace detail

// Attention with optional ACT calibration in float32, O(kv_len) extra memory per thread. Same
// shapes, options, extras and semantics as act::reference::attention (without its quirks). One
// query row per head (decode) takes the split-K path of decode_attention.hpp.
template <CalibrationPolicy Cal = NoCalibration>
CalibrationReport attention(HeadsView<const float> q, HeadsView<const float> k, HeadsView<const float> v,
                            HeadsView<float> out, const AttentionOptions& options = {}, const Cal& calibration = {},
                            const AttentionExtras& extras = {}) {
  return detail::run_attention(q, k, v, out, options, calibration, extras);
}

// The same over an IEEE-half KV cache, read in place and widened in registers (exact: the result
// is that of float32 K and V holding the same values).
template <CalibrationPolicy Cal = NoCalibration>
CalibrationReport attention(HeadsView<const float> q, HeadsView<const Half> k, HeadsView<const Half> v,
                            HeadsView<float> out, const AttentionOptions& options = {}, const Cal& calibration = {},
                            const AttentionExtras& extras = {}) {
  return detail::run_attention(q, k, v, out, options, calibration, extras);
}

// The same over a bfloat16 KV cache.
template <CalibrationPolicy Cal = NoCalibration>
CalibrationReport attention(HeadsView<const float> q, HeadsView<const BFloat16> k, HeadsView<const BFloat16> v,
                            HeadsView<float> out, const AttentionOptions& options = {}, const Cal& calibration = {},
                            const AttentionExtras& extras = {}) {
  return detail::run_attention(q, k, v, out, options, calibration, extras);
}

}  // namespace act
