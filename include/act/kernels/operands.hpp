#pragma once
// What every fused kernel (block and decode) reads and how it classifies a query row.
#include <act/core/heads_view.hpp>

#include <cstdint>

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

}  // namespace act::detail
