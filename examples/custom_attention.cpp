// Post-hoc ACT on top of your own attention routine.
//
// An engine that already has an attention kernel keeps it: it only needs the kernel to also
// report each row's log-sum-exp, then act::correct() applies the calibration to the output in
// place. Here the "engine kernel" is a deliberately naive two-pass softmax written below; the
// result is compared with act::attention run with the same calibration.
// Exit code: 0 when both agree to float32 rounding.
#include <act/kernels/correct.hpp>
#include <act/kernels/fused_attention.hpp>
#include <act/policies/calibration.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <vector>

namespace {

constexpr std::size_t heads = 4, kv_heads = 2, tokens = 96, head_dim = 32;

// The user's own kernel: causal attention over token-major [tokens][heads][head_dim] buffers,
// computing each row's maximum, then the exponentials and their sum, then the weighted values.
// Besides the output it writes lse[head * tokens + i], which is all act::correct needs.
void my_attention(const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v,
                  std::vector<float>& out, std::vector<float>& lse) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  std::vector<float> weights(tokens);
  for (std::size_t h = 0; h < heads; ++h) {
    const std::size_t kv = h / (heads / kv_heads);
    for (std::size_t i = 0; i < tokens; ++i) {
      const float* qi = &q[(i * heads + h) * head_dim];
      float top = -std::numeric_limits<float>::infinity();
      for (std::size_t j = 0; j <= i; ++j) {
        const float* kj = &k[(j * kv_heads + kv) * head_dim];
        float dot = 0.0f;
        for (std::size_t c = 0; c < head_dim; ++c) dot += qi[c] * kj[c];
        weights[j] = dot * scale;
        top = std::max(top, weights[j]);
      }
      float sum = 0.0f;
      for (std::size_t j = 0; j <= i; ++j) sum += weights[j] = std::exp(weights[j] - top);
      float* oi = &out[(i * heads + h) * head_dim];
      std::fill(oi, oi + head_dim, 0.0f);
      for (std::size_t j = 0; j <= i; ++j)
        for (std::size_t c = 0; c < head_dim; ++c) oi[c] += weights[j] / sum * v[(j * kv_heads + kv) * head_dim + c];
      lse[h * tokens + i] = top + std::log(sum);
    }
  }
}

// Random activations with two planted sinks: keys 0 and 17 point along a direction every query
// leans towards, so they draw a large share of attention, as delimiters do in real models.
void make_inputs(std::vector<float>& q, std::vector<float>& k, std::vector<float>& v) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (auto* buffer : {&q, &k, &v})
    for (float& x : *buffer) x = normal(rng);
  for (std::size_t i = 0; i < tokens; ++i)
    for (std::size_t h = 0; h < heads; ++h) q[(i * heads + h) * head_dim] += 3.0f;
  for (const std::size_t sink : {std::size_t{0}, std::size_t{17}})
    for (std::size_t h = 0; h < kv_heads; ++h) k[(sink * kv_heads + h) * head_dim] = 6.0f;
}

}  // namespace

int main() {
  std::vector<float> q(tokens * heads * head_dim), k(tokens * kv_heads * head_dim), v(k.size());
  make_inputs(q, k, v);
  const auto view = [](std::vector<float>& data, std::size_t h) {
    return act::token_major(data.data(), h, tokens, head_dim);
  };
  const act::HeadsView<const float> qv = view(q, heads), kv = view(k, kv_heads), vv = view(v, kv_heads);
  const auto calibration = act::paper_calibration(0.4f, 0.1f);

  // 1. Your kernel, then the post-hoc correction in place.
  std::vector<float> mine(q.size()), lse(heads * tokens);
  my_attention(q, k, v, mine, lse);
  const act::CalibrationReport report = act::correct(qv, kv, vv, view(mine, heads), lse, {}, calibration);

  // 2. The library's fused kernel with the same calibration.
  std::vector<float> fused(q.size());
  act::attention(qv, kv, vv, view(fused, heads), {}, calibration);

  double worst = 0.0;
  for (std::size_t i = 0; i < mine.size(); ++i)
    worst = std::max(worst, static_cast<double>(std::abs(mine[i] - fused[i])));
  std::printf("calibrated %zu rows, %zu sinks selected over %zu heads\n", report.rows_calibrated, report.sinks_selected,
              heads);
  std::printf("max |my_attention + act::correct - act::attention| = %.3g\n", worst);
  // Both are float32 with different summation orders on outputs of magnitude ~1.
  return report.sinks_selected > 0 && worst < 1e-4 ? 0 : 1;
}
