#pragma once
// Decode: one query row per head against a KV cache, the call generation spends its time in. The
// block kernel (fused_attention.hpp) puts one query per SIMD lane, which in decode leaves all lanes
// but one idle and gives the threads only one item per query head. Here the keys are in the lanes
// and the cache is split into chunks over the threads (split-K):
//  1. each (KV head, chunk) item scores the chunk against every query head of the group (a key row
//     is loaded once for the group), keeps the unnormalised weights e_j = exp(s_j - m) with the
//     chunk's max m and sum l, and accumulates the chunk's partial output sum_j e_j v_j;
//  2. each query head merges its chunks with the log-sum-exp rule into its output row and lse. A
//     calibrated head then adds its normalised weights e_j * exp(m - M) / L to the column
//     statistics (the running ones in decode), chooses its sinks from them and corrects the row with
//     the two gains of the spec, exactly as the block kernel does for every row.
// Scalar tails use explicit fused multiply-adds, so every cache type rounds alike whatever the
// compiler contracts. Outcomes equal the block kernel's: a NaN or +inf score makes the row invalid (output NaN), a row
// that sees no key or only -inf scores is empty (output 0). Keys the row cannot see are never read.
#include <act/core/attention_options.hpp>
#include <act/core/calibration_report.hpp>
#include <act/core/column_stats.hpp>
#include <act/core/parallel.hpp>
#include <act/kernels/attention_extras.hpp>
#include <act/kernels/lane_ops.hpp>
#include <act/kernels/operands.hpp>
#include <act/policies/calibration.hpp>
#include <act/policies/columnwise.hpp>
#include <act/simd/widen.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

namespace act::detail {

using simd::Floats;

// Chunks have at least this many keys (below it a chunk's fixed costs show), and a head has at most
// this many chunks. The cut depends on the cache length only, never on the thread count, so any
// number of threads gives bitwise the same result.
inline constexpr std::size_t decode_min_chunk = 128;
inline constexpr std::size_t decode_max_chunks = 16;

// One (query head, chunk)'s share of the softmax.
struct ChunkPartial {
  float max = -simd::infinity;  // largest score of the chunk
  float sum = 0.0f;             // sum of exp(s - max)
  bool bad = false;             // a NaN or +inf score
};

// How the visible keys are cut into chunks, and where each head's numbers live.
struct DecodeLayout {
  std::size_t visible = 0;  // keys the row sees: [0, visible)
  std::size_t chunk = 0;    // keys per chunk (a multiple of the SIMD width)
  std::size_t chunks = 0;   // chunks per head
  std::size_t stride = 0;   // floats per head in the weight buffer: visible rounded up to the width
  std::size_t padded_dim = 0;

  explicit DecodeLayout(const AttentionGeometry& g) : visible(g.visible_keys(0)) {
    const std::size_t wanted = std::clamp<std::size_t>(visible / decode_min_chunk, 1, decode_max_chunks);
    chunk = round_up((visible + wanted - 1) / wanted);
    chunks = visible == 0 ? 0 : (visible + chunk - 1) / chunk;
    stride = round_up(visible);
    padded_dim = round_up(g.head_dim);
  }
  static std::size_t round_up(std::size_t n) noexcept { return (n + simd::width - 1) / simd::width * simd::width; }
};

// The buffers of one decode call; the calling thread keeps them between calls (decode runs once per
// token, and reallocating them each time would cost more than the attention of a short cache).
struct DecodeBuffers {
  simd::AlignedVector<float> queries;      // [q_heads][padded_dim], scaled
  simd::AlignedVector<float> weights;      // [q_heads][stride]: scores, then exp(s - chunk max)
  simd::AlignedVector<float> outputs;      // [q_heads][chunks][padded_dim]: sum_j e_j v_j per chunk
  std::vector<ChunkPartial> partials;      // [q_heads][chunks]
  std::vector<float> factors;              // [q_heads][chunks]: exp(m_c - M) / L turns e_j into a weight
  std::vector<CalibrationReport> reports;  // [q_heads]
  std::vector<ColumnStats> call_stats;     // [q_heads], without running statistics

