// act::correct: post-hoc calibration of another attention routine's output.
#include "kernel_testing.hpp"

using namespace act;
using namespace act::testing;

namespace {

// The "other routine": the reference's plain attention, O and lse rounded to float.
Result foreign_attention(const Problem& p) { return run_reference(p, NoCalibration{}); }

template <class Cal>
CalibrationReport correct_in_place(const Problem& p, Result& r, const Cal& calibration, const RunOptions& run = {}) {
  AttentionExtras extras;
  extras.sinks = &r.sinks;
  extras.calibrated_heads = run.calibrated_heads;
  return correct(p.queries(), p.keys(), p.values(),
                 head_major(r.out.data(), p.shape.q_heads, p.shape.q_len, p.shape.dim), r.lse, p.options, calibration,
                 extras);
}

}  // namespace

TEST_CASE("correct() after another attention routine matches fused and reference ACT", "[kernels][correct]") {
  AttentionOptions options;
  options.masking = GENERATE(Masking::causal, Masking::none);
  const std::size_t dim = GENERATE(3, 17, 64);
  CAPTURE(options.masking == Masking::causal, dim);
  Problem p = random_problem({6, 2, 41, 41, dim}, options, static_cast<std::uint32_t>(dim));
  plant_sinks(p, {0, 6, 19}, 4.0f * std::sqrt(static_cast<float>(dim)));
  const auto calibration = paper_calibration(0.4f, 0.1f);

  Result corrected = foreign_attention(p);
  const CalibrationReport report = correct_in_place(p, corrected, calibration);
  const Result fused = run_fused(p, calibration);
  const Result ref = run_reference(p, calibration);
  REQUIRE(corrected.sinks == ref.sinks);
  REQUIRE(fused.sinks == ref.sinks);
  CHECK(report.sinks_selected == ref.report.sinks_selected);
  CHECK(report.rows_calibrated == ref.report.rows_calibrated);
  CHECK(report.degenerate_rows == ref.report.degenerate_rows);

  // The given O carries the reference's rounding to float (u |o| <= u V, one more weight error u).
  // The given lse's rounding (a factor exp(+-u |lse|) on every weight) cancels: correct()
  // renormalises the weights by their own row sum, so it adds no error here.
  BoundOptions given;
  given.extra_weight_error = unit_roundoff;
  const OutputBounds correct_bounds = output_bounds(p, calibration.rescaler, ref.sinks, given);
  const OutputBounds fused_bounds = output_bounds(p, calibration.rescaler, ref.sinks);
  REQUIRE(correct_bounds.ambiguous_rows == 0);
  CHECK(compare_outputs(corrected.out, ref.out, correct_bounds.row, dim) == 0);
  // Both within their bounds of the reference (plus u |reference| <= u V each), so within the sum
  // of the bounds of each other.
  const double value_max = std::max(max_abs_value(p, 0, p.shape.kv_len), max_abs_value(p, 1, p.shape.kv_len));
  std::vector<double> sum_of_bounds(correct_bounds.row.size());
  for (std::size_t row = 0; row < sum_of_bounds.size(); ++row)
    sum_of_bounds[row] = correct_bounds.row[row] + fused_bounds.row[row] + unit_roundoff * value_max;
  CHECK(compare_outputs(corrected.out, fused.out, sum_of_bounds, dim) == 0);
}

TEST_CASE("correct() leaves invalid, empty and uncalibrated rows alone", "[kernels][correct]") {
  Problem p = random_problem({4, 2, 20, 20, 8}, {}, 3);
  plant_sinks(p, {0, 5}, 12.0f);
  Result given = foreign_attention(p);
  given.lse[1 * 20 + 7] = std::numeric_limits<float>::quiet_NaN();  // head 1, row 7: invalid
  given.lse[1 * 20 + 9] = -std::numeric_limits<float>::infinity();  // head 1, row 9: empty
  given.lse[3 * 20 + 2] = std::numeric_limits<float>::infinity();   // head 3, row 2: invalid
  const std::vector<float> before = given.out;
  RunOptions run;
  run.calibrated_heads = {0, 1, 0, 1};
  const CalibrationReport report = correct_in_place(p, given, paper_calibration(), run);
  CHECK(report.invalid_rows == 2);
  CHECK(report.empty_rows == 1);
  for (std::size_t h = 0; h < 4; ++h) {
    for (std::size_t i = 0; i < 20; ++i) {
      const bool untouched = h % 2 == 0 || (h == 1 && (i == 7 || i == 9)) || (h == 3 && i == 2);
      if (!untouched) continue;
      CAPTURE(h, i);
      CHECK(std::equal(before.begin() + (h * 20 + i) * 8, before.begin() + (h * 20 + i + 1) * 8,
                       given.out.begin() + (h * 20 + i) * 8));
    }
  }
  CHECK(given.sinks[1] == SinkSet{5});
  CHECK(given.sinks[0].empty());
}

