#pragma once
// Per-column attention statistics of one head: total (un-calibrated) weight each key received and
// how many queries could see it. Sink detectors work from these alone, so one detector serves
// prefill (statistics of the whole map) and decode (running statistics over the KV cache).
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace act {

struct ColumnStatsView {
  std::span<const float> received;
  std::span<const std::uint32_t> seen_by;

  std::size_t size() const noexcept { return received.size(); }
  // Mean weight over the queries that saw column j; a column no query saw has mean 0.
  float mean(std::size_t j) const noexcept {
    return seen_by[j] == 0 ? 0.0f : received[j] / static_cast<float>(seen_by[j]);
  }
};

struct ColumnStats {
  std::vector<float> received;
  std::vector<std::uint32_t> seen_by;

  std::size_t size() const noexcept { return received.size(); }
  // Grows to `columns` keys (new keys start unseen); never shrinks, so a KV cache can keep appending.
  void extend_to(std::size_t columns) {
    if (columns > received.size()) {
      received.resize(columns, 0.0f);
      seen_by.resize(columns, 0u);
    }
  }
  void clear() noexcept {
    received.clear();
    seen_by.clear();
  }
  ColumnStatsView view() const noexcept { return {received, seen_by}; }
};

}  // namespace act
