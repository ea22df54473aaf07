#pragma once
// Selects nothing: attention runs un-calibrated (kernels skip the statistics pass).
#include <act/policies/concepts.hpp>

namespace act {

struct NoSinks {
  static constexpr bool never_detects = true;
  void select(ColumnStatsView, SinkSet& out) const { out.clear(); }
};

}  // namespace act