  void prepare(const AttentionGeometry& g, const DecodeLayout& layout) {
    queries.assign(g.q_heads * layout.padded_dim, 0.0f);
    weights.resize(g.q_heads * layout.stride);
    outputs.assign(g.q_heads * layout.chunks * layout.padded_dim, 0.0f);
    partials.assign(g.q_heads * layout.chunks, ChunkPartial{});
    factors.assign(g.q_heads * layout.chunks, 0.0f);
    reports.assign(g.q_heads, CalibrationReport{});
    call_stats.resize(g.q_heads);
  }
};

inline DecodeBuffers& decode_buffers() {
  thread_local DecodeBuffers buffers;
  return buffers;
}

// Key and value rows this far ahead of the key being scored are requested from memory early. A
// model's decode reads its whole KV cache from memory once per token (30 layers x 46 KB per token
// for SmolLM2): with the requests, act-llama decodes 1.23x faster at a 4,000-token context (44.6
// against 36.3 tokens/s, one thread); 64 rows ahead gained nothing more.
inline constexpr std::size_t decode_prefetch_rows = 16;

template <class KV>
void prefetch_row(const KV* row, std::size_t elements) noexcept {
  const auto* bytes = reinterpret_cast<const char*>(row);
  for (std::size_t offset = 0; offset < elements * sizeof(KV); offset += 64) __builtin_prefetch(bytes + offset);
}

// Per-lane products of keys [first, first + count) (count <= width) with the query heads
// [head, head + Heads) of one KV group, into tile[h][t][lane]: each key vector is loaded once for
// all of them (the group shares its keys), and the heads' FMA chains run side by side. Keys past
// `count` give zeros.
template <std::size_t Heads, class KV>
void key_products(const Operands<KV>& in, const AttentionGeometry& g, const DecodeLayout& layout, std::size_t head,
                  std::size_t first, std::size_t count, const DecodeBuffers& buffers, float* tile) {
  const std::size_t kv_head = g.kv_head_of(head), vectors = g.head_dim / simd::width;
  const bool has_tail = vectors * simd::width < g.head_dim;
  const float* queries = buffers.queries.data() + head * layout.padded_dim;
  for (std::size_t t = 0; t < simd::width; ++t) {
    Floats acc[Heads];
    float tail[Heads] = {};
    ACT_UNROLL for (Floats& a : acc) a = Floats(0.0f);
    if (first + t + decode_prefetch_rows < layout.visible) {  // the value rows are read after the chunk's scores
      prefetch_row(in.k.row(kv_head, first + t + decode_prefetch_rows), g.head_dim);
      prefetch_row(in.v.row(kv_head, first + t + decode_prefetch_rows), g.head_dim);
    }
    if (t < count) {
      const KV* key = in.k.row(kv_head, first + t);
      for (std::size_t v = 0; v < vectors; ++v) {
        const Floats k = simd::widen(key + v * simd::width);
        ACT_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
          acc[h] = simd::fma(simd::load(queries + h * layout.padded_dim + v * simd::width), k, acc[h]);
        }
      }
      for (std::size_t c = vectors * simd::width; c < g.head_dim; ++c)
        ACT_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
          tail[h] = std::fma(queries[h * layout.padded_dim + c], simd::widen_scalar(key[c]), tail[h]);
        }
    }
    ACT_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
      float* lanes = tile + (h * simd::width + t) * simd::width;
      acc[h].store_aligned(lanes);
      if (has_tail) lanes[0] += tail[h];  // lanes are summed next
    }
  }
}

// 0, 1, ..., width - 1: the key offset of each lane (a constant, so it is not rebuilt per call).
inline constexpr auto lane_positions = [] {
  std::array<float, simd::width> positions{};
  for (std::size_t t = 0; t < simd::width; ++t) positions[t] = static_cast<float>(t);
  return positions;
}();

