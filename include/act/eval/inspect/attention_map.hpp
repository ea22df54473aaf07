#pragma once
// The full post-softmax attention map of every head of a short prompt, for pictures. The model's
// kernels never materialise it, so it is recomputed here from each layer's Q and K (the layer's
// RMSNorm, projections and RoPE, exactly as the model applies them), layer by layer along the
// forward pass. O(layers * heads * n^2) memory: meant for prompts of tens of tokens, and refused
// past max_attention_map_tokens() (512 MiB of maps; 705 tokens on SmolLM2-135M).
//
// With ACT settings the walk follows the calibrated forward pass, and the maps of the calibrated
// heads are calibrated here in double precision with the same policy (calibrate_map): what the
// fused kernels apply without ever storing the map. A column mean within float rounding of a
// threshold may be decided differently than in the kernels; the hidden states follow the kernels.
#include <act/model/llama_model.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace act::eval {

// The memory attention_maps() may use for its maps; the pictures drawn from them add about a
// fifth of it (a per-head heatmap is 8 x 8 pixels of 3 bytes per map cell).
inline constexpr std::size_t max_attention_map_bytes = std::size_t{512} << 20;

// The longest prompt whose maps fit max_attention_map_bytes on a model shaped like `c`.
inline std::size_t max_attention_map_tokens(const model::LlamaConfig& c) {
  const double per_cell = static_cast<double>(c.layers * c.heads * sizeof(float));
  return static_cast<std::size_t>(std::sqrt(static_cast<double>(max_attention_map_bytes) / per_cell));
}

// Throws std::invalid_argument for a prompt past max_attention_map_tokens().
inline void check_attention_map_size(const model::LlamaConfig& c, std::size_t tokens) {
  if (tokens > max_attention_map_tokens(c))
    throw std::invalid_argument("attention maps of " + std::to_string(tokens) + " tokens would need more than " +
                                std::to_string(max_attention_map_bytes >> 20) + " MiB; pictures are limited to " +
                                std::to_string(max_attention_map_tokens(c)) + " tokens on this model");
}

// Row-major [n, n]; row i holds the weights query i gives keys 0..i (the rest are 0).
struct AttentionMap {
  std::size_t n = 0;
  std::vector<float> weights;
  SinkSet sinks = {};                              // the sinks calibrated in this map (empty: an un-calibrated head)
  std::vector<std::uint8_t> calibrated_rows = {};  // per row, 1 if the rescaler reweighted it

  std::size_t rows_calibrated() const {
    return static_cast<std::size_t>(std::count(calibrated_rows.begin(), calibrated_rows.end(), 1));
  }

  float at(std::size_t i, std::size_t j) const { return weights[i * n + j]; }
  // The spec's column mean: what column j received over the n - j queries that see it.
  float column_mean(std::size_t j) const {
    double sum = 0.0;
    for (std::size_t i = j; i < n; ++i) sum += at(i, j);
    return static_cast<float>(sum / static_cast<double>(n - j));
  }
};

