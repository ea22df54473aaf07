#pragma once
// Shared by the kernel tests and the differential fuzzer (fuzz/fuzz_attention.cpp), without
// Catch: problems, running the fused and reference kernels, and the float32 error bounds the fused
// results are held to against the double-precision reference.
//
// Error model (u = 2^-24, gamma(k) = k u / (1 - k u), error_gamma below; first order in u). Row i sees n_i keys.
//  * Score: the fused kernel computes fl(q_c * scale) * k_c in one FMA chain of d steps, so
//    |s~ - s| <= delta_ij = gamma(d + 1) * scale * sum_c |q_ic k_jc|. Let D_i = max_j delta_ij.
//  * Weights: O = (sum_j p_j v_j) / sum_j p_j with p_j = exp(s_j - max). A common shift cancels, a
//    score error moves p_j by a factor exp(+-D_i), xsimd's exp is within 2 ulp (measured 1.34), and
//    each sum over n_i terms adds gamma(n_i). Every normalised weight, and the output (a convex
//    combination of value rows), is therefore off by at most
//        eps_i = 2 D_i + gamma(2 n_i + 8)          (relative to the weight; times max|v| for O),
//    plus u |O| for the reference's own rounding to float.
//  * Calibrated rows: out' = rest * (o - o_s) + sink * o_s with o_s = sum_S a_s v_s, m = sum_S a_s,
//    r = 1 - m. The fused m~ = (sum_S p~) / (sum p~): score and exp errors (each p within a factor
//    exp(+-(D_i + 2u + e))) move this ratio M / (M + R) by at most 2 (D_i + 2u + e) m r, and the
//    sums and the division round it by a relative gamma(|S| + n_i + 2), so
//        |dm| <= 2 (D_i + 2u + e) m r + gamma(|S| + n_i + 2) m,     |dr| <= |dm| + u   (r~ = 1 - m~),
//    where e is any further relative weight error the caller declares (BoundOptions), e.g. a
//    given O's rounding; it moves the sink mass as much as the weights, not just the output.
//    The gains' error is taken from the rule itself, evaluated at the corners
//    (m +- dm, r +- dr) (both rules are monotone in m and r), and
//        |d out'| <= V (|d rest| r + |d sink| m + rest eps_i + |sink - rest| (eps_i + gamma(|S|)) m
//                      + 3u (rest + |sink - rest|)),       V = max |v| over the row's keys,
//    using |o - o_s| <= r V, |o_s| <= m V. A row whose corners disagree on whether the rule refuses
//    it is ambiguous (the kernels may legitimately differ); tests count such rows.
//  * Column means: received_j sums weights with relative error eps_i plus gamma(q_len) for the
//    sum, so a mean within (max_i eps_i + gamma(q_len + 16)) mean of tau is a legitimate tie.
#include <act/act.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <limits>
#include <optional>
#include <random>
#include <stdexcept>
#include <type_traits>
#include <vector>

namespace act::testing {

inline constexpr double unit_roundoff = 1.0 / 16777216.0;  // 2^-24
inline double error_gamma(double k) { return k * unit_roundoff / (1.0 - k * unit_roundoff); }

struct Shape {
  std::size_t q_heads = 2, kv_heads = 2, q_len = 16, kv_len = 16, dim = 8;
};

// Q, K, V head-major plus the options of one attention call.
struct Problem {
  Shape shape;
  AttentionOptions options;
  std::vector<float> q, k, v;

  explicit Problem(const Shape& s, const AttentionOptions& o = {})
      : shape(s), options(o), q(s.q_heads * s.q_len * s.dim), k(s.kv_heads * s.kv_len * s.dim), v(k.size()) {}

