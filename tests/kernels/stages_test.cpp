// ACT's public stages against the double oracle: column statistics alone, sink selection from
// them, and the per-row logit bias that lets a second ordinary softmax produce ACT's row.
#include "kernel_testing.hpp"

using namespace act;
using namespace act::testing;

namespace {

Problem stage_problem(bool masked_by_position) {
  AttentionOptions options;
  if (masked_by_position) {
    options.valid_keys = 40;
    options.query_position = 10;
  }
  Problem p = random_problem({4, 2, 30, 44, 16}, options, 23);
  plant_sinks(p, {0, 6, 13}, 9.0f);
  return p;
}

// Row i of an ordinary softmax over scores + bias (bias on `sinks` only) times V, in double.
std::vector<double> biased_row(const Problem& p, std::size_t head, std::size_t i, const SinkSet& sinks, double bias) {
  const AttentionGeometry g = p.geometry();
  std::vector<double> scores;
  double max_score = -INFINITY;
  for (std::size_t j = 0; j < g.visible_keys(i); ++j) {
    double dot = 0.0;
    for (std::size_t c = 0; c < g.head_dim; ++c)
      dot += static_cast<double>(p.queries().row(head, i)[c]) * p.keys().row(g.kv_head_of(head), j)[c];
    const bool sink = std::binary_search(sinks.begin(), sinks.end(), static_cast<std::uint32_t>(j));
    scores.push_back(dot * g.scale + (sink ? bias : 0.0));
    max_score = std::max(max_score, scores.back());
  }
  double total = 0.0;
  for (double& s : scores) total += (s = std::exp(s - max_score));
  std::vector<double> out(g.head_dim, 0.0);
  for (std::size_t j = 0; j < scores.size(); ++j)
    for (std::size_t c = 0; c < g.head_dim; ++c) out[c] += scores[j] / total * p.values().row(g.kv_head_of(head), j)[c];
  return out;
}

}  // namespace

TEST_CASE("column_statistics alone equals the oracle's statistics", "[kernels][stages]") {
  const bool positioned = GENERATE(false, true);
  CAPTURE(positioned);
  const Problem p = stage_problem(positioned);
  Result plain = run_reference(p, NoCalibration{});
  const std::vector<float> before = plain.out;
  std::vector<ColumnStats> stats(4);
  const CalibrationReport report = column_statistics(
      p.queries(), p.keys(), p.values(), head_major(plain.out.data(), 4, 30, 16), plain.lse, p.options, stats);
  CHECK(report.rows_calibrated == 0);
  CHECK(report.sinks_selected == 0);
  CHECK(plain.out == before);
  const auto detector = ColumnMeanThreshold(0.1f);
  const Result ref = run_reference(p, Calibration{detector, Redistribute(0.4f)});
  for (std::size_t h = 0; h < 4; ++h) {
    CAPTURE(h);
    const ColumnStats expected = reference::column_stats(reference_map(p, h));
    CHECK(stats[h].seen_by == expected.seen_by);
    // Each received sum is off by its weights' relative error (lse rounding cancels by the
    // renormalisation; eps below) plus the sum's rounding.
    const double tolerance = max_weight_error(p, h) + error_gamma(30.0 + 16.0);
    for (std::size_t j = 0; j < expected.size(); ++j)
      CHECK(std::abs(stats[h].received[j] - expected.received[j]) <= tolerance * expected.received[j] + 1e-30);
    SinkSet sinks;
    detector.select(stats[h].view(), sinks);
    CHECK(sinks == ref.sinks[h]);  // no mean of this problem is within the tolerance of tau
  }
}

TEST_CASE("sink logit biases make a second softmax produce ACT's rows", "[kernels][stages]") {
  const Problem p = stage_problem(false);
  const Result plain = run_reference(p, NoCalibration{});
  const float beta = GENERATE(0.4f, 0.0f);
  CAPTURE(beta);
  const Redistribute rule(beta);
  const Result ref = run_reference(p, Calibration{ColumnMeanThreshold(0.1f), rule});
  std::vector<float> bias(4 * 30);
  sink_logit_biases(p.queries(), p.keys(), plain.lse, p.options, ref.sinks, rule, bias);
  std::size_t biased_rows = 0;
  for (std::size_t h = 0; h < 4; ++h) {
    const reference::HeadMap map = reference_map(p, h);
    for (std::size_t i = 0; i < 30; ++i) {
      CAPTURE(h, i);
      double m = 0.0;
      for (std::uint32_t s : ref.sinks[h]) m += s < map.visible[i] ? map.at(i, s) : 0.0;
      const double r = 1.0 - m;
      if (ref.sinks[h].empty() || !rule.gains(static_cast<float>(m), static_cast<float>(r))) {
        CHECK(bias[h * 30 + i] == 0.0f);
        continue;
      }
      biased_rows += m > 0.0;
      const std::vector<double> row = biased_row(p, h, i, ref.sinks[h], bias[h * 30 + i]);
      // The stage's m carries each sink weight's relative error e = gamma(d + 3) (|s| + |lse|)
      // (float dot product, float lse, exp); the bias log(beta / b) moves by at most
      // (1 - beta) dm / (r^2 b) (+ a rounding of the log), and a weight moved by a factor exp(+-db)
      // moves the output by at most 2 db V.
      // score_error is gamma(d + 1) scale max_j sum_c |q_c k_jc|, so this recovers max |s| bounds.
      const double score_magnitude = score_error(p, h, i, map.visible[i]) / error_gamma(17.0);
      const double e = error_gamma(19.0) * (score_magnitude + std::abs(static_cast<double>(plain.lse[h * 30 + i]))) +
                       4.0 * unit_roundoff;
      const double b = 1.0 + (1.0 - beta) * m / r;
      const double d_bias = (1.0 - beta) * e * m / (r * r * b) + 4.0 * unit_roundoff;
      const double tolerance = 2.0 * d_bias * max_abs_value(p, h / 2, map.visible[i]) + 1e-6;
      for (std::size_t c = 0; c < 16; ++c) CHECK(std::abs(row[c] - ref.out[(h * 30 + i) * 16 + c]) <= tolerance);
    }
  }
  CHECK(biased_rows > 0);
}

TEST_CASE("the logit bias exists for normalised rescalers", "[kernels][stages]") {
  CHECK(sink_logit_bias(Identity{}, 0.3f, 0.7f) == 0.0f);
  CHECK(sink_logit_bias(ScaleOnly(0.5f), 0.3f, 0.7f) == Approx(std::log(0.5f)));  // a / b = beta for any m
  CHECK(sink_logit_bias(Redistribute(0.0f), 0.3f, 0.7f) == -INFINITY);
  CHECK(sink_logit_bias(Redistribute(0.4f), 1.0f, 0.0f) == 0.0f);  // refused: left unchanged
  const float m = 0.3f, r = 0.7f, b = 1.0f + 0.6f * m / r;
  CHECK(sink_logit_bias(Redistribute(0.4f), m, r) == Approx(std::log(0.4f / b)));
}
