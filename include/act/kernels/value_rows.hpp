#pragma once
// V as the fused kernels read it: key rows ([kv_heads][kv_len][head_dim], any strides). An engine
// whose V cache is transposed (ValueLayout::transposed, [kv_heads][head_dim][kv_len]: llama.cpp
// without flash attention) gets a key-row copy of the keys some query can see, made once per call
// in tiles (each tile reads `key_tile` consecutive keys of every value dimension and writes them as
// rows), so the kernels' P V loops stay the contiguous ones every other layout uses. The copy costs
// kv_heads * kv_len * head_dim elements of memory and one more read and write of V: noise for a
// prefill's O(n^2 d) work, more than the attention itself for a decode step (act_bench_attention,
// `values_` rows). act::attention and correct() copy into a buffer the calling thread keeps and
// grows (a fresh allocation per call would fault its pages in every time); SlicedAttention, whose
// object outlives the call that builds it, owns its copy.
#include <act/core/attention_options.hpp>
#include <act/core/heads_view.hpp>
#include <act/core/parallel.hpp>
#include <act/simd/aligned_vector.hpp>

#include <algorithm>
#include <cstddef>

namespace act::detail {

// Keys past this one are seen by no query of the call, so never read.
inline std::size_t keys_read(const AttentionGeometry& g) noexcept {
  return g.masking == Masking::causal ? std::min(g.valid_keys, g.first_position + g.q_len) : g.valid_keys;
}

// Where the key-row copy lives: a buffer of the calling thread, reused by its next call (for calls
// that finish before they return), or one the ValueRows object owns.
enum class CopyStorage { thread_buffer, owned };

template <class KV>
class ValueRows {
 public:
  // Validates `v` against `options.values` and K (std::invalid_argument). `threads` copy KV heads
  // in parallel (1: the calling thread only, as engine slices need).
  ValueRows(HeadsView<const float> q, HeadsView<const KV> k, HeadsView<const KV> v, const AttentionOptions& options,
            int threads, CopyStorage storage)
      : view_(v), options_(options) {
    if (options.values == ValueLayout::key_rows) return;
    const AttentionGeometry g = resolve_geometry(q, k, v, options);
    simd::AlignedVector<KV>& copy = storage == CopyStorage::owned ? owned_ : thread_buffer();
    if (copy.size() < g.kv_heads * g.kv_len * g.head_dim) copy.resize(g.kv_heads * g.kv_len * g.head_dim);
    view_ = head_major<const KV>(copy.data(), g.kv_heads, g.kv_len, g.head_dim);
    options_.values = ValueLayout::key_rows;
    parallel::parallel_for(g.kv_heads, threads,
                           [&](std::size_t head) { copy_head(v, head, keys_read(g), g.head_dim, copy.data()); });
  }
  ValueRows(const ValueRows&) = delete;  // view_ may point into copy_
  ValueRows& operator=(const ValueRows&) = delete;

  HeadsView<const KV> view() const noexcept { return view_; }
  // The caller's options, with V now in key rows.
  const AttentionOptions& options() const noexcept { return options_; }

 private:
  static constexpr std::size_t key_tile = 16;

  static simd::AlignedVector<KV>& thread_buffer() {
    thread_local simd::AlignedVector<KV> buffer;
    return buffer;
  }

  // Rows [0, keys) of one KV head from the transposed V; the rows past them, which no query reads,
  // are zeroed so the copy never holds another call's values.
  static void copy_head(const HeadsView<const KV>& transposed, std::size_t head, std::size_t keys, std::size_t dim,
                        KV* rows) {
    KV* out = rows + head * transposed.cols * dim;
    for (std::size_t first = 0; first < keys; first += key_tile) {
      const std::size_t count = std::min(key_tile, keys - first);
      for (std::size_t c = 0; c < dim; ++c) {
        const KV* source = transposed.row(head, c) + first;
        for (std::size_t j = 0; j < count; ++j) out[(first + j) * dim + c] = source[j];
      }
    }
    std::fill(out + keys * dim, out + transposed.cols * dim, KV{});
  }

  simd::AlignedVector<KV> owned_;
  HeadsView<const KV> view_;
  AttentionOptions options_;
};

}  // namespace act::detail
