// calibrate_map (float32, in place, on a materialised softmax map laid out as an engine keeps it)
// against the double-precision oracle act::reference::calibrate run on the same float weights.
//
// Tolerance: both sides read the same float weights and sum them in double in the same column
// order, so column statistics, sink sets and the row masses handed to the rescaler are
// bit-identical, and so are the float gains. The only difference is the final product: the oracle
// keeps w * gain in double, calibrate_map rounds it to float once, so every weight must agree to
// a relative error of one unit roundoff (2^-24).
#include "kernel_testing.hpp"

#include <act/kernels/map_calibration.hpp>

#include <cstring>
#include <utility>

using namespace act;
using namespace act::testing;

namespace {

enum class MapLayout { head_major, token_major };

// An engine-style map of a causal problem: [heads][rows][cols] (or [rows][heads][cols]) with
// cols = kv_len + padding cells that no query sees, plus the matching additive mask.
struct EngineMap {
  std::size_t heads, rows, cols;
  MapLayout layout;
  std::vector<float> weights, mask;

  HeadsView<float> view() {
    const auto row_stride = static_cast<std::ptrdiff_t>(layout == MapLayout::head_major ? cols : heads * cols);
    const auto head_stride = static_cast<std::ptrdiff_t>(layout == MapLayout::head_major ? rows * cols : cols);
    return {weights.data(), heads, rows, cols, head_stride, row_stride};
  }
  AdditiveMask additive_mask() const { return {head_major(mask.data(), 1, rows, cols)}; }
};

EngineMap engine_map(const Problem& p, std::size_t padding, MapLayout layout) {
  EngineMap m{p.shape.q_heads, p.shape.q_len, p.shape.kv_len + padding, layout, {}, {}};
  m.weights.assign(m.heads * m.rows * m.cols, 0.0f);
  m.mask.assign(m.rows * m.cols, -std::numeric_limits<float>::infinity());
  const AttentionGeometry g = p.geometry();
  for (std::size_t i = 0; i < m.rows; ++i)
    for (std::size_t j = 0; j < g.visible_keys(i); ++j) m.mask[i * m.cols + j] = 0.0f;
  const HeadsView<float> view = m.view();
  for (std::size_t h = 0; h < m.heads; ++h) {
    const reference::HeadMap exact = reference_map(p, h);
    for (std::size_t i = 0; i < m.rows; ++i)
      for (std::size_t j = 0; j < exact.visible[i]; ++j) view.row(h, i)[j] = static_cast<float>(exact.at(i, j));
  }
  return m;
}

// The oracle's input: the engine map's float weights of one head, as doubles, without padding.
reference::HeadMap oracle_input(EngineMap& m, const Problem& p, std::size_t head) {
  reference::HeadMap exact = reference_map(p, head);
  const HeadsView<float> view = m.view();
  for (std::size_t i = 0; i < exact.rows; ++i)
    for (std::size_t j = 0; j < exact.visible[i]; ++j) exact.at(i, j) = view.row(head, i)[j];
  return exact;
}

// Weights of `head` differing from the oracle by more than one rounding; padding must stay 0.
std::size_t mismatches(EngineMap& m, const reference::HeadMap& oracle, std::size_t head) {
  std::size_t bad = 0;
  const HeadsView<float> view = m.view();
  for (std::size_t i = 0; i < m.rows; ++i)
    for (std::size_t j = 0; j < m.cols; ++j) {
      const double expected = j < oracle.visible[i] ? oracle.at(i, j) : 0.0;
      const double actual = view.row(head, i)[j];
      if (std::abs(actual - expected) > unit_roundoff * std::abs(expected)) ++bad;
    }
  return bad;
}

Problem sink_problem(std::uint32_t seed, std::size_t rows, std::size_t kv) {
  Problem p = random_problem({4, 2, rows, kv, 16}, {}, seed);
  plant_sinks(p, {0, 3, 9}, 10.0f);
  return p;
}

}  // namespace

