#pragma once
// Small float32 vector routines the model's layers share, vectorised with xsimd (whole batches,
// then a scalar tail, so any length works).
#include <act/kernels/lane_ops.hpp>  // xsimd, included the way the kernels do

#include <cstddef>

namespace act::model {

namespace detail {
using FloatBatch = simd::Floats;
inline constexpr std::size_t batch_size = FloatBatch::size;
}  // namespace detail

inline float dot(const float* a, const float* b, std::size_t n) noexcept {
  using detail::FloatBatch;
  FloatBatch acc0(0.0f), acc1(0.0f);  // two chains hide the FMA latency
  std::size_t i = 0;
  for (; i + 2 * detail::batch_size <= n; i += 2 * detail::batch_size) {
    acc0 = simd::fma(FloatBatch::load_unaligned(a + i), FloatBatch::load_unaligned(b + i), acc0);
    acc1 = simd::fma(FloatBatch::load_unaligned(a + i + detail::batch_size),
                     FloatBatch::load_unaligned(b + i + detail::batch_size), acc1);
  }
  for (; i + detail::batch_size <= n; i += detail::batch_size)
    acc0 = simd::fma(FloatBatch::load_unaligned(a + i), FloatBatch::load_unaligned(b + i), acc0);
  float total = xsimd::hadd(acc0 + acc1);
  for (; i < n; ++i) total += a[i] * b[i];
  return total;
}

// y += x
inline void add_to(float* y, const float* x, std::size_t n) noexcept {
  using detail::FloatBatch;
  std::size_t i = 0;
  for (; i + detail::batch_size <= n; i += detail::batch_size)
    (FloatBatch::load_unaligned(y + i) + FloatBatch::load_unaligned(x + i)).store_unaligned(y + i);
  for (; i < n; ++i) y[i] += x[i];
}

}  // namespace act::model
