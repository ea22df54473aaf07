#pragma once
// The paper's detector: a column is a candidate sink when the mean weight it receives from the
// queries that see it is strictly above tau.
#include <act/policies/columnwise.hpp>
#include <act/policies/keep_sink.hpp>
#include <act/policies/policy_text.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace act {

struct ColumnMeanThreshold {
  static constexpr std::string_view name = "column-mean";
  static constexpr std::string_view usage = "column-mean:TAU[:first|token0|none]";

  float tau = 0.1f;
  KeepSink keep = KeepSink::first_candidate;

  // Any finite tau: below 0 every column some query saw is a candidate, from 1 up none is (tests
  // and experiments use both); files and policy text, which users write, take [0, 1] only.
  explicit ColumnMeanThreshold(float threshold = 0.1f, KeepSink kept = KeepSink::first_candidate)
      : tau(threshold), keep(kept) {
    if (!std::isfinite(tau)) throw std::invalid_argument("act: ColumnMeanThreshold tau must be finite");
  }

  // A column no query saw is never a candidate; dividing by max(seen, 1) keeps the test branch-free
  // (it equals the mean where seen > 0). Real is float for one column or a SIMD batch of floats for
  // a vector of them (decode tests whole vectors; `max` is then the batch's, found by ADL).
  template <class Real>
  auto is_candidate(Real received, Real seen) const noexcept {
    using std::max;
    return (seen != Real(0.0f)) && (received / max(seen, Real(1.0f)) > Real(tau));
  }
  void finish(SinkSet& candidates) const { detail::apply_keep(candidates, keep); }
  void select(ColumnStatsView stats, SinkSet& out) const { select_columnwise(*this, stats, out); }

  // tau in [0, 1]: a column mean is a weight.
  static ColumnMeanThreshold from_arguments(const PolicyArguments& args) {
    args.expect_count(1, 2);
    return ColumnMeanThreshold{args.real(0, "TAU", 0.0, 1.0), args.keep(1, KeepSink::first_candidate)};
  }
  std::string text() const { return std::string(name) + ":" + float_text(tau) + ":" + std::string(keep_text(keep)); }
};

}  // namespace act
