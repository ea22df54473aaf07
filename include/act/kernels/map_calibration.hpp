#pragma once
// ACT on a materialised softmax map, in place, in float32: for engines that keep the map of every
// head before multiplying it by V (llama.cpp without flash attention names it kq_soft_max-<layer>).
// The map is a HeadsView<float>: heads x rows (queries) x cols (key cells), any strides. Which cells
// a row sees comes from a visibility rule (MapVisibility): the engine's additive mask, or "a cell
// that is exactly 0 is masked". Statistics, sink choice and rescale follow the oracle
// (act::reference::calibrate) step by step: a column's mean divides what it received by the
// number of queries that see it; rows with a NaN in a visible cell are invalid and rows that see
// nothing are empty (both counted for calibrated heads, left as they are, excluded from the
// statistics). Heads that are not calibrated are not read at all.
#include <act/core/attention_options.hpp>
#include <act/core/calibration_report.hpp>
#include <act/core/column_stats.hpp>
#include <act/core/heads_view.hpp>
#include <act/kernels/attention_extras.hpp>
#include <act/policies/concepts.hpp>

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <limits>
#include <vector>

namespace act {

// visible(head, row, col, weight): whether query `row` of `head` sees key cell `col`, whose softmax
// weight is `weight`.
template <class V>
concept MapVisibility = std::copy_constructible<V> && requires(const V& v, std::size_t i, float w) {
  { v.visible(i, i, i, w) } -> std::same_as<bool>;
};

// A weight that is exactly 0 marks a masked cell. This is what softmax leaves where the mask is
// -inf, but a visible cell whose weight underflows to 0 is also taken as masked: it adds nothing
// to the column sums, only its query is not counted in the column's denominator. Use AdditiveMask
// when the engine's mask is at hand.
struct ZeroIsMasked {
  bool visible(std::size_t, std::size_t, std::size_t, float weight) const noexcept { return weight != 0.0f; }
};

// The engine's additive mask, [mask_heads, rows, cols] with mask_heads 1 (shared by every head, as
// llama.cpp's kq_mask) or the map's head count: a cell is masked where the mask is -inf.
struct AdditiveMask {
  HeadsView<const float> mask;

