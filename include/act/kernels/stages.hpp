#pragma once
// ACT's stages one by one, for attention kernels the library does not own (a GPU flash kernel,
// ggml's flash attention, a FlexAttention-style kernel) which cannot host C++ policies:
//  1. the row log-sum-exp: act::attention's extras.lse, or the engine's own;
//  2. column_statistics(): what each key received and how many valid rows saw it, from Q, K and
//     the lse (one sweep over Q K^T, nothing is corrected or counted as calibrated);
//  3. sink selection: any SinkDetector's select() on those statistics (e.g. ColumnMeanThreshold);
//  4. per-row gains: any Rescaler's gains(m, r); or, for engines that can only add a mask,
//     sink_logit_biases(): the additive logit bias on sink columns that makes a second ordinary
//     softmax produce exactly ACT's row (see sink_logit_bias for which rescalers admit it).
#include <act/kernels/correct.hpp>

#include <cmath>
#include <optional>
#include <span>
#include <vector>

namespace act {

namespace detail {
// Selects nothing but, unlike NoSinks, asks for the statistics sweep.
struct CollectOnly {
  void select(ColumnStatsView, SinkSet& out) const { out.clear(); }
};
}  // namespace detail

// Adds the column statistics of every calibrated head (extras.calibrated_heads; empty: all) of one
// call to stats[head] (one ColumnStats per query head, grown as needed). v and out are only
// shape-checked and left unchanged. The report counts invalid and empty rows; nothing is calibrated.
inline CalibrationReport column_statistics(HeadsView<const float> q, HeadsView<const float> k, HeadsView<const float> v,
                                           HeadsView<float> out, std::span<const float> lse,
                                           const AttentionOptions& options, std::span<ColumnStats> stats,
                                           std::span<const std::uint8_t> calibrated_heads = {}) {
  if (stats.size() != q.heads)
    detail::shape_error("stats has " + std::to_string(stats.size()) + " entries for " + std::to_string(q.heads) +
                        " query heads");
  AttentionExtras extras;
  extras.running_stats = stats;
  extras.calibrated_heads = calibrated_heads;
  return correct(q, k, v, out, lse, options, Calibration{detail::CollectOnly{}, Identity{}}, extras);
}

// The additive logit bias on a row's sink columns (0 on the others) after which an ordinary softmax
// gives the rescaled row: weights become a A[s] on sinks and b A[j] elsewhere exactly when
// exp(bias) = a / b and the rescaled row sums to 1 (a m + b r = 1), since the softmax renormalises.
// That holds for Redistribute (a = beta, b = 1 + (1 - beta) m / r), ScaleOnly (both gains share
// the factor 1 / (beta m + r)) and Identity (bias 0); beta = 0 gives -inf (sinks hidden). A row the
// rule refuses keeps bias 0 (left unchanged). A rescaler whose rows do not sum to 1 has no such form.
template <Rescaler Rule>
float sink_logit_bias(const Rule& rule, float sink_mass, float rest_mass) {
  const std::optional<RowGains> gains = rule.gains(sink_mass, rest_mass);
  if (!gains || gains->rest <= 0.0f) return 0.0f;
  return std::log(gains->sink / gains->rest);
}

// bias[head * q_len + i] = sink_logit_bias for row i of every head with sinks (sinks[head], e.g.
// from a detector on column_statistics), from that row's sink mass m = sum_s exp(q.k_s * scale +
// mask - lse) and r = 1 - m; rows without sinks, and invalid or empty rows (lse not finite), get 0.
// m carries the lse's absolute error (about u |lse|), which the bias form tolerates better than the
// two-gain output correction: the second softmax renormalises, so an error in m changes only
// the sinks' share, by about (1 - beta) dm / r relative.
template <Rescaler Rule>
void sink_logit_biases(HeadsView<const float> q, HeadsView<const float> k, std::span<const float> lse,
                       const AttentionOptions& options, const std::vector<SinkSet>& sinks, const Rule& rule,
                       std::span<float> bias) {
  const AttentionGeometry g = detail::resolve_scores_geometry(q, k, options);
  detail::check_lse(lse, g);
  if (sinks.size() != g.q_heads) detail::shape_error("sinks needs one set per query head");
  if (bias.size() != g.q_heads * g.q_len) detail::shape_error("bias needs heads*queries entries");
  for (std::size_t head = 0; head < g.q_heads; ++head) {
    for (std::size_t i = 0; i < g.q_len; ++i) {
      const float row_lse = lse[head * g.q_len + i];
      float& out = bias[head * g.q_len + i] = 0.0f;
      if (sinks[head].empty() || !std::isfinite(row_lse)) continue;
      float sink_mass = 0.0f;
      for (std::uint32_t s : sinks[head]) {
        if (s >= g.kv_len || !g.sees(head, i, s)) continue;
        float dot = 0.0f;
        for (std::size_t c = 0; c < g.head_dim; ++c) dot += q.row(head, i)[c] * k.row(g.kv_head_of(head), s)[c];
        const float added = g.mask.empty() ? 0.0f : g.mask.at(head, i, s);
        sink_mass += std::exp(dot * g.scale + added - row_lse);
      }
      out = sink_logit_bias(rule, sink_mass, std::max(0.0f, 1.0f - sink_mass));
    }
  }
}

}  // namespace act