// Scores of keys [first, first + count) (count <= width) for the query heads [head, head + heads),
// keys in lanes: each key's products are summed across lanes by one transpose-reduce per head.
// Lanes past `count` score -inf.
template <class KV>
void score_keys_in_lanes(const Operands<KV>& in, const AttentionGeometry& g, const DecodeLayout& layout,
                         std::size_t head, std::size_t heads, std::size_t first, std::size_t count,
                         DecodeBuffers& buffers, float* tile) {
  for (std::size_t h = 0; h < heads; h += 4) {
    float* block_tile = tile + h * simd::width * simd::width;
    switch (std::min<std::size_t>(4, heads - h)) {
      case 4: key_products<4>(in, g, layout, head + h, first, count, buffers, block_tile); break;
      case 3: key_products<3>(in, g, layout, head + h, first, count, buffers, block_tile); break;
      case 2: key_products<2>(in, g, layout, head + h, first, count, buffers, block_tile); break;
      default: key_products<1>(in, g, layout, head + h, first, count, buffers, block_tile); break;
    }
  }
  const auto present = Floats::load_unaligned(lane_positions.data()) < Floats(static_cast<float>(count));
  for (std::size_t h = 0; h < heads; ++h) {
    const float* products = tile + h * simd::width * simd::width;
    const Floats scores = simd::lane_totals_of([&](std::size_t t) { return simd::load(products + t * simd::width); });
    xsimd::select(present, scores, Floats(-simd::infinity))
        .store_aligned(buffers.weights.data() + (head + h) * layout.stride + first);
  }
}

inline float lane_max(Floats values) noexcept {
  alignas(simd::alignment) float lanes[simd::width];
  values.store_aligned(lanes);
  return *std::max_element(lanes, lanes + simd::width);
}

// exp(s - max) in place over one head's chunk, with the chunk's max, sum and bad flag.
inline ChunkPartial exponentiate_chunk(float* weights, std::size_t count) {
  Floats max(-simd::infinity);
  simd::Lanes bad(false);
  for (std::size_t j = 0; j < count; j += simd::width) {
    const Floats s = simd::load(weights + j);
    max = xsimd::max(max, s);
    bad = bad | !(s < Floats(simd::infinity));
  }
  ChunkPartial partial{lane_max(max), 0.0f, xsimd::any(bad)};
  if (partial.bad || partial.max == -simd::infinity) {  // nothing to weigh: the row is invalid or sees only -inf
    std::fill_n(weights, count, 0.0f);
    return partial;
  }
  Floats sum(0.0f);
  for (std::size_t j = 0; j < count; j += simd::width) {
    const Floats e = xsimd::exp(simd::load(weights + j) - Floats(partial.max));
    e.store_aligned(weights + j);
    sum += e;
  }
  partial.sum = xsimd::hadd(sum);
  return partial;
}

// Vectors [v0, v0 + Vectors) of out_h = sum_j weights_h[j] v_j over keys [first, first + count),
// for the query heads [head, head + Heads) of one KV group: each value vector is loaded once for
// all of them, and the Heads x Vectors independent FMA chains hide the FMA latency (one head's four
// chains did not). Each head still sums its keys in order, so its result is the one-head loop's.
template <std::size_t Heads, std::size_t Vectors, class KV>
void accumulate_value_vectors(const Operands<KV>& in, std::size_t kv_head, std::size_t first, std::size_t count,
                              std::size_t v0, const float* const* weights, float* const* out) {
  Floats acc[Heads][Vectors];
  ACT_UNROLL for (auto& head_acc : acc) { ACT_UNROLL for (Floats& a : head_acc) a = Floats(0.0f); }
  for (std::size_t j = 0; j < count; ++j) {
    const KV* row = in.v.row(kv_head, first + j) + v0 * simd::width;
    ACT_UNROLL for (std::size_t u = 0; u < Vectors; ++u) {
      const Floats value = simd::widen(row + u * simd::width);
      ACT_UNROLL for (std::size_t h = 0; h < Heads; ++h) acc[h][u] = simd::fma(Floats(weights[h][j]), value, acc[h][u]);
    }
  }
  ACT_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
    ACT_UNROLL for (std::size_t u = 0; u < Vectors; ++u) acc[h][u].store_aligned(out[h] + (v0 + u) * simd::width);
  }
}

