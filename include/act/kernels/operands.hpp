#pragma once
// What every fused kernel (block and decode) reads, how it classifies a query row and how it
// corrects one output value.
#include <act/core/heads_view.hpp>

#include <cmath>
#include <cstdint>
#include <limits>

namespace act::detail {

// Q in float32; K and V in the cache's element type (float, Half or BFloat16), read in place.
template <class KV>
struct Operands {
  HeadsView<const float> q;
  HeadsView<const KV> k, v;
};

// A row with a NaN or +inf visible score is invalid (output NaN); one that sees no key or only
// -inf scores is empty (output 0); every other row is valid and takes part in the statistics.
enum class RowStatus : std::uint8_t { valid, empty, invalid };

// One output value after ACT's two gains, rest (o - o_sink) + sink o_sink, computed as
// rest o + (sink - rest) o_sink with `sink_factor` = (sink - rest) times the scale that turns
// `sink_sum` into o_sink. An infinite value on a sink key makes o and o_sink the same infinity and
// this form NaN, where the oracle's sum of rescaled terms keeps the infinity for a positive sink
// gain (0 * inf = NaN for a zero one).
inline float corrected_value(float output, float sink_sum, float rest, float sink_factor, float sink) noexcept {
  if (std::isinf(sink_sum)) [[unlikely]]
    return sink > 0.0f ? output : std::numeric_limits<float>::quiet_NaN();
  return rest * output + sink_factor * sink_sum;
}

}  // namespace act::detail
