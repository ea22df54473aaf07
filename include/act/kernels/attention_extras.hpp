#pragma once
// Optional inputs and outputs shared by the calibrating kernels.
#include <act/core/column_stats.hpp>
#include <act/core/error.hpp>
#include <act/core/heads_view.hpp>
#include <act/policies/concepts.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace act {

struct AttentionExtras {
  // [q_heads * q_len] row log-sum-exp of the scaled scores (output). Empty: not written.
  std::span<float> lse = {};
  // Per query head: non-zero = calibrate this head. Empty: every head.
  std::span<const std::uint8_t> calibrated_heads = {};
  // Per query head (decode): this call's column statistics are added to these running totals and
  // sinks are chosen from the totals. Empty: statistics of this call only (prefill semantics).
  std::span<ColumnStats> running_stats = {};
  // Output: the sink set of every query head (empty for heads not calibrated).
  std::vector<SinkSet>* sinks = nullptr;
};

namespace detail {

inline bool head_is_calibrated(const AttentionExtras& extras, std::size_t head) noexcept {
  return extras.calibrated_heads.empty() || extras.calibrated_heads[head] != 0;
}

inline void check_extras(const AttentionExtras& extras, std::size_t q_heads, std::size_t q_len) {
  if (!extras.lse.empty() && extras.lse.size() != q_heads * q_len)
    shape_error("lse has " + std::to_string(extras.lse.size()) +
                " entries, expected heads*queries = " + std::to_string(q_heads * q_len));
  if (!extras.calibrated_heads.empty() && extras.calibrated_heads.size() != q_heads)
    shape_error("calibrated_heads has " + std::to_string(extras.calibrated_heads.size()) + " entries for " +
                std::to_string(q_heads) + " query heads");
  if (!extras.running_stats.empty() && extras.running_stats.size() != q_heads)
    shape_error("running_stats has " + std::to_string(extras.running_stats.size()) + " entries for " +
                std::to_string(q_heads) + " query heads");
}

}  // namespace detail
}  // namespace act
