#pragma once
// Picks the next token from logits: greedy (temperature 0) or sampled from the softmax at a
// temperature, optionally restricted to the smallest set of most likely tokens whose probability
// reaches top_p (nucleus sampling). Seeded and reproducible. Logits must be finite: a NaN or
// infinity means the model itself went wrong (corrupt weights, overflow), and no token drawn from
// it would mean anything, so sample() refuses them with an error naming the first such token.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
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

  // Throws std::invalid_argument for no logits, more than int32 can index, or a non-finite logit.
  std::int32_t sample(std::span<const float> logits) {
    check_logits(logits);
    if (options_.temperature == 0.0f) return argmax(logits);
    // Most likely first, ties by token id (a strict weak order on finite values, and a sort result
    // that does not depend on the standard library); probabilities of the softmax at the temperature.
    std::vector<std::int32_t> order(logits.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](std::int32_t a, std::int32_t b) {
      return logits[static_cast<std::size_t>(a)] > logits[static_cast<std::size_t>(b)] ||
             (logits[static_cast<std::size_t>(a)] == logits[static_cast<std::size_t>(b)] && a < b);
    });
    std::vector<double> weights(order.size());
    const double top = logits[order[0]];
    double total = 0.0;
    for (std::size_t i = 0; i < order.size(); ++i)
      total += weights[i] = std::exp((logits[order[i]] - top) / options_.temperature);
    // Nucleus: keep the shortest prefix whose mass reaches top_p. The first weight is exp(0) = 1 and
    // top_p * total > 0, so at least one token is kept.
    std::size_t kept = 0;
    double mass = 0.0;
    do {
      mass += weights[kept++];
    } while (kept < order.size() && mass < options_.top_p * total);
    const double target = uniform() * mass;
    double running = 0.0;
    for (std::size_t i = 0; i < kept; ++i)
      if ((running += weights[i]) > target) return order[i];
    return order[kept - 1];
  }

  // The first largest logit. With NaN among them the result is unspecified: sample() checks first.
  static std::int32_t argmax(std::span<const float> logits) {
    return static_cast<std::int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }

  static void check_logits(std::span<const float> logits) {
    if (logits.empty()) throw std::invalid_argument("sample: no logits");
    if (logits.size() > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()))
      throw std::invalid_argument("sample: more logits than token ids");
    const auto bad = std::find_if(logits.begin(), logits.end(), [](float x) { return !std::isfinite(x); });
    if (bad != logits.end())
      throw std::invalid_argument("sample: the logit of token " + std::to_string(bad - logits.begin()) + " is " +
                                  std::to_string(*bad) + ": the model produced a non-finite value (corrupt weights?)");
  }

 private:
  // Uniform in [0, 1) from 53 random bits: the same on every standard library.
  double uniform() { return static_cast<double>(rng_() >> 11) * 0x1p-53; }

  SamplerOptions options_;
  std::mt19937_64 rng_;
};

}  // namespace act::model