// The chunk's partial outputs of the query heads [head, head + Heads) of one KV group.
template <std::size_t Heads, class KV>
void accumulate_group_values(const Operands<KV>& in, const AttentionGeometry& g, const DecodeLayout& layout,
                             std::size_t head, std::size_t chunk, DecodeBuffers& buffers) {
  const std::size_t kv_head = g.kv_head_of(head), vectors = g.head_dim / simd::width;
  const std::size_t first = chunk * layout.chunk, count = std::min(layout.chunk, layout.visible - first);
  const float* weights[Heads];
  float* out[Heads];
  ACT_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
    weights[h] = buffers.weights.data() + (head + h) * layout.stride + first;
    out[h] = buffers.outputs.data() + ((head + h) * layout.chunks + chunk) * layout.padded_dim;
  }
  std::size_t v0 = 0;
  for (; v0 + 4 <= vectors; v0 += 4) accumulate_value_vectors<Heads, 4>(in, kv_head, first, count, v0, weights, out);
  for (; v0 < vectors; ++v0) accumulate_value_vectors<Heads, 1>(in, kv_head, first, count, v0, weights, out);
  for (std::size_t c = vectors * simd::width; c < g.head_dim; ++c) {
    for (std::size_t h = 0; h < Heads; ++h) {
      float sum = 0.0f;
      for (std::size_t j = 0; j < count; ++j)
        sum = std::fma(weights[h][j], simd::widen_scalar(in.v.row(kv_head, first + j)[c]), sum);
      out[h][c] = sum;
    }
  }
}

// Step 1 for one (KV head, chunk) item: every query head of the group.
template <class KV>
void decode_chunk(const Operands<KV>& in, const AttentionGeometry& g, const DecodeLayout& layout, std::size_t kv_head,
                  std::size_t chunk, DecodeBuffers& buffers) {
  thread_local simd::AlignedVector<float> tile;
  tile.resize(g.group * simd::width * simd::width);
  const std::size_t first = chunk * layout.chunk, count = std::min(layout.chunk, layout.visible - first);
  const std::size_t head = kv_head * g.group;
  for (std::size_t j = 0; j < count; j += simd::width)
    score_keys_in_lanes(in, g, layout, head, g.group, first + j, std::min(simd::width, count - j), buffers,
                        tile.data());
  const std::size_t padded = DecodeLayout::round_up(count);
  for (std::size_t h = head; h < head + g.group; ++h)
    buffers.partials[h * layout.chunks + chunk] =
        exponentiate_chunk(buffers.weights.data() + h * layout.stride + first, padded);
  for (std::size_t h = head; h < head + g.group; h += 4) {
    switch (std::min<std::size_t>(4, head + g.group - h)) {
      case 4: accumulate_group_values<4>(in, g, layout, h, chunk, buffers); break;
      case 3: accumulate_group_values<3>(in, g, layout, h, chunk, buffers); break;
      case 2: accumulate_group_values<2>(in, g, layout, h, chunk, buffers); break;
      default: accumulate_group_values<1>(in, g, layout, h, chunk, buffers); break;
    }
  }
  // A head with nothing to weigh keeps a zero partial output: its zero weights times an infinite
  // value would have written NaN into it.
  for (std::size_t h = head; h < head + g.group; ++h)
    if (!(buffers.partials[h * layout.chunks + chunk].sum > 0.0f))
      std::fill_n(buffers.outputs.data() + (h * layout.chunks + chunk) * layout.padded_dim, layout.padded_dim, 0.0f);
}

