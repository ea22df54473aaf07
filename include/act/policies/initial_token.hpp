#pragma once
// Initial-token scaling as a detector: column 0 is the one "sink" of every row, whatever its mean.
// Paired with ScaleOnly(factor) it scales the attention to token 0 by `factor` and renormalises the
// rest of the row (the form later training-free attention-tuning work uses, per selected head);
// paired with Redistribute(beta) it is the paper's rescale restricted to the initial token.
#include <act/policies/concepts.hpp>
#include <act/policies/policy_text.hpp>

namespace act {

struct InitialToken {
  static constexpr std::string_view name = "initial-token";
  static constexpr std::string_view usage = "initial-token";

  void select(ColumnStatsView stats, SinkSet& out) const {
    out.clear();
    if (stats.size() > 0 && stats.seen_by[0] != 0) out.push_back(0);
  }

  static InitialToken from_arguments(const PolicyArguments& args) {
    args.expect_count(0, 0);
    return {};
  }
  std::string text() const { return std::string(name); }
};

}  // namespace act
