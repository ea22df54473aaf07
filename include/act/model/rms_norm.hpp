#pragma once
// RMSNorm: y = x / sqrt(mean(x^2) + eps) * weight, one row at a time (float32 throughout, as the
// reference implementations compute it).
#include <act/model/vector_ops.hpp>

#include <cmath>
#include <cstddef>

namespace act::model {

inline void rms_norm_row(const float* x, const float* weight, float* y, std::size_t n, float epsilon) noexcept {
  const float inverse_rms = 1.0f / std::sqrt(dot(x, x, n) / static_cast<float>(n) + epsilon);
  for (std::size_t i = 0; i < n; ++i) y[i] = x[i] * inverse_rms * weight[i];
}

// `rows` rows of length n, contiguous.
inline void rms_norm(const float* x, const float* weight, float* y, std::size_t rows, std::size_t n,
                     float epsilon) noexcept {
  for (std::size_t r = 0; r < rows; ++r) rms_norm_row(x + r * n, weight, y + r * n, n, epsilon);
}

}  // namespace act::model
