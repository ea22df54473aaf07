#pragma once
// Rotary position embedding in the layout of llama GGUF files: the converter permutes the Q and K
// projection rows so that each rotated pair is two adjacent elements (2i, 2i+1) of a head, the
// first `rope_dim` elements of the head rotate, and pair i turns by position * base^(-2i/rope_dim).
#include <cmath>
#include <cstddef>
#include <vector>

namespace act::model {

// cos and sin of every pair's angle for a run of consecutive positions, computed once per forward
// pass and shared by all layers. Angles are formed in double so large positions keep full float
// precision.
class RotaryAngles {
 public:
  RotaryAngles(std::size_t rope_dim, float base, std::size_t first_position, std::size_t count)
      : pairs_(rope_dim / 2), cos_(pairs_ * count), sin_(pairs_ * count) {
    for (std::size_t p = 0; p < count; ++p) {
      const auto position = static_cast<double>(first_position + p);
      for (std::size_t i = 0; i < pairs_; ++i) {
        const double angle = position * std::pow(static_cast<double>(base),
                                                 -2.0 * static_cast<double>(i) / static_cast<double>(rope_dim));
        cos_[p * pairs_ + i] = static_cast<float>(std::cos(angle));
        sin_[p * pairs_ + i] = static_cast<float>(std::sin(angle));
      }
    }
  }

  // Rotates every head of one token's row [heads * head_dim] in place; `p` indexes the run.
  void apply(float* row, std::size_t heads, std::size_t head_dim, std::size_t p) const noexcept {
    const float* c = cos_.data() + p * pairs_;
    const float* s = sin_.data() + p * pairs_;
    for (std::size_t h = 0; h < heads; ++h) {
      float* x = row + h * head_dim;
      for (std::size_t i = 0; i < pairs_; ++i) {
        const float a = x[2 * i], b = x[2 * i + 1];
        x[2 * i] = a * c[i] - b * s[i];
        x[2 * i + 1] = a * s[i] + b * c[i];
      }
    }
  }

 private:
  std::size_t pairs_;
  std::vector<float> cos_, sin_;
};

}  // namespace act::model
