// The model's per-layer attention hook: every registered policy, chosen at run time, calibrates a
// layer exactly as the templated kernel does with that policy, and agrees with the double-precision
// oracle within the kernels' error model. The observer sees every head's sinks under any detector.
#include <act/model/attention_hook.hpp>

#include <catch2/catch.hpp>

#include "../kernels/kernel_testing.hpp"

#include <string>
#include <utility>
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
  model::CalibratingAttention hook({{}, {{0, 1, 1, 0}, {}}}, calibration);
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
  model::CalibratingAttention hook({{{0, 1, 1, 0}, {}}}, AnyCalibration::initial_token_scaling(0.5f));
  const CalibrationReport report =
      hook.attend({3, p.queries(), model::KvViews<float>{p.keys(), p.values()},
                   head_major(plain.out.data(), p.shape.q_heads, p.shape.q_len, p.shape.dim), 1});
  CHECK(report.rows_calibrated == 0);
  CHECK(plain.out == run_fused(p, NoCalibration{}).out);
}

namespace {

// Rows of head `h` of a [heads, q_len, dim] output.
std::vector<float> head_rows(const std::vector<float>& out, const Problem& p, std::size_t h) {
  const auto size = static_cast<std::ptrdiff_t>(p.shape.q_len * p.shape.dim);
  return {out.begin() + static_cast<std::ptrdiff_t>(h) * size, out.begin() + static_cast<std::ptrdiff_t>(h + 1) * size};
}

}  // namespace

TEST_CASE("attention hook: heads with a factor of their own", "[model][hook][factors]") {
  // Head 1 uses the set's scale-only 0.5, heads 2 and 3 their own factors, head 0 is plain.
  HeadSet set({{1, 1}}, 0.4f, 0.1f);
  set.add({1, 2}, 0.25f);
  set.add({1, 3}, 2.0f);
  const model::ActSettings settings(set, AnyCalibration::initial_token_scaling(0.5f));
  const auto layers = settings.layer_calibrations(2, 4);
  REQUIRE(layers.size() == 2);
  CHECK(layers[0].shared_mask.empty());
  CHECK(layers[0].own.empty());
  CHECK(layers[1].shared_mask == std::vector<std::uint8_t>{0, 1, 0, 0});
  REQUIRE(layers[1].own.size() == 2);
  CHECK(layers[1].own[0].head == 2);
  CHECK(layers[1].own[0].calibration.text() == "initial-token + scale-only:0.25");
  CHECK(settings.calibration_for({1, 3}).text() == "initial-token + scale-only:2");
  CHECK(settings.calibration_for({1, 1}).text() == "initial-token + scale-only:0.5");

  const Problem p = layer_problem();
  std::vector<float> out(p.q.size());
  model::CalibratingAttention hook(layers, settings.calibration());
  const CalibrationReport report = hook.attend({1, p.queries(), model::KvViews<float>{p.keys(), p.values()},
                                                head_major(out.data(), 4, p.shape.q_len, p.shape.dim), 1});
  // Each head is what the templated kernel gives it with its own factor (bit for bit: the one-head
  // call does the same arithmetic on that head); the report counts every calibrated row.
  CHECK(head_rows(out, p, 0) == head_rows(run_fused(p, NoCalibration{}).out, p, 0));
  std::size_t rows = 0;
  for (const auto& [head, factor] : {std::pair{1, 0.5f}, {2, 0.25f}, {3, 2.0f}}) {
    CAPTURE(head);
    std::vector<std::uint8_t> mask(4, 0);
    mask[static_cast<std::size_t>(head)] = 1;
    const Result alone = run_fused(p, Calibration{InitialToken{}, ScaleOnly{factor}}, {mask, false, {}});
    CHECK(head_rows(out, p, static_cast<std::size_t>(head)) == head_rows(alone.out, p, static_cast<std::size_t>(head)));
    rows += alone.report.rows_calibrated;
  }
  CHECK(report.rows_calibrated == rows);
}

TEST_CASE("attention hook: a factor per head needs a scale-only rescaler", "[model][hook][factors]") {
  HeadSet set;
  set.add({1, 2}, 0.25f);
  CHECK_THROWS_WITH(model::ActSettings(set, AnyCalibration::paper()),
                    Catch::Contains("needs a scale-only rescaler (the run uses redistribute:0.4)"));
  CHECK_NOTHROW(model::ActSettings(set, AnyCalibration::initial_token_scaling(1.0f)));
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
