#pragma once
// Which candidate sink stays un-calibrated. The first sink is normally token 0, the classic
// initial sink the model relies on; ACT only rescales the others.
#include <act/policies/concepts.hpp>

#include <algorithm>

namespace act {

enum class KeepSink {
  first_candidate,  // the reference code: drop the first candidate, whatever its position
  token_zero,       // never treat column 0 as a sink; keep every other candidate
  none,             // calibrate every candidate
};

namespace detail {
// `candidates` is sorted by column; removes the kept one in place.
inline void apply_keep(SinkSet& candidates, KeepSink keep) {
  if (candidates.empty()) return;
  if (keep == KeepSink::first_candidate) {
    candidates.erase(candidates.begin());
  } else if (keep == KeepSink::token_zero && candidates.front() == 0) {
    candidates.erase(candidates.begin());
  }
}
}  // namespace detail

}  // namespace act
