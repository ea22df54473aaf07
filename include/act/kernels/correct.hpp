#pragma once
// Post-hoc ACT: calibrate the output of ANY attention implementation that also reports each row's
// log-sum-exp (flash-style kernels do). The column statistics come from one sweep over Q K^T with
// weights exp(q.k * scale - lse) (no map is stored), then sinks are chosen and the output is
// corrected in place with the same two-gain code as act::attention.
#include <act/kernels/fused_attention.hpp>

#include <span>

namespace act {

// `out` holds the un-calibrated attention output O and is corrected in place; `lse` is
// [q_heads * q_len], the log-sum-exp of each row's scaled scores (NaN or +inf: the row is invalid;
// -inf: it saw nothing). Only calibrated heads are read; their invalid and empty rows are counted
// and left as they are. `extras.lse` must be empty (the lse is an input here); the other extras
// work as in act::attention.
template <CalibrationPolicy Cal>
CalibrationReport correct(HeadsView<const float> q, HeadsView<const float> k, HeadsView<const float> v,
                          HeadsView<float> out, std::span<const float> lse, const AttentionOptions& options,
                          const Cal& calibration, const AttentionExtras& extras = {}) {
  const detail::Operands<float> in{q, k, v};
  const AttentionGeometry g = detail::resolve_fused(in, out, options, extras);
  detail::check_lse(lse, g);
  if (!extras.lse.empty()) detail::shape_error("correct() takes lse as an input; leave extras.lse empty");
  const auto sweep = [&](std::size_t head, const detail::QueryBlock& block, detail::ThreadScratch& scratch,
                         const detail::HeadRows& rows) { detail::statistics_block(in, g, head, block, scratch, rows); };
  detail::WaveRunner runner(in, out, g, extras, calibration, lse, false, sweep);
  return runner.run(detail::thread_count(options));
}

}  // namespace act
