#pragma once
// Treat the k columns with the highest mean received weight as sinks (ties: lower index first).
// The keep rule applies to the candidates: with first_candidate the top k+1 are ranked and the
// lowest-indexed of them is kept, so at most k columns are ever calibrated.
#include <act/policies/keep_sink.hpp>
#include <act/policies/policy_text.hpp>

#include <algorithm>
#include <numeric>

namespace act {

struct TopKColumns {
  static constexpr std::string_view name = "top-k";
  static constexpr std::string_view usage = "top-k:K[:first|token0|none]";

  std::size_t k = 1;
  KeepSink keep = KeepSink::token_zero;

  explicit TopKColumns(std::size_t count, KeepSink kept = KeepSink::token_zero) : k(count), keep(kept) {}

  void select(ColumnStatsView stats, SinkSet& out) const {
    out.clear();
    for (std::size_t j = (keep == KeepSink::token_zero ? 1 : 0); j < stats.size(); ++j) {
      if (stats.seen_by[j] != 0 && stats.mean(j) > 0.0f) out.push_back(static_cast<std::uint32_t>(j));
    }
    const std::size_t wanted = std::min(out.size(), k + (keep == KeepSink::first_candidate ? 1 : 0));
    std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(wanted), out.end(),
                      [&](std::uint32_t a, std::uint32_t b) {
                        const float ma = stats.mean(a), mb = stats.mean(b);
                        return ma > mb || (ma == mb && a < b);
                      });
    out.resize(wanted);
    std::sort(out.begin(), out.end());
    if (keep == KeepSink::first_candidate) detail::apply_keep(out, keep);
  }

  static TopKColumns from_arguments(const PolicyArguments& args) {
    args.expect_count(1, 2);
    return TopKColumns{args.whole(0, "K", 1), args.keep(1, KeepSink::token_zero)};
  }
  std::string text() const { return std::string(name) + ":" + std::to_string(k) + ":" + std::string(keep_text(keep)); }
};

}  // namespace act
