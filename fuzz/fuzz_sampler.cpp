// Sampler bytes -> Sampler::sample. The input is temperature (float), top_p (float), seed (u64),
// then the logits (floats), all native byte order. Bad options must end in std::invalid_argument
// from the constructor; non-finite logits in std::invalid_argument from sample(). Otherwise the
// token must be a valid index, the argmax when greedy, never a token of probability 0, and the
// same for the same seed.
#include <act/model/sampler.hpp>

#include "fuzz_check.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <stdexcept>
#include <vector>

namespace {

template <class T>
T take(const std::uint8_t*& data, std::size_t& size) {
  T value{};
  const std::size_t n = std::min(size, sizeof(T));
  std::memcpy(&value, data, n);
  data += n;
  size -= n;
  return value;
}

std::optional<act::model::Sampler> make_sampler(const act::model::SamplerOptions& options) {
  try {
    return act::model::Sampler(options);
  } catch (const std::invalid_argument&) {
    FUZZ_CHECK(!(std::isfinite(options.temperature) && options.temperature >= 0.0f) ||
               !(options.top_p > 0.0f && options.top_p <= 1.0f));
    return std::nullopt;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  act::model::SamplerOptions options;
  options.temperature = take<float>(data, size);
  options.top_p = take<float>(data, size);
  options.seed = take<std::uint64_t>(data, size);
  std::vector<float> logits(size / sizeof(float));
  if (!logits.empty()) std::memcpy(logits.data(), data, logits.size() * sizeof(float));
  auto sampler = make_sampler(options), twin = make_sampler(options);
  if (!sampler) return 0;
  const bool finite = std::all_of(logits.begin(), logits.end(), [](float x) { return std::isfinite(x); });
  std::int32_t token = -1;
  try {
    token = sampler->sample(logits);
  } catch (const std::invalid_argument&) {
    FUZZ_CHECK(logits.empty() || !finite);
    return 0;
  }
  FUZZ_CHECK(finite && token >= 0 && static_cast<std::size_t>(token) < logits.size());
  FUZZ_CHECK(twin->sample(logits) == token);
  const float best = *std::max_element(logits.begin(), logits.end());
  const float chosen = logits[static_cast<std::size_t>(token)];
  if (options.temperature == 0.0f) {
    FUZZ_CHECK(chosen == best);
  } else {  // a token of probability 0 (at this temperature, in double) is never drawn
    FUZZ_CHECK(std::exp((static_cast<double>(chosen) - static_cast<double>(best)) / options.temperature) > 0.0);
  }
  return 0;
}
