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

  explicit ColumnMeanThreshold(float threshold = 0.1f, KeepSink kept = KeepSink::first_candidate)
      : tau(threshold), keep(kept) {
    if (!std::isfinite(tau)) throw std::invalid_argument("act: ColumnMeanThreshold tau must be finite");
  }

  // A column no query saw is never a candidate; dividing by max(seen, 1) keeps the test branch-free
  // (it equals the mean where seen > 0), so the loops that call it vectorise.
  bool is_candidate(float received, std::uint32_t seen) const noexcept {
    return (seen != 0) & (received / static_cast<float>(std::max(seen, 1u)) > tau);
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
