#pragma once
// Masking, scale and threading shared by every attention kernel, and the shape checks they run.
#include <act/core/error.hpp>
#include <act/core/heads_view.hpp>
#include <act/core/mask_view.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>

namespace act {

enum class Masking {
  causal,  // query i sits at position query_position + i and sees keys up to that position
  none,    // every query sees every valid key
};

// Arithmetic of Q K^T and P V over a bfloat16 KV cache (float32 and half caches always use fp32).
// Softmax, lse and ACT statistics are float32 either way.
enum class ProductPrecision {
  fp32,  // K and V widened exactly; Q and the softmax weights stay float32
  // Q (scaled) and the softmax weights rounded to bfloat16, products accumulated in float32 by
  // AVX-512 BF16 (vdpbf16ps): the block (prefill) kernel with head_dim a multiple of 32, in
  // builds whose instruction set has it (simd::bf16_dot_compiled); fp32 everywhere else.
  bf16,
};

// How V is laid out in memory. key_rows: v.row(h, j) is key j's value vector (V is
// [kv_heads][kv_len][head_dim], any strides). transposed: v.row(h, c) is value dimension c over all
// keys (V is [kv_heads][head_dim][kv_len]), as llama.cpp keeps V without flash attention; the fused
// entry points first copy the keys some query sees into key rows (kv_heads * kv_len * head_dim
// elements of scratch, one more read and write of V per call), the oracle reads it in place.
enum class ValueLayout { key_rows, transposed };

struct AttentionOptions {
  Masking masking = Masking::causal;
  std::optional<float> scale;  // default 1/sqrt(head_dim)
  // Keys at index >= valid_keys are padding and masked for every query (per-sequence lengths in a batch).
  std::size_t valid_keys = std::numeric_limits<std::size_t>::max();
  // Causal masking only: the absolute position of query row 0 (row i is at query_position + i and
  // sees keys [0, query_position + i]). Unset: the queries end the cache (kv_len - q_len), which is
  // only unambiguous without padding, so valid_keys < kv_len then needs an explicit position.
  std::optional<std::size_t> query_position;
  // Optional additive mask [heads][q_len][kv_len], applied on top of `masking` and `valid_keys`:
  // a key is seen by a query when both allow it and the mask is not -inf; a NaN or +inf entry makes
  // the score, and so the row, invalid. The column statistics count, for each key, the rows that
  // see it (n - j only in the causal-prefill case).
  MaskView mask;
  int threads = 0;  // 0: OpenMP's default
  ProductPrecision products = ProductPrecision::fp32;
  ValueLayout values = ValueLayout::key_rows;
};

// The resolved geometry of one attention call, after validation.
struct AttentionGeometry {
  std::size_t q_heads, kv_heads, group, q_len, kv_len, head_dim, valid_keys;
  std::size_t first_position;  // causal: absolute position of query row 0
  Masking masking;
  float scale;
  MaskView mask;
  ProductPrecision products;  // as requested; the fused kernels resolve what they can honour
  ValueLayout values;