// The merged softmax of one head: max M over the chunks, L = sum_c exp(m_c - M) l_c.
struct MergedRow {
  RowStatus status = RowStatus::empty;
  float max = -simd::infinity;
  float sum = 0.0f;
};

inline MergedRow merge_partials(std::span<const ChunkPartial> partials) {
  MergedRow row;
  for (const ChunkPartial& p : partials) {
    if (p.bad) row.status = RowStatus::invalid;
    row.max = std::max(row.max, p.max);
  }
  if (row.status == RowStatus::invalid || row.max == -simd::infinity) return row;
  for (const ChunkPartial& p : partials) row.sum += p.sum * std::exp(p.max - row.max);
  row.status = RowStatus::valid;
  return row;
}

// Step 2a: one head's output row and lse from its chunks, and each chunk's factor exp(m_c - M) / L
// that turns its e_j into normalised weights.
inline MergedRow finish_row(const AttentionGeometry& g, const DecodeLayout& layout, std::size_t head,
                            const HeadsView<float>& out, std::span<float> lse, DecodeBuffers& buffers) {
  const std::span<const ChunkPartial> partials(buffers.partials.data() + head * layout.chunks, layout.chunks);
  const MergedRow row = merge_partials(partials);
  float* out_row = out.row(head, 0);
  if (!lse.empty())
    lse[head] = row.status == RowStatus::valid     ? row.max + std::log(row.sum)
                : row.status == RowStatus::invalid ? std::numeric_limits<float>::quiet_NaN()
                                                   : -simd::infinity;
  if (row.status != RowStatus::valid) {
    std::fill_n(out_row, g.head_dim, row.status == RowStatus::invalid ? std::numeric_limits<float>::quiet_NaN() : 0.0f);
    return row;
  }
  std::fill_n(out_row, g.head_dim, 0.0f);
  float* factors = buffers.factors.data() + head * layout.chunks;
  for (std::size_t c = 0; c < layout.chunks; ++c) {
    factors[c] = std::exp(partials[c].max - row.max) / row.sum;
    const float* partial_out = buffers.outputs.data() + (head * layout.chunks + c) * layout.padded_dim;
    for (std::size_t d = 0; d < g.head_dim; ++d) out_row[d] += factors[c] * partial_out[d];
  }
  return row;
}

// The normalised weight of key j of a head (valid rows only).
inline float decoded_weight(const DecodeLayout& layout, const DecodeBuffers& buffers, std::size_t head,
                            std::size_t j) noexcept {
  return buffers.weights[head * layout.stride + j] * buffers.factors[head * layout.chunks + j / layout.chunk];
}

// Step 2b: the statistics a calibrated head's row goes into: this call's (cleared), or the running
// ones, grown to the cache.
inline ColumnStats& row_statistics(const AttentionGeometry& g, std::size_t head, const AttentionExtras& extras,
                                   DecodeBuffers& buffers) {
  ColumnStats& stats = extras.running_stats.empty() ? buffers.call_stats[head] : extras.running_stats[head];
  if (extras.running_stats.empty()) stats.clear();
  stats.extend_to(g.kv_len);
  return stats;
}

// In a model's decode a layer's running column sums are cold (the other layers' caches have passed
// through since its last step) and a chunk is as short as 128 columns, too short for the hardware
// prefetcher to get ahead: so each chunk requests the sums this many columns further on (30 layers,
// one thread, builds alternated: ACT / plain 1.114 -> 1.071 at kv 2048, 1.066 -> 1.026 at kv 8192).
inline constexpr std::size_t statistics_prefetch_columns = 512;