  bool visible(std::size_t head, std::size_t row, std::size_t col, float) const noexcept {
    const std::size_t mask_head = mask.heads == 1 ? 0 : head;
    return mask.row(mask_head, row)[col] != -std::numeric_limits<float>::infinity();
  }
};

namespace detail {

inline void check_map(const HeadsView<float>& map, const AttentionExtras& extras) {
  if (map.data == nullptr) shape_error("null map pointer");
  check_extras(extras, map.heads, map.rows);
  if (!extras.lse.empty()) shape_error("calibrate_map() has no log-sum-exp to write; leave extras.lse empty");
}

inline void check_mask(const AdditiveMask& rule, const HeadsView<float>& map) {
  const HeadsView<const float>& m = rule.mask;
  if (m.data == nullptr) shape_error("null mask pointer");
  if ((m.heads != 1 && m.heads != map.heads) || m.rows < map.rows || m.cols < map.cols)
    shape_error("mask " + dims(m.heads, m.rows, m.cols) + " does not cover map " + dims(map.heads, map.rows, map.cols));
}
template <MapVisibility V>
void check_mask(const V&, const HeadsView<float>&) {}

// Which rows of one head take part: not invalid (NaN in a visible cell), not empty.
enum class RowKind { takes_part, invalid, empty };

template <MapVisibility V>
RowKind classify_row(const HeadsView<float>& map, const V& rule, std::size_t head, std::size_t row) {
  const float* weights = map.row(head, row);
  bool any_visible = false;
  for (std::size_t j = 0; j < map.cols; ++j) {
    if (!rule.visible(head, row, j, weights[j])) continue;
    if (std::isnan(weights[j])) return RowKind::invalid;
    any_visible = true;
  }
  return any_visible ? RowKind::takes_part : RowKind::empty;
}

// Step 1 for one head: received sums in double (as the oracle), rounded to float once per column.
template <MapVisibility V>
ColumnStats map_column_stats(const HeadsView<float>& map, const V& rule, std::size_t head,
                             const std::vector<RowKind>& kinds) {
  std::vector<double> received(map.cols, 0.0);
  ColumnStats stats;
  stats.extend_to(map.cols);
  for (std::size_t i = 0; i < map.rows; ++i) {
    if (kinds[i] != RowKind::takes_part) continue;
    const float* weights = map.row(head, i);
    for (std::size_t j = 0; j < map.cols; ++j) {
      if (!rule.visible(head, i, j, weights[j])) continue;
      received[j] += weights[j];
      stats.seen_by.increment(j);
    }
  }
  for (std::size_t j = 0; j < map.cols; ++j) stats.received[j] = static_cast<float>(received[j]);
  return stats;
}

// Adds this call's statistics to the running totals (decode, chunked prefill) and returns the totals.
inline const ColumnStats& merge_running(ColumnStats& running, const ColumnStats& call) {
  running.extend_to(call.size());
  for (std::size_t j = 0; j < call.size(); ++j) running.received[j] += call.received[j];
  running.seen_by.add(call.seen_by);
  return running;
}

// Steps 4-6 for one head: each taking-part row's visible sink and non-sink mass, then the gains.
template <Rescaler Rule, MapVisibility V>
CalibrationReport rescale_map_rows(const HeadsView<float>& map, const V& rule, std::size_t head,
                                   const std::vector<RowKind>& kinds, const std::vector<bool>& is_sink,
                                   const Rule& rescaler) {
  CalibrationReport report;
  for (std::size_t i = 0; i < map.rows; ++i) {
    if (kinds[i] != RowKind::takes_part) continue;
    float* weights = map.row(head, i);
    double sink_mass = 0.0, rest_mass = 0.0;
    for (std::size_t j = 0; j < map.cols; ++j)
      if (rule.visible(head, i, j, weights[j])) (is_sink[j] ? sink_mass : rest_mass) += weights[j];
    const auto gains = rescaler.gains(static_cast<float>(sink_mass), static_cast<float>(rest_mass));
    if (!gains) {
      ++report.degenerate_rows;
      continue;
    }
    ++report.rows_calibrated;
    for (std::size_t j = 0; j < map.cols; ++j)
      if (rule.visible(head, i, j, weights[j])) weights[j] *= is_sink[j] ? gains->sink : gains->rest;
  }
  return report;
}

template <CalibrationPolicy Cal, MapVisibility V>
CalibrationReport calibrate_map_head(const HeadsView<float>& map, const Cal& calibration, const V& rule,
                                     std::size_t head, ColumnStats* running, SinkSet& sinks) {
  CalibrationReport report;
  std::vector<RowKind> kinds(map.rows);
  for (std::size_t i = 0; i < map.rows; ++i) {
    kinds[i] = classify_row(map, rule, head, i);
    report.invalid_rows += kinds[i] == RowKind::invalid ? 1 : 0;
    report.empty_rows += kinds[i] == RowKind::empty ? 1 : 0;
  }
  const ColumnStats call = map_column_stats(map, rule, head, kinds);
  const ColumnStats& stats = running != nullptr ? merge_running(*running, call) : call;
  calibration.detector.select(stats.view(), sinks);
  report.sinks_selected = sinks.size();
  if (sinks.empty()) return report;
  // Running totals may know more cells than this map has; a sink beyond the map has no weight here.
  std::vector<bool> is_sink(std::max(map.cols, stats.size()), false);
  for (const auto s : sinks) is_sink[s] = true;
  report += rescale_map_rows(map, rule, head, kinds, is_sink, calibration.rescaler);
  return report;
}

}  // namespace detail

// Calibrates the heads of `map` that extras.calibrated_heads selects (all when empty), in place.
// extras.running_stats (one per head) makes the statistics cumulative over calls, as in decode; the
// map's columns must then be the same key cells from call to call. extras.sinks receives each
// head's sink set. extras.lse must be empty. Throws std::invalid_argument for shapes that do not fit.
template <CalibrationPolicy Cal, MapVisibility V = ZeroIsMasked>
CalibrationReport calibrate_map(HeadsView<float> map, const Cal& calibration, const V& visibility = {},
                                const AttentionExtras& extras = {}) {
  detail::check_map(map, extras);
  detail::check_mask(visibility, map);
  if (extras.sinks != nullptr) extras.sinks->assign(map.heads, SinkSet{});
  CalibrationReport report;
  SinkSet sinks;
  for (std::size_t head = 0; head < map.heads; ++head) {
    if (!detail::head_is_calibrated(extras, head)) continue;
    ColumnStats* running = extras.running_stats.empty() ? nullptr : &extras.running_stats[head];
    report += detail::calibrate_map_head(map, calibration, visibility, head, running, sinks);
    if (extras.sinks != nullptr) (*extras.sinks)[head] = sinks;
  }
  return report;
}

}  // namespace act
