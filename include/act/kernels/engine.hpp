#pragma once
// Entry points for engines that own the threads and cannot let a C++ exception cross their C
// callbacks (ggml custom ops, llama.cpp's thread pool):
//  * try_attention / try_correct: act::attention / act::correct as noexcept functions that report
//    bad input and failures as a Status instead of throwing;
//  * SlicedAttention: one call cut into phases, each phase into nth slices that the engine runs on
//    its own threads (slice ith on thread ith, or any thread; no OpenMP is involved). Plain
//    attention has one phase; ACT has the sweep, the sink choice and the correction, and every slice
//    of a phase must finish before a slice of the next starts (separate graph nodes, or the
//    engine's barrier). Results equal act::attention's up to the rounding of the column sums'
//    summation order.
#include <act/kernels/correct.hpp>
#include <act/kernels/fused_attention.hpp>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <new>
#include <stdexcept>
#include <type_traits>

namespace act {

enum class StatusCode : std::uint8_t {
  ok,
  invalid_argument,  // shapes, options or slice indices that do not fit (the message names them)
  out_of_memory,
  failed,  // anything else thrown by a policy or the library
};

struct Status {
  StatusCode code = StatusCode::ok;
  char message[256] = {};  // NUL-terminated; no allocation, so reporting cannot fail

  bool ok() const noexcept { return code == StatusCode::ok; }
};

namespace detail {

inline Status make_status(StatusCode code, const char* what) noexcept {
  Status status;
  status.code = code;
  std::size_t length = 0;
  for (; what != nullptr && what[length] != '\0' && length + 1 < sizeof status.message; ++length)
    status.message[length] = what[length];
  status.message[length] = '\0';
  return status;
}

// The Status of an exception (null: ok).
inline Status status_of(std::exception_ptr failure) noexcept {
  if (!failure) return {};
  try {
    std::rethrow_exception(failure);
  } catch (const std::invalid_argument& error) {
    return make_status(StatusCode::invalid_argument, error.what());
  } catch (const std::bad_alloc&) {
    return make_status(StatusCode::out_of_memory, "act: out of memory");
  } catch (const std::exception& error) {
    return make_status(StatusCode::failed, error.what());
  } catch (...) {
    return make_status(StatusCode::failed, "act: unknown exception");
  }
}

}  // namespace detail

// K and V of the noexcept entry points: KV is named, not deduced (try_attention<Cal, Half>(...)),
// so float views convert as they do for act::attention.
template <class KV>
using CacheView = std::type_identity_t<HeadsView<const KV>>;

// act::attention without exceptions; `report` (optional) receives the calibration report. KV:
// float, Half or BFloat16.
template <CalibrationPolicy Cal = NoCalibration, class KV = float>
Status try_attention(HeadsView<const float> q, CacheView<KV> k, CacheView<KV> v, HeadsView<float> out,
                     const AttentionOptions& options = {}, const Cal& calibration = {},
                     const AttentionExtras& extras = {}, CalibrationReport* report = nullptr) noexcept {
  try {
    const CalibrationReport result = attention(q, k, v, out, options, calibration, extras);
    if (report != nullptr) *report = result;
    return {};
  } catch (...) {
    return detail::status_of(std::current_exception());
  }
}

// act::correct without exceptions.
template <CalibrationPolicy Cal, class KV = float>
Status try_correct(HeadsView<const float> q, CacheView<KV> k, CacheView<KV> v, HeadsView<float> out,
                   std::span<const float> lse, const AttentionOptions& options, const Cal& calibration,
                   const AttentionExtras& extras = {}, CalibrationReport* report = nullptr) noexcept {
  try {
    const CalibrationReport result = correct(q, k, v, out, lse, options, calibration, extras);
    if (report != nullptr) *report = result;
    return {};
  } catch (...) {
    return detail::status_of(std::current_exception());
  }
}

// One act::attention call run by the engine's nth threads. The constructor validates like
// act::attention (std::invalid_argument) and allocates every slice's scratch; run() is noexcept.
// The views, extras' spans and the calibration must outlive the object; options.threads is ignored.
// A transposed V (ValueLayout::transposed) is copied to key rows by the constructor, on its thread.
// KV is the cache's element type: float, Half or BFloat16 (read in place, as act::attention does).
template <CalibrationPolicy Cal = NoCalibration, class KV = float>
class SlicedAttention {
 public:
  SlicedAttention(HeadsView<const float> q, CacheView<KV> k, CacheView<KV> v, HeadsView<float> out,
                  const AttentionOptions& options, const Cal& calibration, const AttentionExtras& extras,
                  std::size_t slices)
      : values_(q, k, v, options, 1, detail::CopyStorage::owned),
        in_{q, k, values_.view()},
        out_(out),
        g_(detail::resolve_fused(in_, out_, values_.options(), extras)),
        extras_(extras),
        calibration_(calibration),
        slices_(slices) {
    if (slices == 0) detail::shape_error("SlicedAttention needs at least one slice");
    runner_.prepare(slices, true);
  }
  SlicedAttention(const SlicedAttention&) = delete;  // the runner refers to the members
  SlicedAttention& operator=(const SlicedAttention&) = delete;

  std::size_t phases() const noexcept { return runner_.phases(); }
  std::size_t slices() const noexcept { return slices_; }

  // Runs slice `ith` of phase `phase`. Returns the first failure of the call so far (from this
  // slice or any other), so every thread learns of it; later slices of a failed call do nothing.
  Status run(std::size_t phase, std::size_t ith) noexcept {
    if (phase >= phases() || ith >= slices_)
      return detail::make_status(StatusCode::invalid_argument, "act: SlicedAttention phase or slice out of range");
    runner_.run_phase(phase, {ith, slices_});
    return detail::status_of(runner_.first_failure());
  }

  // After every slice of every phase: the first failure (ok if none) and the report.
  Status status() const noexcept { return detail::status_of(runner_.first_failure()); }
  CalibrationReport report() const { return runner_.report(); }

 private:
  static_assert(std::is_same_v<KV, float> || std::is_same_v<KV, Half> || std::is_same_v<KV, BFloat16>,
                "SlicedAttention reads float, Half or BFloat16 caches");
  detail::ValueRows<KV> values_;  // a transposed V, copied to key rows by the constructor
  detail::Operands<KV> in_;
  HeadsView<float> out_;
  AttentionGeometry g_;
  AttentionExtras extras_;
  Cal calibration_;
  std::size_t slices_;
  detail::AttendSweep<KV> sweep_{in_, out_, g_};
  detail::WaveRunner<Cal, detail::AttendSweep<KV>, KV> runner_{in_, out_, g_, extras_, calibration_, {}, true, sweep_};
};

}  // namespace act
