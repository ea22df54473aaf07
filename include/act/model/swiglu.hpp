#pragma once
// The llama feed-forward gate: gate <- silu(gate) * up, element-wise, silu(x) = x / (1 + e^-x).
#include <act/model/vector_ops.hpp>

#include <cmath>
#include <cstddef>

namespace act::model {

inline void swiglu(float* gate, const float* up, std::size_t n) noexcept {
  using Batch = detail::FloatBatch;
  std::size_t i = 0;
  for (; i + Batch::size <= n; i += Batch::size) {
    const Batch g = Batch::load_unaligned(gate + i);
    (g / (Batch(1.0f) + xsimd::exp(-g)) * Batch::load_unaligned(up + i)).store_unaligned(gate + i);
  }
  for (; i < n; ++i) gate[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

}  // namespace act::model
