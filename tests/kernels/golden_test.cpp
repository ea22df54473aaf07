// Both kernels against golden vectors from tools/gen_golden_act.py, an independent float64 numpy
// transcription of the spec's steps 1-8 (tests/data/act_golden.json).
#include "kernel_testing.hpp"

#include <nlohmann/json.hpp>

#include <fstream>
#include <string>

using namespace act;
using namespace act::testing;

namespace {

nlohmann::json load_golden() {
  std::ifstream file(std::string(ACT_SOURCE_DIR) + "/tests/data/act_golden.json");
  REQUIRE(file.good());
  return nlohmann::json::parse(file);
}

Problem problem_of(const nlohmann::json& c) {
  AttentionOptions options;
  options.masking = c["causal"].get<bool>() ? Masking::causal : Masking::none;
  options.scale = c["scale"].get<float>();
  const std::size_t n = c["n"];
  Problem p({c["q_heads"], c["kv_heads"], n, n, c["dim"]}, options);
  p.q = c["q"].get<std::vector<float>>();  // float32 values, exact in the JSON doubles
  p.k = c["k"].get<std::vector<float>>();
  p.v = c["v"].get<std::vector<float>>();
  return p;
}

// Largest rest gain 1 + (1 - beta) m / r over the rows of every head.
double max_rest_gain(const Problem& p, const std::vector<SinkSet>& sinks, float beta) {
  double largest = 1.0;
  for (std::size_t h = 0; h < p.shape.q_heads; ++h) {
    const reference::HeadMap map = reference_map(p, h);
    for (std::size_t i = 0; i < map.rows; ++i) {
      double m = 0.0;
      for (std::uint32_t s : sinks[h]) m += s < map.visible[i] ? map.at(i, s) : 0.0;
      largest = std::max(largest, 1.0 + (1.0 - beta) * m / (1.0 - m));
    }
  }
  return largest;
}

}  // namespace

TEST_CASE("golden vectors from the spec's independent transcription", "[kernels][golden]") {
  const nlohmann::json golden = load_golden();
  REQUIRE(golden["cases"].size() >= 5);
  for (const nlohmann::json& c : golden["cases"]) {
    const std::string name = c["name"];
    INFO(name);
    const Problem p = problem_of(c);
    const auto calibration = paper_calibration(c["beta"].get<float>(), c["tau"].get<float>());
    const std::vector<double> expected = c["out"].get<std::vector<double>>();
    const std::vector<SinkSet> sinks = c["sinks"].get<std::vector<SinkSet>>();
    // Every golden column mean is at least 1.7% away from tau (checked when generating), far
    // outside float rounding: the sink sets must agree exactly.
    RunOptions run;
    run.quirks.first_entry_to_one = c["first_entry_to_one"].get<bool>();
    const Result ref = run_reference(p, calibration, run);
    CHECK(ref.sinks == sinks);
    // The reference works in double like the generator, except that it hands m and r to the rule
    // as floats and gets the gains back as floats: the rest gain g = 1 + (1 - beta) m / r carries
    // at most gamma(6) g relative error (two casts, four operations), on weights summing to <= 1.
    // Then it rounds once to float.
    double value_max = 0.0;
    for (std::size_t kv = 0; kv < p.shape.kv_heads; ++kv)
      value_max = std::max(value_max, max_abs_value(p, kv, p.shape.kv_len));
    const double tolerance = error_gamma(6.0) * max_rest_gain(p, sinks, calibration.rescaler.beta) * value_max;
    for (std::size_t e = 0; e < expected.size(); ++e)
      CHECK(std::abs(ref.out[e] - expected[e]) <= tolerance + unit_roundoff * std::abs(expected[e]));
    if (run.quirks.first_entry_to_one) continue;  // the fused kernel implements the library's semantics only
    const Result fused = run_fused(p, calibration);
    CHECK(fused.sinks == sinks);
    const OutputBounds bounds = output_bounds(p, calibration.rescaler, sinks);
    CHECK(bounds.ambiguous_rows == 0);
    std::vector<float> expected_float(expected.begin(), expected.end());
    CHECK(compare_outputs(fused.out, expected_float, bounds.row, p.shape.dim) == 0);
  }
}

TEST_CASE("the step 7 quirk only matters where row 0 sees more than column 0", "[kernels][golden]") {
  // Under causal prefill, row 0 sees only column 0 and already has A'[0, 0] = 1, so the quirk is a
  // no-op there; the non-causal golden case shows its effect (row 0 no longer sums to one).
  const nlohmann::json golden = load_golden();
  const auto find = [&](const std::string& name) -> const nlohmann::json& {
    for (const nlohmann::json& c : golden["cases"])
      if (c["name"] == name) return c;
    FAIL("no golden case " << name);
    return golden;
  };
  CHECK(find("causal, 2 heads")["out"] == find("causal, step 7 quirk")["out"]);
  const nlohmann::json& quirky = find("non-causal, step 7 quirk");
  const Problem p = problem_of(quirky);
  const auto calibration = paper_calibration(quirky["beta"].get<float>(), quirky["tau"].get<float>());
  const Result fused = run_fused(p, calibration);
  const std::vector<double> expected = quirky["out"].get<std::vector<double>>();
  const std::size_t d = p.shape.dim;
  bool row0_differs = false;
  for (std::size_t c = 0; c < d; ++c) row0_differs |= std::abs(fused.out[c] - expected[c]) > 1e-3;
  CHECK(row0_differs);
}
