#pragma once
// The oracle: materialises each head's attention map in double precision and applies the
// spec's calibration steps literally. Slow (O(n^2) memory) by design; the fused kernels are
// tested against it.
#include <act/core/attention_options.hpp>
#include <act/core/calibration_report.hpp>
#include <act/core/column_stats.hpp>
#include <act/kernels/attention_extras.hpp>
#include <act/policies/calibration.hpp>

#include <cmath>
#include <limits>
#include <utility>
#include <vector>

namespace act::reference {

// Behaviours of the paper's code that are wrong in general but reproducible for comparison.
struct Quirks {
  bool first_entry_to_one = false;  // step 7: A'[0, 0] = 1 after calibration
};

// One head's post-softmax map, row-major [rows, cols]; row i sees the columns below visible[i] that
// a mask does not hide. Rows flagged invalid (NaN scores) and rows that see nothing take no part.
struct HeadMap {
  std::vector<double> weights;
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::vector<std::size_t> visible;
  std::vector<bool> invalid;
  std::vector<bool> hidden;  // [rows * cols] keys a mask hides (weight 0); empty: none

  double& at(std::size_t i, std::size_t j) { return weights[i * cols + j]; }
  double at(std::size_t i, std::size_t j) const { return weights[i * cols + j]; }
  bool takes_part(std::size_t i) const { return !invalid[i] && visible[i] > 0; }
  bool sees(std::size_t i, std::size_t j) const { return j < visible[i] && (hidden.empty() || !hidden[i * cols + j]); }
};

// Step 1: what each column received and how many rows saw it.
inline ColumnStats column_stats(const HeadMap& map) {
  std::vector<double> received(map.cols, 0.0);
  ColumnStats stats;
  stats.extend_to(map.cols);
  for (std::size_t i = 0; i < map.rows; ++i) {
    if (!map.takes_part(i)) continue;
    for (std::size_t j = 0; j < map.visible[i]; ++j) {
      if (!map.sees(i, j)) continue;
      received[j] += map.at(i, j);
      stats.seen_by.increment(j);
    }
  }
  for (std::size_t j = 0; j < map.cols; ++j) stats.received[j] = static_cast<float>(received[j]);
  return stats;
}

// Steps 4-6 for a given sink set.
template <Rescaler Rule>
CalibrationReport rescale_rows(HeadMap& map, const SinkSet& sinks, const Rule& rule) {
  CalibrationReport report;
  std::vector<bool> is_sink(map.cols, false);
  for (auto s : sinks) is_sink[s] = true;
  for (std::size_t i = 0; i < map.rows; ++i) {
    if (!map.takes_part(i)) continue;
    double sink_mass = 0.0, rest_mass = 0.0;
    for (std::size_t j = 0; j < map.visible[i]; ++j) (is_sink[j] ? sink_mass : rest_mass) += map.at(i, j);
    const auto gains = rule.gains(static_cast<float>(sink_mass), static_cast<float>(rest_mass));
    if (!gains) {
      ++report.degenerate_rows;
      continue;
    }
    ++report.rows_calibrated;
    for (std::size_t j = 0; j < map.visible[i]; ++j) map.at(i, j) *= is_sink[j] ? gains->sink : gains->rest;
  }
  return report;
}

// The whole calibration of one head's map, in place. `running` (optional) holds statistics of
// earlier queries that are added before sinks are chosen.
template <SinkDetector Detector, Rescaler Rule>
CalibrationReport calibrate(HeadMap& map, const Calibration<Detector, Rule>& calibration, SinkSet& sinks,
                            const Quirks& quirks = {}, ColumnStats* running = nullptr) {
  ColumnStats stats = column_stats(map);
  if (running != nullptr) {
    running->extend_to(map.cols);
    for (std::size_t j = 0; j < map.cols; ++j) running->received[j] += stats.received[j];
    running->seen_by.add(stats.seen_by);
    stats = *running;
  }
  calibration.detector.select(stats.view(), sinks);
  CalibrationReport report = sinks.empty() ? CalibrationReport{} : rescale_rows(map, sinks, calibration.rescaler);
  if (quirks.first_entry_to_one && map.rows > 0 && map.cols > 0) map.at(0, 0) = 1.0;  // step 7
  report.sinks_selected = sinks.size();
  return report;
}

namespace detail {

// Row i's scaled scores plus the mask into the map (hidden keys: weight 0, flagged); returns the
// largest score and whether any visible score is NaN or +inf.
template <class T>
std::pair<double, bool> score_row(const HeadsView<const T>& q, const HeadsView<const T>& k, const AttentionGeometry& g,
                                  std::size_t head, std::size_t i, HeadMap& map) {
  const std::size_t kv_head = g.kv_head_of(head);
  double max_score = -std::numeric_limits<double>::infinity();
  bool invalid = false;
  for (std::size_t j = 0; j < g.visible_keys(i); ++j) {
    if (!g.sees(head, i, j)) {
      map.hidden[i * map.cols + j] = true;
      continue;
    }
    double dot = 0.0;
    for (std::size_t c = 0; c < g.head_dim; ++c)
      dot += static_cast<double>(q.row(head, i)[c]) * static_cast<double>(k.row(kv_head, j)[c]);
    const double bias = g.mask.empty() ? 0.0 : static_cast<double>(g.mask.at(head, i, j));
    const double score = dot * static_cast<double>(g.scale) + bias;
    invalid |= std::isnan(score) || score == std::numeric_limits<double>::infinity();
    map.at(i, j) = score;
    max_score = std::max(max_score, score);
  }
  return {max_score, invalid};
}

template <class T>
HeadMap softmax_map(const HeadsView<const T>& q, const HeadsView<const T>& k, const AttentionGeometry& g,
                    std::size_t head, CalibrationReport& report, std::span<float> lse) {
  HeadMap map{std::vector<double>(g.q_len * g.kv_len, 0.0),
              g.q_len,
              g.kv_len,
              {},
              std::vector<bool>(g.q_len, false),
              std::vector<bool>(g.mask.empty() ? 0 : g.q_len * g.kv_len, false)};
  for (std::size_t i = 0; i < g.q_len; ++i) {
    const std::size_t visible = g.visible_keys(i);
    const auto [max_score, invalid] = score_row(q, k, g, head, i, map);
    double row_lse = -std::numeric_limits<double>::infinity();
    if (invalid) {
      map.invalid[i] = true;
      ++report.invalid_rows;
      row_lse = std::numeric_limits<double>::quiet_NaN();
    } else if (max_score == -std::numeric_limits<double>::infinity()) {
      ++report.empty_rows;  // nothing visible, or every visible score is -inf
      std::fill_n(map.weights.begin() + static_cast<std::ptrdiff_t>(i * map.cols), visible, 0.0);
    } else {
      double total = 0.0;
      for (std::size_t j = 0; j < visible; ++j)
        if (map.hidden.empty() || !map.hidden[i * map.cols + j])
          total += (map.at(i, j) = std::exp(map.at(i, j) - max_score));
      for (std::size_t j = 0; j < visible; ++j) map.at(i, j) /= total;
      row_lse = max_score + std::log(total);
    }
    // A row with no finite weight takes no part in statistics or calibration.
    map.visible.push_back(max_score == -std::numeric_limits<double>::infinity() && !invalid ? 0 : visible);
    if (!lse.empty()) lse[head * g.q_len + i] = static_cast<float>(row_lse);
  }
  return map;
}

// Value dimension c of key j, read where either layout keeps it.
template <class T>
double value_at(const HeadsView<const T>& v, ValueLayout layout, std::size_t kv_head, std::size_t j, std::size_t c) {
  return static_cast<double>(layout == ValueLayout::transposed ? v.row(kv_head, c)[j] : v.row(kv_head, j)[c]);
}

template <class T>
void multiply_values(const HeadMap& map, const HeadsView<const T>& v, const HeadsView<T>& out,
                     const AttentionGeometry& g, std::size_t head) {
  const std::size_t kv_head = g.kv_head_of(head);
  for (std::size_t i = 0; i < g.q_len; ++i) {
    for (std::size_t c = 0; c < g.head_dim; ++c) {
      double acc = map.invalid[i] ? std::numeric_limits<double>::quiet_NaN() : 0.0;
      for (std::size_t j = 0; j < map.visible[i]; ++j)
        if (map.sees(i, j)) acc += map.at(i, j) * value_at(v, g.values, kv_head, j, c);
      out.row(head, i)[c] = static_cast<T>(acc);
    }
  }
}

}  // namespace detail

// Attention with calibration, computed from the materialised map of every head. Same shapes,
// options and extras as the fused kernels.
template <class T, class Cal = NoCalibration>
CalibrationReport attention(HeadsView<const T> q, HeadsView<const T> k, HeadsView<const T> v, HeadsView<T> out,
                            const AttentionOptions& options = {}, const Cal& calibration = {},
                            const AttentionExtras& extras = {}, const Quirks& quirks = {}) {
  const AttentionGeometry g = act::detail::resolve_geometry(q, k, v, options);
  act::detail::check_output(out, g, "output");
  act::detail::check_output_apart(out, q, k, v);
  act::detail::check_extras(extras, g.q_heads, g.q_len);
  if (extras.sinks != nullptr) extras.sinks->assign(g.q_heads, SinkSet{});
  CalibrationReport report;
  SinkSet sinks;
  for (std::size_t head = 0; head < g.q_heads; ++head) {
    HeadMap map = detail::softmax_map(q, k, g, head, report, extras.lse);
    // A detector that never selects makes calibration (statistics included) a no-op.
    if (needs_statistics<Cal> && act::detail::head_is_calibrated(extras, head)) {
      ColumnStats* running = extras.running_stats.empty() ? nullptr : &extras.running_stats[head];
      report += calibrate(map, calibration, sinks, quirks, running);
      if (extras.sinks != nullptr) (*extras.sinks)[head] = sinks;
    }
    detail::multiply_values(map, v, out, g, head);
  }
  return report;
}

}  // namespace act::reference