// Requests the sums of columns [first, end) + statistics_prefetch_columns (the first chunk also its
// own and those up to there), within the row's visible columns. Always inlined: GCC 12 finds a
// function whose only effect is __builtin_prefetch "const" and drops calls to it.
[[gnu::always_inline]] inline void prefetch_statistics(const float* received, std::size_t first, std::size_t end,
                                                       std::size_t visible) noexcept {
  constexpr std::size_t line = 64 / sizeof(float);
  const std::size_t from = std::min(first == 0 ? 0 : first + statistics_prefetch_columns, visible);
  const std::size_t to = std::min(end + statistics_prefetch_columns, visible);
  for (std::size_t j = from; j < to; j += line) __builtin_prefetch(received + j, 1);
}

// Calls visit(first, end, factor) for each chunk of a head's visible keys [first, end), with the
// factor that turns the chunk's e_j into normalised weights; visit adds them to `received`, whose
// sums further on each chunk first requests.
template <class Visit>
[[gnu::always_inline]] inline void for_each_weighted_chunk(const DecodeLayout& layout, const float* factors,
                                                           const float* received, Visit visit) {
  for (std::size_t c = 0; c < layout.chunks; ++c) {
    const std::size_t first = c * layout.chunk, end = std::min(first + layout.chunk, layout.visible);
    prefetch_statistics(received, first, end, layout.visible);
    visit(first, end, factors[c]);
  }
}

// A columnwise detector whose test also takes SIMD batches: decode tests whole vectors of columns.
template <class D>
concept BatchColumnTest = ColumnwiseDetector<D> && requires(const D& d, Floats v) {
  { d.is_candidate(v, v) } -> std::same_as<simd::Lanes>;
};

using ColumnCounts = xsimd::batch<std::uint32_t, simd::Arch>;

// Columns [j, j + width) (j + width at most 2^32: the caller checks).
inline ColumnCounts lane_columns(std::size_t j) noexcept {
  alignas(simd::alignment) static constexpr std::array<std::uint32_t, simd::width> offsets = [] {
    std::array<std::uint32_t, simd::width> lanes{};
    for (std::size_t i = 0; i < simd::width; ++i) lanes[i] = static_cast<std::uint32_t>(i);
    return lanes;
  }();
  return ColumnCounts(static_cast<std::uint32_t>(j)) + ColumnCounts::load_aligned(offsets.data());
}

// The counts of columns [j, j + width) as floats, as the scalar count(j) gives them (column_stats.hpp):
// computed for a causal history, counted and stored for per-column counts. The uint32 -> float
// conversion rounds as static_cast does.
inline Floats seen_floats(CausalCounts counts, std::size_t j) noexcept {
  const ColumnCounts rows(counts.rows);
  return xsimd::batch_cast<float>(rows - xsimd::min(lane_columns(j), rows));
}
inline Floats seen_floats(CountingColumns counts, std::size_t j) noexcept {
  const ColumnCounts updated = ColumnCounts::load_unaligned(counts.counts + j) + ColumnCounts(1u);
  updated.store_unaligned(counts.counts + j);
  return xsimd::batch_cast<float>(updated);
}

// Appends first + i for each true lane.
inline void append_lanes(simd::Lanes lanes, std::size_t first, SinkSet& sinks) {
  bool flags[simd::width];
  lanes.store_unaligned(flags);
  append_flagged(flags, simd::width, first, sinks);
}

// The columns of [first, end) a batch detector tests a vector at a time: whole vectors, and none when
// a column index would not fit the 32-bit lanes.
inline std::size_t vector_end(std::size_t first, std::size_t end) noexcept {
  if (end > std::size_t{std::numeric_limits<std::uint32_t>::max()}) return first;
  return end - (end - first) % simd::width;
}

// The vector part of add_row_testing for one chunk: columns [first, vector_end) a vector at a time;
// returns where it stopped. Everything it reads comes by value, so the compiler keeps it in registers
// across the stores to `received` (captured by reference, it was reloaded at every vector).
template <BatchColumnTest D, class Count>
std::size_t add_vectors_testing(const D detector, const float* weights, const float factor, const Count count,
                                float* received, std::size_t first, const std::size_t end, SinkSet& sinks) {
  const Floats scale(factor);
  for (const std::size_t stop = vector_end(first, end); first < stop; first += simd::width) {
    const Floats total = simd::fma(simd::load(weights + first), scale, Floats::load_unaligned(received + first));
    total.store_unaligned(received + first);
    const simd::Lanes candidates = detector.is_candidate(total, seen_floats(count, first));
    if (xsimd::any(candidates)) append_lanes(candidates, first, sinks);
  }
  return first;
}