// Oracle inputs of every head, read before the map is calibrated in place.
std::vector<reference::HeadMap> oracle_inputs(EngineMap& m, const Problem& p) {
  std::vector<reference::HeadMap> maps;
  for (std::size_t h = 0; h < m.heads; ++h) maps.push_back(oracle_input(m, p, h));
  return maps;
}

// ZeroIsMasked equals the mask only while no visible weight underflows to 0.
bool visible_weights_nonzero(const std::vector<reference::HeadMap>& maps) {
  for (const auto& map : maps)
    for (std::size_t i = 0; i < map.rows; ++i)
      for (std::size_t j = 0; j < map.visible[i]; ++j)
        if (map.at(i, j) == 0.0) return false;
  return true;
}

TEST_CASE("calibrate_map matches the oracle on an engine-style padded map", "[kernels][map]") {
  const MapLayout layout = GENERATE(MapLayout::head_major, MapLayout::token_major);
  const bool use_mask = GENERATE(false, true);
  const std::size_t rows = GENERATE(1, 7, 40);
  CAPTURE(static_cast<int>(layout), use_mask, rows);
  const Problem p = sink_problem(static_cast<std::uint32_t>(rows), rows, 40);
  EngineMap m = engine_map(p, 24, layout);
  std::vector<reference::HeadMap> oracle = oracle_inputs(m, p);
  REQUIRE(visible_weights_nonzero(oracle));
  const auto calibration = paper_calibration(0.4f, 0.1f);
  std::vector<SinkSet> sinks;
  AttentionExtras extras;
  extras.sinks = &sinks;
  const CalibrationReport report = use_mask ? calibrate_map(m.view(), calibration, m.additive_mask(), extras)
                                            : calibrate_map(m.view(), calibration, ZeroIsMasked{}, extras);
  CalibrationReport expected;
  std::size_t heads_with_sinks = 0;
  for (std::size_t h = 0; h < m.heads; ++h) {
    SinkSet oracle_sinks;
    expected += reference::calibrate(oracle[h], calibration, oracle_sinks);
    CHECK(sinks[h] == oracle_sinks);
    heads_with_sinks += oracle_sinks.empty() ? 0 : 1;
    CHECK(mismatches(m, oracle[h], h) == 0);
  }
  CHECK(report == expected);
  if (rows == 40) CHECK(heads_with_sinks > 0);  // the rescale path runs, not only the no-sink one
}

// The running totals equal the oracle's on its cells; the map's padding cells stay unseen.
bool same_running_totals(const ColumnStats& actual, const ColumnStats& oracle) {
  if (actual.size() < oracle.size()) return false;
  for (std::size_t j = 0; j < actual.size(); ++j) {
    const bool padding = j >= oracle.size();
    if (actual.seen_by[j] != (padding ? 0u : oracle.seen_by[j])) return false;
    if (actual.received[j] != (padding ? 0.0f : oracle.received[j])) return false;
  }
  return true;
}

