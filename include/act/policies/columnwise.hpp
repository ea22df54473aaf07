#pragma once
// Detectors whose choice is a test of each column's own statistics, then a fix-up of the sorted
// candidates (the paper's: mean above tau, then the kept sink removed). Decode uses the knowledge:
// it tests each column in the pass that adds the row's weights to the column's statistics, instead
// of reading the statistics of the whole cache again afterwards (kernels/decode_attention.hpp).
// Such a detector's select() is select_columnwise(), so both ways choose the same sinks.
// is_candidate(received, seen) takes the column's count as a float (the count converted once, as a
// mean needs it). A detector whose is_candidate also accepts SIMD batches of floats (a template, as
// ColumnMeanThreshold's) is tested a whole vector of columns at a time in decode.
#include <act/policies/concepts.hpp>

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>

namespace act {

template <class P>
concept ColumnwiseDetector = SinkDetector<P> && requires(const P& p, float received, float seen, SinkSet& candidates) {
  { p.is_candidate(received, seen) } -> std::same_as<bool>;
  { p.finish(candidates) } -> std::same_as<void>;
};

namespace detail {

// Columns are tested in blocks of this many into a flag array, a branch-free loop that compilers
// vectorise; only the blocks with a candidate are then scanned flag by flag (scanning every block
// one by one cost more than the test itself in decode, which runs it over the whole cache).
inline constexpr std::size_t candidate_block = 64;

// Appends first + j for each set flag of one block.
inline void append_flagged(const bool* flags, std::size_t count, std::size_t first, SinkSet& out) {
  for (std::size_t j = 0; j < count; ++j)
    if (flags[j]) out.push_back(static_cast<std::uint32_t>(first + j));
}

// Appends, in order, each column j of [first, end) for which test(j) is true. test may also update
// the column first (decode adds the row's weight there), so every column is visited exactly once.
// Always inlined: called out of line, GCC 12 reloaded the captured values at every block, and the
// decode pass cost 4.6-4.8% of a kv 8192 step instead of 3.8-3.9% (perf).
template <class ColumnTest>
[[gnu::always_inline]] inline void append_tested(std::size_t first, std::size_t end, SinkSet& out, ColumnTest test) {
  bool flags[candidate_block];
  for (; first < end; first += candidate_block) {
    const std::size_t count = std::min(candidate_block, end - first);
    unsigned any = 0;
    for (std::size_t j = 0; j < count; ++j) {
      flags[j] = test(first + j);
      any |= flags[j];
    }
    if (any != 0) append_flagged(flags, count, first, out);
  }
}

// Appends the candidates among columns [first, end), in order.
template <ColumnwiseDetector D>
void append_candidates(const D& detector, ColumnStatsView stats, std::size_t first, std::size_t end, SinkSet& out) {
  stats.seen_by.visit([&](auto seen) {
    append_tested(first, end, out,
                  [&](std::size_t j) { return detector.is_candidate(stats.received[j], static_cast<float>(seen(j))); });
  });
}

}  // namespace detail

// The sinks of a columnwise detector: every column tested, then the detector's fix-up.
template <ColumnwiseDetector D>
void select_columnwise(const D& detector, ColumnStatsView stats, SinkSet& out) {
  out.clear();
  detail::append_candidates(detector, stats, 0, stats.size(), out);
  detector.finish(out);
}

}  // namespace act