// Adds a valid row's weights (and, per column, its count) to a head's statistics, testing each column
// as it goes: whole vectors when the detector tests batches, then one column at a time. Every column
// adds its weight with one fused multiply-add, so both forms and the untested pass round alike. (A
// 64-column flag loop left to the compiler ran a chunk's last 16 columns in scalar code: 7% of a kv
// 2048 step where the vector pass takes 3%.) The values the scalar loop reads are this function's
// own parameters, so the compiler keeps them in registers across the flag stores and vectorises it.
template <ColumnwiseDetector D, class Count>
void add_row_testing(const D& detector, const DecodeLayout& layout, const float* weights, const float* factors,
                     Count count, float* received, SinkSet& sinks) {
  for_each_weighted_chunk(layout, factors, received, [&](std::size_t first, std::size_t end, float factor) {
    if constexpr (BatchColumnTest<D>)
      first = add_vectors_testing(detector, weights, factor, count, received, first, end, sinks);
    append_tested(first, end, sinks, [&](std::size_t j) {
      received[j] = std::fma(weights[j], factor, received[j]);
      return detector.is_candidate(received[j], static_cast<float>(count(j)));
    });
  });
}

// Adds a valid row's weights and count to the head's statistics, then asks the detector for the
// sinks. A columnwise detector tests each column as its weight and count are added, so the statistics
// of the whole cache are not read a second time (perf: 3.7-4.0% of a kv 8192 step, against 5.0-5.5%
// in two passes).
template <SinkDetector D>
void add_row_then_select(const D& detector, const DecodeLayout& layout, std::size_t head, ColumnStats& stats,
                         const DecodeBuffers& buffers, SinkSet& sinks) {
  const float* weights = buffers.weights.data() + head * layout.stride;
  const float* factors = buffers.factors.data() + head * layout.chunks;
  if constexpr (ColumnwiseDetector<D>) {
    sinks.clear();
    stats.seen_by.add_row_counting(layout.visible, [&](auto count) {
      add_row_testing(detector, layout, weights, factors, count, stats.received.data(), sinks);
    });
    append_candidates(detector, stats.view(), layout.visible, stats.size(), sinks);  // columns the row cannot see
    detector.finish(sinks);
  } else {
    stats.seen_by.add_row(layout.visible);
    float* received = stats.received.data();
    for_each_weighted_chunk(layout, factors, received, [&](std::size_t first, std::size_t end, float factor) {
      for (std::size_t j = first; j < end; ++j) received[j] = std::fma(weights[j], factor, received[j]);
    });
    detector.select(stats.view(), sinks);
  }
}

// The head's sinks after its row: a row that is not valid adds nothing to the statistics.
template <SinkDetector D>
void select_after_row(const D& detector, const AttentionGeometry& g, const DecodeLayout& layout, std::size_t head,
                      const MergedRow& row, const AttentionExtras& extras, DecodeBuffers& buffers, SinkSet& sinks) {
  ColumnStats& stats = row_statistics(g, head, extras, buffers);
  if (row.status == RowStatus::valid) {
    add_row_then_select(detector, layout, head, stats, buffers, sinks);
  } else {
    detector.select(stats.view(), sinks);
  }
}