TEST_CASE("calibrate_map over query chunks with running statistics matches the chunked oracle", "[kernels][map]") {
  // llama.cpp splits a long prompt into ubatches: each chunk's map has the chunk's rows and every
  // cell so far. The running totals make the chunks add up like the oracle's running statistics.
  const Problem p = sink_problem(5, 30, 30);
  const auto calibration = paper_calibration(0.4f, 0.1f);
  SinkState state(p.shape.q_heads);
  std::vector<ColumnStats> oracle_running(p.shape.q_heads);
  for (const auto& [first, count] : {std::pair<std::size_t, std::size_t>{0, 12}, {12, 17}, {29, 1}}) {
    CAPTURE(first);
    Problem chunk({p.shape.q_heads, p.shape.kv_heads, count, first + count, p.shape.dim});
    for (std::size_t h = 0; h < p.shape.q_heads; ++h)
      std::copy_n(&p.q[(h * p.shape.q_len + first) * p.shape.dim], count * p.shape.dim,
                  &chunk.q[h * count * p.shape.dim]);
    for (std::size_t h = 0; h < p.shape.kv_heads; ++h)
      std::copy_n(&p.k[h * p.shape.kv_len * p.shape.dim], (first + count) * p.shape.dim,
                  &chunk.k[h * (first + count) * p.shape.dim]);
    EngineMap m = engine_map(chunk, 3, MapLayout::head_major);
    std::vector<reference::HeadMap> oracle = oracle_inputs(m, chunk);
    std::vector<SinkSet> sinks;
    AttentionExtras extras;
    extras.sinks = &sinks;
    extras.running_stats = state.span();
    const CalibrationReport report = calibrate_map(m.view(), calibration, m.additive_mask(), extras);
    CalibrationReport expected;
    for (std::size_t h = 0; h < m.heads; ++h) {
      SinkSet oracle_sinks;
      expected += reference::calibrate(oracle[h], calibration, oracle_sinks, {}, &oracle_running[h]);
      CHECK(sinks[h] == oracle_sinks);
      CHECK(mismatches(m, oracle[h], h) == 0);
      CHECK(same_running_totals(state.head(h), oracle_running[h]));
    }
    CHECK(report == expected);
  }
}

TEST_CASE("calibrate_map leaves unselected heads, invalid and empty rows as they are", "[kernels][map]") {
  const Problem p = sink_problem(9, 16, 16);
  EngineMap m = engine_map(p, 0, MapLayout::head_major);
  const HeadsView<float> view = m.view();
  view.row(1, 4)[2] = std::numeric_limits<float>::quiet_NaN();  // an invalid row in a calibrated head
  std::fill_n(view.row(1, 5), m.cols, 0.0f);                    // a row that sees nothing
  const std::vector<float> before = m.weights;
  const std::vector<std::uint8_t> selected = {0, 1, 0, 0};
  AttentionExtras extras;
  extras.calibrated_heads = selected;
  const CalibrationReport report = calibrate_map(view, paper_calibration(0.4f, 0.1f), ZeroIsMasked{}, extras);
  CHECK(report.invalid_rows == 1);
  CHECK(report.empty_rows == 1);
  CHECK(report.rows_calibrated + report.degenerate_rows == 14);
  for (std::size_t h : {0u, 2u, 3u})
    for (std::size_t i = 0; i < m.rows; ++i)
      for (std::size_t j = 0; j < m.cols; ++j)
        CHECK(std::memcmp(&view.row(h, i)[j], &before[(h * m.rows + i) * m.cols + j], sizeof(float)) == 0);
  CHECK(std::isnan(view.row(1, 4)[2]));
  CHECK(view.row(1, 4)[0] == before[(m.rows + 4) * m.cols]);
}

TEST_CASE("calibrate_map rejects shapes that do not fit", "[kernels][map]") {
  const Problem p = sink_problem(3, 8, 12);
  EngineMap m = engine_map(p, 0, MapLayout::head_major);
  const auto calibration = paper_calibration();
  CHECK_THROWS_AS(calibrate_map(HeadsView<float>{}, calibration), std::invalid_argument);
  const AdditiveMask short_mask{head_major(m.mask.data(), 1, m.rows - 1, m.cols)};
  CHECK_THROWS_AS(calibrate_map(m.view(), calibration, short_mask), std::invalid_argument);
  const AdditiveMask no_mask{};
  CHECK_THROWS_AS(calibrate_map(m.view(), calibration, no_mask), std::invalid_argument);
  std::vector<float> lse(m.heads * m.rows);
  AttentionExtras with_lse;
  with_lse.lse = lse;
  CHECK_THROWS_AS(calibrate_map(m.view(), calibration, ZeroIsMasked{}, with_lse), std::invalid_argument);
  const std::vector<std::uint8_t> wrong_count = {1, 1};
  AttentionExtras wrong_heads;
  wrong_heads.calibrated_heads = wrong_count;
  CHECK_THROWS_AS(calibrate_map(m.view(), calibration, ZeroIsMasked{}, wrong_heads), std::invalid_argument);
}