TEST_CASE("correct() validates its inputs", "[kernels][correct][errors]") {
  Problem p = random_problem({2, 2, 6, 6, 4}, {}, 5);
  Result given = foreign_attention(p);
  const auto out = head_major(given.out.data(), 2, 6, 4);
  const std::vector<float> short_lse(5);
  CHECK_THROWS_AS(correct(p.queries(), p.keys(), p.values(), out, short_lse, p.options, paper_calibration()),
                  std::invalid_argument);
  std::vector<float> lse_out(12);
  AttentionExtras extras;
  extras.lse = lse_out;
  CHECK_THROWS_AS(correct(p.queries(), p.keys(), p.values(), out, given.lse, p.options, paper_calibration(), extras),
                  std::invalid_argument);
  // The output corrected in place over Q's own memory: Q would be read after rows were rewritten.
  CHECK_THROWS_WITH(correct(p.queries(), p.keys(), p.values(), head_major(p.q.data(), 2, 6, 4), given.lse, p.options,
                            paper_calibration()),
                    Catch::Contains("overlaps Q"));
}

TEST_CASE("correct() with a never-detecting calibration changes nothing", "[kernels][correct]") {
  Problem p = random_problem({2, 2, 9, 9, 4}, {}, 7);
  Result given = foreign_attention(p);
  const std::vector<float> before = given.out;
  CHECK(correct_in_place(p, given, NoCalibration{}) == CalibrationReport{});
  CHECK(given.out == before);
}

// Issue 15: one query, two keys, scores near 300, the sink (key 0) holding all but `rest` of the
// row. With the float lse (error ~ u * 300) used as exact, correct() gave 0.662 at rest 1e-4 and
// refused the row at rest 1e-5, where the answer is 0.600.
TEST_CASE("correct() stays exact when |lse| is large and the rest mass small", "[kernels][correct]") {
  const double rest = GENERATE(1e-3, 1e-4, 1e-5);
  const float logit = GENERATE(300.0f, -300.0f, 3000.0f);
  CAPTURE(rest, logit);
  AttentionOptions options;
  options.masking = Masking::none;
  options.scale = 1.0f;
  Problem p({1, 1, 1, 2, 1}, options);
  p.q = {1.0f};
  p.k = {logit, logit + static_cast<float>(std::log(rest / (1.0 - rest)))};
  p.v = {0.0f, 1.0f};  // the answer is the rest's calibrated weight r + (1 - beta) m
  const auto calibration = Calibration{ColumnMeanThreshold(0.5f, KeepSink::none), Redistribute(0.4f)};
  Result corrected = foreign_attention(p);
  const CalibrationReport report = correct_in_place(p, corrected, calibration);
  const Result ref = run_reference(p, calibration);
  REQUIRE(ref.sinks[0] == SinkSet{0});
  CHECK(report.rows_calibrated == 1);
  CHECK(report.degenerate_rows == 0);
  // Scores are exact (q = 1, scale 1); the given O is rounded to float (one more weight error u).
  BoundOptions given;
  given.exact_scores = true;
  given.extra_weight_error = unit_roundoff;
  const OutputBounds bounds = output_bounds(p, calibration.rescaler, ref.sinks, given);
  REQUIRE(bounds.ambiguous_rows == 0);
  // Using the float lse as exact moves m by about u |lse| and the output by about 0.6 u |lse| / r
  // (0.062 measured at r = 1e-4, |lse| = 300); the bound must be well below that to catch it.
  CHECK(bounds.row[0] < 0.1 * unit_roundoff * std::abs(static_cast<double>(logit)) / rest);
  CHECK(compare_outputs(corrected.out, ref.out, bounds.row, 1) == 0);
}