// Step 2c: the two-gain correction of a valid row, from its sink weights and sink values.
template <class KV, Rescaler Rule>
void correct_decoded_row(const Operands<KV>& in, const AttentionGeometry& g, const DecodeLayout& layout,
                         std::size_t head, const SinkSet& sinks, const HeadsView<float>& out, const Rule& rule,
                         const DecodeBuffers& buffers, CalibrationReport& report) {
  thread_local std::vector<float> sink_output;
  sink_output.assign(g.head_dim, 0.0f);
  float sink_mass = 0.0f;
  for (const std::uint32_t s : sinks) {
    if (s >= layout.visible) break;
    const float weight = decoded_weight(layout, buffers, head, s);
    sink_mass += weight;
    const KV* value = in.v.row(g.kv_head_of(head), s);
    for (std::size_t c = 0; c < g.head_dim; ++c)
      sink_output[c] = std::fma(weight, simd::widen_scalar(value[c]), sink_output[c]);
  }
  const auto gains = rule.gains(sink_mass, std::max(0.0f, 1.0f - sink_mass));
  if (!gains) {
    ++report.degenerate_rows;
    return;
  }
  ++report.rows_calibrated;
  float* row = out.row(head, 0);
  for (std::size_t c = 0; c < g.head_dim; ++c)
    row[c] = corrected_value(row[c], sink_output[c], gains->rest, gains->sink - gains->rest, gains->sink);
}

template <class KV, CalibrationPolicy Cal>
void finish_head(const Operands<KV>& in, const HeadsView<float>& out, const AttentionGeometry& g,
                 const DecodeLayout& layout, std::size_t head, const AttentionExtras& extras, const Cal& calibration,
                 DecodeBuffers& buffers) {
  const bool calibrated = needs_statistics<Cal> && head_is_calibrated(extras, head);
  const MergedRow row = finish_row(g, layout, head, out, extras.lse, buffers);
  CalibrationReport& report = buffers.reports[head];
  report.invalid_rows += row.status == RowStatus::invalid;
  report.empty_rows += row.status == RowStatus::empty;
  if (!calibrated) return;
  thread_local SinkSet sinks;
  select_after_row(calibration.detector, g, layout, head, row, extras, buffers, sinks);
  report.sinks_selected += sinks.size();
  if (extras.sinks != nullptr) (*extras.sinks)[head] = sinks;
  if (row.status != RowStatus::valid || sinks.empty()) return;
  if constexpr (needs_correction<Cal>) {
    correct_decoded_row(in, g, layout, head, sinks, out, calibration.rescaler, buffers, report);
  } else {
    ++report.rows_calibrated;  // as in the reference, a valid row of a head with sinks counts
  }
}

// Whether act::attention takes the decode path: one query row per head, no additive mask (a masked
// decode row goes through the block kernel, which reads the mask).
inline bool takes_decode_path(const AttentionGeometry& g) noexcept { return g.q_len == 1 && g.mask.empty(); }

template <class KV, CalibrationPolicy Cal>
CalibrationReport decode_attention(const Operands<KV>& in, const HeadsView<float>& out, const AttentionGeometry& g,
                                   const AttentionExtras& extras, const Cal& calibration, int threads) {
  const DecodeLayout layout(g);
  DecodeBuffers& buffers = decode_buffers();
  buffers.prepare(g, layout);
  for (std::size_t h = 0; h < g.q_heads; ++h) {
    const float* q = in.q.row(h, 0);
    float* scaled = buffers.queries.data() + h * layout.padded_dim;
    for (std::size_t c = 0; c < g.head_dim; ++c) scaled[c] = q[c] * g.scale;
  }
  if (extras.sinks != nullptr) extras.sinks->assign(g.q_heads, SinkSet{});
  parallel::parallel_for(g.kv_heads * layout.chunks, threads, [&](std::size_t item) {
    decode_chunk(in, g, layout, item / layout.chunks, item % layout.chunks, buffers);
  });
  parallel::parallel_for(g.q_heads, threads, [&](std::size_t head) {
    finish_head(in, out, g, layout, head, extras, calibration, buffers);
  });
  CalibrationReport report;
  for (const CalibrationReport& head : buffers.reports) report += head;
  return report;
}

}  // namespace act::detail
