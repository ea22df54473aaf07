#pragma once
// Decode-time ACT state of one layer: the running column statistics of every query head.
//
// Pass span() as AttentionExtras::running_stats to the prefill call and to every decode step.
// Each call adds its rows' weights to the totals and chooses sinks from the totals, so the row
// decoded at position T is calibrated with the statistics of rows 0..T: it equals row T of a
// prefill over T + 1 tokens. Earlier rows are never revisited.
#include <act/core/column_stats.hpp>

#include <cstddef>
#include <span>
#include <vector>

namespace act {

class SinkState {
 public:
  explicit SinkState(std::size_t query_heads = 0) : heads_(query_heads) {}

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
