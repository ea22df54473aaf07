#pragma once
// Picks the next token from logits: greedy (temperature 0) or sampled from the softmax at a
// temperature, optionally restricted to the smallest set of most likely tokens whose probability
// reaches top_p (nucleus sampling). Seeded and reproducible.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace act::model {

struct SamplerOptions {
  float temperature = 0.0f;  // 0: greedy
  float top_p = 1.0f;        // in (0, 1]; 1 keeps every token
  std::uint64_t seed = 0;
};

class Sampler {
 public:
  // Throws std::invalid_argument for a negative or non-finite temperature or top_p outside (0, 1].
  explicit Sampler(SamplerOptions options) : options_(options), rng_(options.seed) {
    if (!(std::isfinite(options.temperature) && options.temperature >= 0.0f))
      throw std::invalid_argument("temperature must be a finite number >= 0 (got " +
                                  std::to_string(options.temperature) + ")");
    if (!(options.top_p > 0.0f && options.top_p <= 1.0f))
      throw std::invalid_argument("top-p must be in (0, 1] (got " + std::to_string(options.top_p) + ")");
  }

  std::int32_t sample(std::span<const float> logits) {
    if (logits.empty()) throw std::invalid_argument("sample: no logits");
    if (options_.temperature == 0.0f) return argmax(logits);
    // Most likely first; probabilities of the softmax at the temperature.
    std::vector<std::int32_t> order(logits.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](std::int32_t a, std::int32_t b) { return logits[a] > logits[b]; });
    std::vector<double> weights(order.size());
    const double top = logits[order[0]];
    double total = 0.0;
    for (std::size_t i = 0; i < order.size(); ++i)
      total += weights[i] = std::exp((logits[order[i]] - top) / options_.temperature);
    // Nucleus: keep the shortest prefix whose mass reaches top_p.
    std::size_t kept = 0;
    double mass = 0.0;
    while (kept < order.size() && mass < options_.top_p * total) mass += weights[kept++];
    const double target = uniform() * mass;
    double running = 0.0;
    for (std::size_t i = 0; i < kept; ++i)
      if ((running += weights[i]) > target) return order[i];
    return order[kept - 1];
  }

  static std::int32_t argmax(std::span<const float> logits) {
    return static_cast<std::int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }

 private:
  // Uniform in [0, 1) from 53 random bits: the same on every standard library.
  double uniform() { return static_cast<double>(rng_() >> 11) * 0x1p-53; }

  SamplerOptions options_;
  std::mt19937_64 rng_;
};

}  // namespace act::model
