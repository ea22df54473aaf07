#pragma once
// Shared by the kernel tests: the Catch-free problems and error bounds of kernel_bounds.hpp (see
// its error model), plus the checks that report through Catch.
#include "kernel_bounds.hpp"

#include <catch2/catch.hpp>

#include <bit>
#include <stdexcept>
#include <type_traits>
#include <vector>

namespace act::testing {

// A detector that always throws: the kernels must carry a policy's exception to their caller.
struct ThrowingDetector {
  void select(ColumnStatsView, SinkSet&) const { throw std::runtime_error("detector failed"); }
};

// Every element of `actual` within_bound of `expected` (kernel_bounds.hpp). Returns the number of
// violations (reported through Catch).
inline std::size_t compare_outputs(const std::vector<float>& actual, const std::vector<float>& expected,
                                   const std::vector<double>& row_bound, std::size_t dim) {
  std::size_t violations = 0;
  for (std::size_t e = 0; e < expected.size(); ++e) {
    const bool ok = within_bound(actual[e], expected[e], row_bound[e / dim]);
    if (!ok && violations++ < 5) {
      INFO("element " << e << " (row " << e / dim << "): fused " << actual[e] << " reference " << expected[e]
                      << " bound " << row_bound[e / dim]);
      CHECK(ok);
    }
  }
  return violations;
}

struct Expectations {
  BoundOptions bounds;
  std::size_t allowed_ambiguous_rows = 0;
};

// Checks a fused kernel's result against the reference's: invalid/empty rows, sink sets (up to
// legitimate threshold ties), outputs and lse within the bounds, and the calibration counts.
template <class Cal>
void check_result(const Problem& p, const Cal& calibration, const Result& fused, const Result& ref,
                  const Expectations& expect) {
  CHECK(fused.report.invalid_rows == ref.report.invalid_rows);
  CHECK(fused.report.empty_rows == ref.report.empty_rows);
  REQUIRE(fused.sinks.size() == ref.sinks.size());
  const double rounding = expect.bounds.input_rounding;
  for (std::size_t h = 0; h < ref.sinks.size(); ++h) {
    if (fused.sinks[h] == ref.sinks[h]) continue;
    // A tie at tau changes the sink set and hence the whole head; nothing else may differ.
    REQUIRE(sets_differ_only_at_ties(p, h, fused.sinks[h], ref.sinks[h], threshold_of(calibration.detector), rounding));
    WARN("head " << h << ": sink sets differ at a legitimate tie; outputs not compared");
    return;
  }
  const OutputBounds bounds = output_bounds(p, calibration.rescaler, ref.sinks, expect.bounds);
  CHECK(bounds.ambiguous_rows <= expect.allowed_ambiguous_rows);
  CHECK(compare_outputs(fused.out, ref.out, bounds.row, p.shape.dim) == 0);
  CHECK(fused.report.sinks_selected == ref.report.sinks_selected);
  if (bounds.ambiguous_rows == 0) {
    CHECK(fused.report.rows_calibrated == ref.report.rows_calibrated);
    CHECK(fused.report.degenerate_rows == ref.report.degenerate_rows);
  }
  const AttentionGeometry g = p.geometry();
  for (std::size_t h = 0; h < g.q_heads; ++h) {
    for (std::size_t i = 0; i < g.q_len; ++i) {
      CAPTURE(h, i);
      CHECK(lse_within_bound(p, h, i, fused.lse[h * g.q_len + i], ref.lse[h * g.q_len + i], expect.bounds.exact_scores,
                             rounding));
    }
  }
}

// Runs both kernels and checks the fused result (check_result). Returns the reference's report.
template <class Cal>
CalibrationReport check_against_reference(const Problem& p, const Cal& calibration, const RunOptions& run = {},
                                          const Expectations& expect = {}) {
  const Result ref = run_reference(p, calibration, run);
  check_result(p, calibration, run_fused(p, calibration, run), ref, expect);
  return ref.report;
}

// The IEEE half with the same value as `x`, for the values these tests use (exactly representable
// normal halves, zero and infinities).
inline std::uint16_t exact_half(float x) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(x);
  const auto sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000u);
  if (std::isinf(x)) return static_cast<std::uint16_t>(sign | 0x7C00u);
  if (x == 0.0f) return sign;
  const int exponent = static_cast<int>((bits >> 23) & 0xFFu) - 127;
  const auto half =
      static_cast<std::uint16_t>(sign | static_cast<std::uint32_t>(exponent + 15) << 10 | (bits & 0x7FFFFFu) >> 13);
  REQUIRE(f16_to_f32(half) == x);
  return half;
}

// `values` as a KV cache of `Element` (float, Half or BFloat16); every value must be exact in it.
template <class Element>
std::vector<Element> narrow(const std::vector<float>& values) {
  if constexpr (std::is_same_v<Element, float>) {
    return values;
  } else {
    std::vector<Element> out;
    out.reserve(values.size());
    for (float x : values) {
      if constexpr (std::is_same_v<Element, Half>)
        out.push_back(Half{exact_half(x)});
      else
        out.push_back(BFloat16{static_cast<std::uint16_t>(std::bit_cast<std::uint32_t>(x) >> 16)});
      REQUIRE(to_float(out.back()) == x);
    }
    return out;
  }
}

}  // namespace act::testing