  std::size_t kv_head_of(std::size_t q_head) const noexcept { return q_head / group; }
  // Number of keys query i sees (keys [0, result) are visible).
  std::size_t visible_keys(std::size_t query) const noexcept {
    std::size_t limit = valid_keys;
    if (masking == Masking::causal) {
      const std::size_t position = first_position + query;
      limit = position + 1 < limit ? position + 1 : limit;
    }
    return limit;
  }
  // Whether query `i` of query head `head` sees key `j`.
  bool sees(std::size_t head, std::size_t i, std::size_t j) const noexcept {
    return j < visible_keys(i) && (mask.empty() || mask.at(head, i, j) != hidden_key);
  }
};

namespace detail {

// Appends rather than `"[" + std::to_string(h)`, which trips GCC 12's -Wrestrict false positive at -O3.
inline std::string dims(std::size_t h, std::size_t r, std::size_t c) {
  std::string text(1, '[');
  text.append(std::to_string(h)).append(", ").append(std::to_string(r)).append(", ").append(std::to_string(c));
  return text.append("]");
}

// Where causal query row 0 sits. Without an explicit position the queries end the cache; with
// padding (valid_keys < kv_len) that guess is as likely wrong as right (an engine's queries usually
// follow the valid keys), so the call is rejected instead of answered silently for the wrong rows.
inline std::size_t first_query_position(const AttentionOptions& options, std::size_t q_len, std::size_t kv_len,
                                        std::size_t valid) {
  if (options.masking != Masking::causal) {
    if (options.query_position) shape_error("query_position is only used with causal masking");
    return 0;
  }
  if (options.query_position) {
    if (*options.query_position > std::numeric_limits<std::size_t>::max() - q_len)
      shape_error("query_position " + std::to_string(*options.query_position) + " overflows with " +
                  std::to_string(q_len) + " queries");
    return *options.query_position;
  }
  if (valid < kv_len)
    shape_error("causal attention with valid_keys (" + std::to_string(valid) + ") below the cache length (" +
                std::to_string(kv_len) + ") is ambiguous: set AttentionOptions::query_position (" +
                "valid_keys - queries when the queries are the last valid keys)");
  if (q_len > kv_len)
    shape_error("causal attention needs at least as many keys (" + std::to_string(kv_len) + ") as queries (" +
                std::to_string(q_len) + ") unless query_position is set");
  return kv_len - q_len;
}

inline void check_mask(const MaskView& mask, std::size_t q_heads, std::size_t q_len, std::size_t kv_len) {
  if (mask.empty()) return;
  if (mask.type != MaskType::f32 && mask.type != MaskType::f16) shape_error("mask has an unsupported element type");
  if (mask.heads != 1 && mask.heads != q_heads)
    shape_error("mask has " + std::to_string(mask.heads) + " heads; expected 1 (shared) or the " +
                std::to_string(q_heads) + " query heads");
  if (mask.rows != q_len || mask.cols != kv_len)
    shape_error("mask is " + dims(mask.heads, mask.rows, mask.cols) + " but the call has " + std::to_string(q_len) +
                " queries and " + std::to_string(kv_len) + " keys");
}

template <class K, class V>
void check_value_shape(const HeadsView<K>& k, const HeadsView<V>& v, ValueLayout layout) {
  if (layout == ValueLayout::transposed) {
    if (k.heads != v.heads || k.rows != v.cols || k.cols != v.rows)
      shape_error("transposed V " + dims(v.heads, v.rows, v.cols) + " does not fit K " + dims(k.heads, k.rows, k.cols) +
                  ": expected [kv_heads, head_dim, kv_len] = " + dims(k.heads, k.cols, k.rows));
    return;
  }
  if (k.heads != v.heads || k.rows != v.rows || k.cols != v.cols)
    shape_error("K " + dims(k.heads, k.rows, k.cols) + " and V " + dims(v.heads, v.rows, v.cols) + " differ in shape");
}

// The geometry of Q K^T alone (the stages that never read V).
template <class Q, class K>
AttentionGeometry resolve_scores_geometry(const HeadsView<Q>& q, const HeadsView<K>& k,
                                          const AttentionOptions& options) {
  if (q.data == nullptr || k.data == nullptr) shape_error("null Q or K pointer");
  if (q.heads == 0 || k.heads == 0) shape_error("Q and K need at least one head");
  if (q.heads % k.heads != 0)
    shape_error("query heads (" + std::to_string(q.heads) + ") must be a multiple of KV heads (" +
                std::to_string(k.heads) + ")");
  if (q.cols != k.cols || q.cols == 0)
    shape_error("head dimension of Q (" + std::to_string(q.cols) + ") and K (" + std::to_string(k.cols) +
                ") must match and be non-zero");
  const float scale = options.scale.value_or(1.0f / std::sqrt(static_cast<float>(q.cols)));
  if (!std::isfinite(scale)) shape_error("attention scale must be finite");
  const std::size_t valid = options.valid_keys < k.rows ? options.valid_keys : k.rows;
  const std::size_t position = first_query_position(options, q.rows, k.rows, valid);
  check_mask(options.mask, q.heads, q.rows, k.rows);
  return {q.heads,         k.heads, q.heads / k.heads, q.rows,           k.rows,        q.cols, valid, position,
          options.masking, scale,   options.mask,      options.products, options.values};
}

template <class Q, class K, class V>
AttentionGeometry resolve_geometry(const HeadsView<Q>& q, const HeadsView<K>& k, const HeadsView<V>& v,
                                   const AttentionOptions& options) {
  if (v.data == nullptr) shape_error("null V pointer");
  check_value_shape(k, v, options.values);
  return resolve_scores_geometry(q, k, options);
}

template <class T>
void check_output(const HeadsView<T>& o, const AttentionGeometry& g, const char* name) {
  if (o.data == nullptr) shape_error(std::string("null ") + name + " pointer");
  if (o.heads != g.q_heads || o.rows != g.q_len || o.cols != g.head_dim)
    shape_error(std::string(name) + " is " + dims(o.heads, o.rows, o.cols) + " but Q is " +
                dims(g.q_heads, g.q_len, g.head_dim));
}

// The bytes a view's rows lie within, [first, end); empty for a view without elements.
struct ByteRange {
  std::uintptr_t first = 0, end = 0;
};

template <class T>
ByteRange byte_range(const HeadsView<T>& view) noexcept {
  if (view.heads == 0 || view.rows == 0 || view.cols == 0) return {};
  const std::ptrdiff_t spans[] = {static_cast<std::ptrdiff_t>(view.heads - 1) * view.head_stride,
                                  static_cast<std::ptrdiff_t>(view.rows - 1) * view.row_stride};
  std::ptrdiff_t low = 0, high = static_cast<std::ptrdiff_t>(view.cols);  // in elements, from data
  for (const std::ptrdiff_t span : spans) {
    if (span < 0)
      low += span;
    else
      high += span;
  }
  const auto base = reinterpret_cast<std::uintptr_t>(view.data);
  const auto size = static_cast<std::ptrdiff_t>(sizeof(T));
  return {base + static_cast<std::uintptr_t>(low * size), base + static_cast<std::uintptr_t>(high * size)};
}

// The kernels write output rows while other rows still read Q, K and V, so an output that shares
// memory with an input would be read after it was overwritten: refused rather than miscomputed.
template <class Out, class In>
void check_disjoint(const HeadsView<Out>& out, const HeadsView<In>& in, const char* in_name) {
  const ByteRange a = byte_range(out), b = byte_range(in);
  if (a.first < b.end && b.first < a.end)
    shape_error(std::string("output overlaps ") + in_name + " in memory; the output needs a buffer of its own");
}

template <class Out, class Q, class K, class V>
void check_output_apart(const HeadsView<Out>& out, const HeadsView<Q>& q, const HeadsView<K>& k,
                        const HeadsView<V>& v) {
  check_disjoint(out, q, "Q");
  check_disjoint(out, k, "K");
  check_disjoint(out, v, "V");
}

inline void check_lse(std::span<const float> lse, const AttentionGeometry& g) {
  if (lse.size() != g.q_heads * g.q_len)
    shape_error("lse has " + std::to_string(lse.size()) +
                " entries, expected heads*queries = " + std::to_string(g.q_heads * g.q_len));
}

}  // namespace detail
}  // namespace act
