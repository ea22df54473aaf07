#pragma once
// Post-hoc ACT: calibrate the output of ANY attention implementation that also reports each row's
// log-sum-exp (flash-style kernels do). The column statistics come from one sweep over Q K^T with
// weights exp(q.k * scale - lse) (no map is stored), then sinks are chosen and the output is
// corrected in place with the same two-gain code as act::attention. K and V may be float32, IEEE
// half or bfloat16, as in act::attention.
#include <act/kernels/fused_attention.hpp>

#include <span>

namespace act {

namespace detail {

template <class KV, CalibrationPolicy Cal>
CalibrationReport run_correct(const Operands<KV>& given, HeadsView<float> out, std::span<const float> lse,
                              const AttentionOptions& options, const Cal& calibration, const AttentionExtras& extras) {
  const ValueRows<KV> values(given.q, given.k, given.v, options, thread_count(options), CopyStorage::thread_buffer);
  const Operands<KV> in{given.q, given.k, values.view()};
  const AttentionGeometry g = resolve_fused(in, out, values.options(), extras);
  check_lse(lse, g);
  if (!extras.lse.empty()) shape_error("correct() takes lse as an input; leave extras.lse empty");
  const auto sweep = [&](std::size_t head, const QueryBlock& block, ThreadScratch& scratch, const HeadRows& rows) {
    statistics_block(in, g, head, block, scratch, rows);
  };
  WaveRunner runner(in, out, g, extras, calibration, lse, false, sweep);
  return runner.run(thread_count(options));
}

}  // namespace detail

// `out` holds the un-calibrated attention output O and is corrected in place; `lse` is
// [q_heads * q_len], the log-sum-exp of each row's scaled scores (NaN or +inf: the row is invalid;
// -inf: it saw nothing). Only calibrated heads are read; their invalid and empty rows are counted
// and left as they are. `extras.lse` must be empty (the lse is an input here); the other extras
// work as in act::attention.
template <CalibrationPolicy Cal>
CalibrationReport correct(HeadsView<const float> q, HeadsView<const float> k, HeadsView<const float> v,
                          HeadsView<float> out, std::span<const float> lse, const AttentionOptions& options,
                          const Cal& calibration, const AttentionExtras& extras = {}) {
  return detail::run_correct(detail::Operands<float>{q, k, v}, out, lse, options, calibration, extras);
}

// The same over an IEEE-half KV cache, read in place and widened in registers (exactly the result
// of float32 K and V holding the same values).
template <CalibrationPolicy Cal>
CalibrationReport correct(HeadsView<const float> q, HeadsView<const Half> k, HeadsView<const Half> v,
                          HeadsView<float> out, std::span<const float> lse, const AttentionOptions& options,
                          const Cal& calibration, const AttentionExtras& extras = {}) {
  return detail::run_correct(detail::Operands<Half>{q, k, v}, out, lse, options, calibration, extras);
}

// The same over a bfloat16 KV cache.
template <CalibrationPolicy Cal>
CalibrationReport correct(HeadsView<const float> q, HeadsView<const BFloat16> k, HeadsView<const BFloat16> v,
                          HeadsView<float> out, std::span<const float> lse, const AttentionOptions& options,
                          const Cal& calibration, const AttentionExtras& extras = {}) {
  return detail::run_correct(detail::Operands<BFloat16>{q, k, v}, out, lse, options, calibration, extras);
}

}  // namespace act
