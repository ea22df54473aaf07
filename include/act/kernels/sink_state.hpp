#pragma once
// Decode-time ACT state of one layer: the running column statistics of every query head.
//
// Pass span() as AttentionExtras::running_stats to the prefill call and to every decode step.
// Each call adds its rows' weights to the totals and chooses sinks from the totals, so the row
// decoded at position T is calibrated with the statistics of rows 0..T: it equals row T of a
// prefill over T + 1 tokens. Earlier rows are never revisited.
#include <act/core/column_stats.hpp>
#include <act/core/error.hpp>

#include <cstddef>
#include <span>
#include <vector>

namespace act {

class SinkState {
 public:
  // No default and no zero: an empty state would pass an empty running_stats span, which the
  // kernels read as prefill semantics, so a step would silently ignore the history.
  explicit SinkState(std::size_t query_heads) : heads_(query_heads) {
    if (query_heads == 0) detail::shape_error("SinkState needs the layer's query head count (got 0)");
  }

  std::size_t heads() const noexcept { return heads_.size(); }
  // Forget every column (a new sequence starts); the head count stays.
  void reset() noexcept {
    for (ColumnStats& head : heads_) head.clear();
  }
  std::span<ColumnStats> span() noexcept { return heads_; }
  const ColumnStats& head(std::size_t index) const { return heads_.at(index); }

 private:
  std::vector<ColumnStats> heads_;
};

}  // namespace act