namespace detail {

// Q [n, heads*hd] and K [n, kv_heads*hd] of one layer for hidden states entering it.
inline void project_qk(const model::LlamaModel& m, std::size_t layer, const model::Activations& hidden,
                       std::vector<float>& q, std::vector<float>& k) {
  const auto& c = m.config();
  const auto& w = m.weights().layers[layer];
  const std::size_t n = hidden.rows;
  std::vector<float> normed(n * c.dim);
  model::rms_norm(hidden.data.data(), w.attn_norm.data(), normed.data(), n, c.dim, c.rms_epsilon);
  q.resize(n * c.dim);
  k.resize(n * c.kv_dim());
  model::matmul(w.q, normed.data(), n, q.data(), {});
  model::matmul(w.k, normed.data(), n, k.data(), {});
  const model::RotaryAngles angles(c.rope_dim, c.rope_base, 0, n);
  for (std::size_t i = 0; i < n; ++i) {
    angles.apply(q.data() + i * c.dim, c.heads, c.head_dim(), i);
    angles.apply(k.data() + i * c.kv_dim(), c.kv_heads, c.head_dim(), i);
  }
}

inline AttentionMap causal_softmax(const model::LlamaConfig& c, const std::vector<float>& q,
                                   const std::vector<float>& k, std::size_t n, std::size_t head) {
  const std::size_t hd = c.head_dim(), kv_head = head / (c.heads / c.kv_heads);
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  AttentionMap map{n, std::vector<float>(n * n, 0.0f)};
  std::vector<double> scores(n);
  for (std::size_t i = 0; i < n; ++i) {
    const float* qi = q.data() + i * c.dim + head * hd;
    double max = -std::numeric_limits<double>::infinity(), total = 0.0;
    for (std::size_t j = 0; j <= i; ++j) {
      const float* kj = k.data() + j * c.kv_dim() + kv_head * hd;
      double dot = 0.0;
      for (std::size_t d = 0; d < hd; ++d) dot += static_cast<double>(qi[d]) * static_cast<double>(kj[d]);
      scores[j] = dot * scale;
      max = std::max(max, scores[j]);
    }
    for (std::size_t j = 0; j <= i; ++j) total += (scores[j] = std::exp(scores[j] - max));
    for (std::size_t j = 0; j <= i; ++j) map.weights[i * n + j] = static_cast<float>(scores[j] / total);
  }
  return map;
}

}  // namespace detail

// Prefill semantics: the detector sees each column's mean over the queries that see it; then each
// row is reweighted by the rescaler's two gains (rows it refuses stay as they are).
inline void calibrate_map(AttentionMap& map, const AnyCalibration& calibration) {
  ColumnStats stats;
  stats.extend_to(map.n);
  for (std::size_t j = 0; j < map.n; ++j) {
    stats.received[j] = static_cast<float>(map.column_mean(j) * static_cast<double>(map.n - j));
    stats.seen_by.add_row(j + 1);  // causal: row j sees keys [0, j]
  }
  std::visit([&](const auto& detector) { detector.select(stats.view(), map.sinks); }, calibration.detector);
  map.calibrated_rows.assign(map.n, 0);
  if (map.sinks.empty()) return;
  for (std::size_t i = 0; i < map.n; ++i) {
    double sink = 0.0, rest = 0.0;
    for (std::size_t j = 0; j <= i; ++j)
      (std::binary_search(map.sinks.begin(), map.sinks.end(), j) ? sink : rest) += map.at(i, j);
    if (map.sinks.front() > i) continue;  // the row sees no sink
    const auto gains =
        std::visit([&](const auto& r) { return r.gains(static_cast<float>(sink), static_cast<float>(rest)); },
                   calibration.rescaler);
    if (!gains) continue;
    for (std::size_t j = 0; j <= i; ++j)
      map.weights[i * map.n + j] *=
          std::binary_search(map.sinks.begin(), map.sinks.end(), j) ? gains->sink : gains->rest;
    map.calibrated_rows[i] = 1;
  }
}

// maps[layer][head] for the forward pass over `tokens` with `act` (default: plain attention).
inline std::vector<std::vector<AttentionMap>> attention_maps(const model::LlamaModel& m,
                                                             std::span<const std::int32_t> tokens,
                                                             const model::ActSettings& act = {}) {
  const auto& c = m.config();
  check_attention_map_size(c, tokens.size());
  model::Activations hidden = m.embed(tokens);
  std::vector<std::vector<AttentionMap>> maps(c.layers);
  std::vector<float> q, k;
  for (std::size_t layer = 0; layer < c.layers; ++layer) {
    detail::project_qk(m, layer, hidden, q, k);
    for (std::size_t h = 0; h < c.heads; ++h) {
      maps[layer].push_back(detail::causal_softmax(c, q, k, tokens.size(), h));
      if (act.heads().contains(static_cast<std::uint32_t>(layer), static_cast<std::uint32_t>(h)))
        calibrate_map(maps[layer].back(),
                      act.calibration_for({static_cast<std::uint32_t>(layer), static_cast<std::uint32_t>(h)}));
    }
    m.run_layers(hidden, layer, layer + 1, act);
  }
  return maps;
}

}  // namespace act::eval
