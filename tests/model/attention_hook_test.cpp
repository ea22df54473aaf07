// The model's per-layer attention hook: every registered policy, chosen at run time, calibrates a
// layer exactly as the templated kernel does with that policy, and agrees with the double-precision
// oracle within the kernels' error model. The observer sees every head's sinks under any detector.
#include <act/model/attention_hook.hpp>

#include <catch2/catch.hpp>

#include "../kernels/kernel_testing.hpp"

#include <string>
#include <vector>

using namespace act;
using namespace act::testing;

namespace {

// Grouped-query shape, as in the model (two query heads per key head), with clear sinks at 0 and 5.
Problem layer_problem() {
  Problem p = random_problem({4, 2, 24, 24, 16}, {}, 13);
  plant_sinks(p, {0, 5}, 3.0f);
  return p;
}

// One layer through the hook: heads 1 and 2 calibrated.
Result through_hook(const Problem& p, const AnyCalibration& calibration) {
  Result r{std::vector<float>(p.q.size()), {}, {}, {}, {}};
  std::vector<std::vector<std::uint8_t>> masks = {{}, {0, 1, 1, 0}};
  model::CalibratingAttention hook(masks, calibration);
  r.report = hook.attend({1, p.queries(), model::KvViews<float>{p.keys(), p.values()},
                          head_major(r.out.data(), p.shape.q_heads, p.shape.q_len, p.shape.dim), 1});
  return r;
}

const char* const policies[][2] = {
    {"column-mean:0.1", "redistribute:0.4"},     {"column-mean:0.1:token0", "redistribute:0.4"},
    {"column-mean:0.05:none", "scale-only:0.5"}, {"top-k:2", "redistribute:0.4"},
    {"top-k:3:first", "scale-only:0.25"},        {"initial-token", "scale-only:0.5"},
    {"initial-token", "scale-only:2"},           {"initial-token", "redistribute:0.6"},
};

}  // namespace

TEST_CASE("attention hook: each policy equals its templated kernel and the oracle", "[model][hook]") {
  const Problem p = layer_problem();
  const RunOptions run{{0, 1, 1, 0}, false, {}};
  for (const auto& [detector, rescaler] : policies) {
    CAPTURE(detector, rescaler);
    const AnyCalibration calibration{parse_detector(detector), parse_rescaler(rescaler)};
    const Result hooked = through_hook(p, calibration);
    calibration.visit([&](const auto& typed) {
      const Result direct = run_fused(p, typed, run);
      CHECK(hooked.out == direct.out);  // type erasure adds no arithmetic
      CHECK(hooked.report == direct.report);
      const Result oracle = run_reference(p, typed, run);
      REQUIRE(oracle.sinks == direct.sinks);  // planted sinks sit far from every threshold
      CHECK(oracle.report.rows_calibrated > 0);
      // The kernels' own error model (tests/kernels): bounds from the oracle's map and sink sets.
      const OutputBounds bounds = output_bounds(p, typed.rescaler, oracle.sinks);
      CHECK(bounds.ambiguous_rows == 0);
      CHECK(compare_outputs(hooked.out, oracle.out, bounds.row, p.shape.dim) == 0);
    });
  }
}

TEST_CASE("attention hook: a layer without a mask runs plain attention", "[model][hook]") {
  const Problem p = layer_problem();
  Result plain{std::vector<float>(p.q.size()), {}, {}, {}, {}};
  model::CalibratingAttention hook({{0, 1, 1, 0}}, AnyCalibration::initial_token_scaling(0.5f));
  const CalibrationReport report =
      hook.attend({3, p.queries(), model::KvViews<float>{p.keys(), p.values()},
                   head_major(plain.out.data(), p.shape.q_heads, p.shape.q_len, p.shape.dim), 1});
  CHECK(report.rows_calibrated == 0);
  CHECK(plain.out == run_fused(p, NoCalibration{}).out);
}

TEST_CASE("sink observer: any detector, every head, output unchanged", "[model][hook]") {
  const Problem p = layer_problem();
  std::vector<float> out(p.q.size());
  model::SinkObserver observer(parse_detector("top-k:1"));
  observer.attend({2, p.queries(), model::KvViews<float>{p.keys(), p.values()},
                   head_major(out.data(), p.shape.q_heads, p.shape.q_len, p.shape.dim), 1});
  CHECK(out == run_fused(p, NoCalibration{}).out);
  const auto seen = observer.take();
  REQUIRE(seen.size() == p.shape.q_heads);
  for (std::size_t h = 0; h < seen.size(); ++h) {
    CHECK(seen[h].id == HeadId{2, static_cast<std::uint32_t>(h)});
    CHECK(seen[h].sinks == SinkSet{5});  // top-1 with token 0 kept: the planted interior sink
    CHECK(seen[h].column_means.size() == p.shape.kv_len);
  }
}
