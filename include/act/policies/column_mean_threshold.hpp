#pragma once
// The paper's detector: a column is a candidate sink when the mean weight it receives from the
// queries that see it is strictly above tau.
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

  // Decode runs this over the whole cache at every step, so the test is written as a branch-free
  // loop over blocks of columns that compilers vectorise (dividing by max(seen, 1) equals the mean
  // where seen > 0 and never divides by zero), then the candidates of the few blocks that have any
  // are collected (scanning every block's flags one by one cost more than the test itself).
  void select(ColumnStatsView stats, SinkSet& out) const {
    out.clear();
    constexpr std::size_t block = 64;
    bool above[block];
    for (std::size_t first = 0; first < stats.size(); first += block) {
      const std::size_t count = std::min(block, stats.size() - first);
      unsigned any = 0;
      for (std::size_t j = 0; j < count; ++j) {
        const std::uint32_t seen = stats.seen_by[first + j];
        const float mean = stats.received[first + j] / static_cast<float>(std::max(seen, 1u));
        above[j] = (seen != 0) & (mean > tau);
        any |= above[j];
      }
      if (any == 0) continue;
      for (std::size_t j = 0; j < count; ++j)
        if (above[j]) out.push_back(static_cast<std::uint32_t>(first + j));
    }
    detail::apply_keep(out, keep);
  }

  // tau in [0, 1]: a column mean is a weight.
  static ColumnMeanThreshold from_arguments(const PolicyArguments& args) {
    args.expect_count(1, 2);
    return ColumnMeanThreshold{args.real(0, "TAU", 0.0, 1.0), args.keep(1, KeepSink::first_candidate)};
  }
  std::string text() const { return std::string(name) + ":" + float_text(tau) + ":" + std::string(keep_text(keep)); }
};

}  // namespace act