  HeadsView<const float> queries() const { return head_major(q.data(), shape.q_heads, shape.q_len, shape.dim); }
  HeadsView<const float> keys() const { return head_major(k.data(), shape.kv_heads, shape.kv_len, shape.dim); }
  HeadsView<const float> values() const { return head_major(v.data(), shape.kv_heads, shape.kv_len, shape.dim); }
  AttentionGeometry geometry() const { return act::detail::resolve_geometry(queries(), keys(), values(), options); }
  float& q_at(std::size_t h, std::size_t i, std::size_t c) { return q[(h * shape.q_len + i) * shape.dim + c]; }
  float& k_at(std::size_t h, std::size_t j, std::size_t c) { return k[(h * shape.kv_len + j) * shape.dim + c]; }
  float& v_at(std::size_t h, std::size_t j, std::size_t c) { return v[(h * shape.kv_len + j) * shape.dim + c]; }
};

// Standard normal Q, K, V (Q and K times `logit_scale`).
inline Problem random_problem(const Shape& shape, const AttentionOptions& options, std::uint32_t seed,
                              float logit_scale = 1.0f) {
  Problem p(shape, options);
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  for (float& x : p.q) x = normal(rng) * logit_scale;
  for (float& x : p.k) x = normal(rng) * logit_scale;
  for (float& x : p.v) x = normal(rng);
  return p;
}

// Makes `columns` clear sinks: their keys point along a direction every query leans towards.
inline void plant_sinks(Problem& p, const std::vector<std::size_t>& columns, float strength) {
  for (std::size_t j : columns)  // a caller asking for a sink past the keys is wrong (it would write past K)
    if (j >= p.shape.kv_len) throw std::invalid_argument("plant_sinks: column past the keys");
  for (std::size_t h = 0; h < p.shape.q_heads; ++h)
    for (std::size_t i = 0; i < p.shape.q_len; ++i) p.q_at(h, i, 0) = std::abs(p.q_at(h, i, 0)) + 1.0f;
  for (std::size_t h = 0; h < p.shape.kv_heads; ++h)
    for (std::size_t j : columns) p.k_at(h, j, 0) = strength;
}

struct Result {
  std::vector<float> out, lse;
  CalibrationReport report;
  std::vector<SinkSet> sinks;
  std::vector<ColumnStats> running;  // when requested
};

struct RunOptions {
  std::vector<std::uint8_t> calibrated_heads;  // empty: all
  bool collect_running = false;                // pass fresh running stats and return them
  reference::Quirks quirks;                    // reference only
};

inline AttentionExtras extras_for(Result& r, const RunOptions& run, std::size_t q_heads) {
  AttentionExtras extras;
  extras.lse = r.lse;
  extras.sinks = &r.sinks;
  extras.calibrated_heads = run.calibrated_heads;
  if (run.collect_running) {
    r.running.assign(q_heads, ColumnStats{});
    extras.running_stats = r.running;
  }
  return extras;
}

template <class Cal>
Result run_fused(const Problem& p, const Cal& calibration, const RunOptions& run = {}) {
  Result r{std::vector<float>(p.q.size()), std::vector<float>(p.shape.q_heads * p.shape.q_len), {}, {}, {}};
  const AttentionExtras extras = extras_for(r, run, p.shape.q_heads);
  r.report =
      attention(p.queries(), p.keys(), p.values(),
                head_major(r.out.data(), p.shape.q_heads, p.shape.q_len, p.shape.dim), p.options, calibration, extras);
  return r;
}

template <class Cal>
Result run_reference(const Problem& p, const Cal& calibration, const RunOptions& run = {}) {
  Result r{std::vector<float>(p.q.size()), std::vector<float>(p.shape.q_heads * p.shape.q_len), {}, {}, {}};
  const AttentionExtras extras = extras_for(r, run, p.shape.q_heads);
  r.report = reference::attention<float>(p.queries(), p.keys(), p.values(),
                                         head_major(r.out.data(), p.shape.q_heads, p.shape.q_len, p.shape.dim),
                                         p.options, calibration, extras, run.quirks);
  return r;
}

// The reference's double-precision map of one head (for bounds and direct checks).
inline reference::HeadMap reference_map(const Problem& p, std::size_t head) {
  CalibrationReport ignored;
  return reference::detail::softmax_map(p.queries(), p.keys(), p.geometry(), head, ignored, {});
}

// Bound on the score error of row i of `head` (D_i above); 0 when the caller knows the scores are exact.
// A mask adds one rounding of the sum: u (|s| + |mask|). Keys the row does not see are skipped.
// `input_rounding`: a relative error of each query element before the products (bf16 queries:
// each q_c scale moves by at most that fraction, so the score by that fraction of its magnitude).
inline double score_error(const Problem& p, std::size_t head, std::size_t i, std::size_t visible,
                          double input_rounding = 0.0) {
  const AttentionGeometry g = p.geometry();
  const std::size_t kv = g.kv_head_of(head);
  const double product_error = error_gamma(static_cast<double>(g.head_dim) + 1.0);
  double worst = 0.0;
  for (std::size_t j = 0; j < visible; ++j) {
    if (!g.sees(head, i, j)) continue;
    double magnitude = 0.0;
    for (std::size_t c = 0; c < g.head_dim; ++c)
      magnitude += std::abs(static_cast<double>(p.queries().row(head, i)[c]) * p.keys().row(kv, j)[c]);
    magnitude *= std::abs(static_cast<double>(g.scale));  // a bound: never negative
    double error = (product_error + input_rounding) * magnitude;
    if (!g.mask.empty()) error += unit_roundoff * (magnitude * (1.0 + product_error) + std::abs(g.mask.at(head, i, j)));
    if (std::isfinite(error)) worst = std::max(worst, error);  // an infinite score is exact
  }
  return worst;
}

inline double max_abs_value(const Problem& p, std::size_t kv_head, std::size_t visible) {
  double v = 0.0;
  for (std::size_t j = 0; j < visible; ++j)
    for (std::size_t c = 0; c < p.shape.dim; ++c)
      v = std::max(v, std::abs(static_cast<double>(p.values().row(kv_head, j)[c])));
  return v;
}

// Per output element bound |fused - reference| (see the error model), row by row.
struct OutputBounds {
  std::vector<double> row;  // [q_heads * q_len], multiply nothing: already absolute (excluding u|ref|)
  std::size_t ambiguous_rows = 0;
};

struct BoundOptions {
  bool exact_scores = false;        // scores are exact in float (small integers): D_i = 0
  double extra_weight_error = 0.0;  // added to eps_i (e.g. a given lse rounded to float)
  double input_rounding = 0.0;      // relative error of the queries entering the products (score_error)
};

// What the error model needs to know about one row.
struct RowErrors {
  double score = 0.0;    // D_i
  double weight = 0.0;   // eps_i
  double extra = 0.0;    // the caller's extra relative weight error, included in eps_i
  std::size_t keys = 0;  // n_i
  double value_max = 0.0;
};

template <class Rule>
double calibrated_row_bound(const Rule& rule, double m, double r, const RowErrors& row, std::size_t sinks,
                            bool& ambiguous) {
  const auto centre = rule.gains(static_cast<float>(m), static_cast<float>(r));
  const double dm = 2.0 * (row.score + 2.0 * unit_roundoff + row.extra) * m * r +
                    error_gamma(static_cast<double>(sinks + row.keys) + 2.0) * m;
  const double dr = dm + unit_roundoff;
  const double eps = row.weight, value_max = row.value_max;
  double d_rest = 0.0, d_sink = 0.0;
  for (double sm : {-1.0, 1.0}) {
    for (double sr : {-1.0, 1.0}) {
      const auto corner =
          rule.gains(static_cast<float>(std::max(0.0, m + sm * dm)), static_cast<float>(std::max(0.0, r + sr * dr)));
      if (corner.has_value() != centre.has_value()) {
        ambiguous = true;
        continue;
      }
      if (!centre) continue;
      d_rest = std::max(d_rest, std::abs(static_cast<double>(corner->rest) - centre->rest));
      d_sink = std::max(d_sink, std::abs(static_cast<double>(corner->sink) - centre->sink));
    }
  }
  if (!centre) return eps * value_max;  // row left unchanged
  const double rest = centre->rest, spread = std::abs(static_cast<double>(centre->sink) - centre->rest);
  return value_max *
         (d_rest * r + d_sink * m + rest * eps + spread * (eps + error_gamma(static_cast<double>(sinks))) * m +
          3.0 * unit_roundoff * (rest + spread));
}

// `sinks[h]` is the sink set head h was calibrated with (empty: plain rows).
template <class Rule>
OutputBounds output_bounds(const Problem& p, const Rule& rule, const std::vector<SinkSet>& sinks,
                           const BoundOptions& options = {}) {
  const AttentionGeometry g = p.geometry();
  OutputBounds bounds;
  bounds.row.assign(g.q_heads * g.q_len, 0.0);
  for (std::size_t h = 0; h < g.q_heads; ++h) {
    const reference::HeadMap map = reference_map(p, h);
    const SinkSet& head_sinks = sinks.empty() ? SinkSet{} : sinks[h];
    for (std::size_t i = 0; i < g.q_len; ++i) {
      if (!map.takes_part(i)) continue;  // exact outputs (0 or NaN), compared exactly
      RowErrors row;
      row.keys = map.visible[i];
      row.score = options.exact_scores ? 0.0 : score_error(p, h, i, row.keys, options.input_rounding);
      row.extra = options.extra_weight_error;
      row.weight = 2.0 * row.score + error_gamma(2.0 * static_cast<double>(row.keys) + 8.0) + row.extra;
      row.value_max = max_abs_value(p, g.kv_head_of(h), row.keys);
      double& bound = bounds.row[h * g.q_len + i];
      if (head_sinks.empty()) {
        bound = row.weight * row.value_max;
        continue;
      }
      double m = 0.0;
      std::size_t visible_sinks = 0;
      for (std::uint32_t s : head_sinks) {
        if (s < row.keys) {
          m += map.at(i, s);
          ++visible_sinks;
        }
      }
      bool ambiguous = false;
      bound = calibrated_row_bound(rule, m, 1.0 - m, row, visible_sinks, ambiguous);
      if (ambiguous) {
        bound = std::numeric_limits<double>::infinity();
        ++bounds.ambiguous_rows;
      }
    }
  }
  return bounds;
}

// Whether one output element is within `row_bound` + u |expected| of `expected`: NaN exactly where
// `expected` is NaN, the same infinity where it is infinite (an infinite value the row sees).
inline bool within_bound(float actual, float expected, double row_bound) {
  if (std::isnan(expected)) return std::isnan(actual);
  if (std::isinf(expected)) return actual == expected;
  const double bound = row_bound + unit_roundoff * std::abs(static_cast<double>(expected));
  return std::abs(static_cast<double>(actual) - expected) <= bound;
}

// Whether a row's float lse is within |d lse| <= D_i + gamma(n_i + 4) + u |lse| of the reference's
// (each of the n_i exps and the sum round once more, the log once); non-finite values exactly.
inline bool lse_within_bound(const Problem& p, std::size_t head, std::size_t i, float actual, float expected,
                             bool exact_scores, double input_rounding = 0.0) {
  if (!std::isfinite(expected)) return std::isnan(expected) ? std::isnan(actual) : actual == expected;
  const std::size_t n_i = p.geometry().visible_keys(i);
  const double d_i = exact_scores ? 0.0 : score_error(p, head, i, n_i, input_rounding);
  return std::abs(static_cast<double>(actual) - expected) <=
         d_i + error_gamma(static_cast<double>(n_i) + 4.0) + unit_roundoff * std::abs(expected);
}

// Column means of the reference statistics (exact up to double rounding) for tie checks.
inline std::vector<double> reference_column_means(const Problem& p, std::size_t head) {
  const ColumnStats stats = reference::column_stats(reference_map(p, head));
  std::vector<double> means(stats.size(), 0.0);
  for (std::size_t j = 0; j < stats.size(); ++j)
    if (stats.seen_by[j] != 0) means[j] = static_cast<double>(stats.received[j]) / stats.seen_by[j];
  return means;
}

// Largest eps_i of a head (the relative error of any weight), for tie tolerances.
inline double max_weight_error(const Problem& p, std::size_t head, double input_rounding = 0.0) {
  const reference::HeadMap map = reference_map(p, head);
  double worst = 0.0;
  for (std::size_t i = 0; i < map.rows; ++i) {
    if (!map.takes_part(i)) continue;
    worst = std::max(worst, 2.0 * score_error(p, head, i, map.visible[i], input_rounding) +
                                error_gamma(2.0 * static_cast<double>(map.visible[i]) + 8.0));
  }
  return worst;
}

// True when every column on which the two sink sets disagree has a mean within float rounding
// of the threshold (a legitimate tie); false for any other disagreement.
inline bool sets_differ_only_at_ties(const Problem& p, std::size_t head, const SinkSet& a, const SinkSet& b, double tau,
                                     double input_rounding = 0.0) {
  if (a == b) return true;
  const std::vector<double> means = reference_column_means(p, head);
  const double tolerance =
      max_weight_error(p, head, input_rounding) + error_gamma(static_cast<double>(p.shape.q_len) + 16.0);
  std::vector<std::uint32_t> differing;
  std::set_symmetric_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(differing));
  return std::all_of(differing.begin(), differing.end(),
                     [&](std::uint32_t j) { return std::abs(means[j] - tau) <= tolerance * std::max(tau, 1e-30); });
}

template <class Detector>
double threshold_of(const Detector& detector) {
  if constexpr (std::is_same_v<Detector, ColumnMeanThreshold>) {
    return detector.tau;
  } else {
    return std::numeric_limits<double>::quiet_NaN();  // no threshold: sink sets must agree exactly
  }
}

}  // namespace act::testing
