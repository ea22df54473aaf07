#pragma once
// What every fused kernel (block and decode) reads and how it classifies a query row.
#include <act/core/heads_view.hpp>

#include <cstdint>

namespace act::detail {

struct Operands {
  HeadsView<const float> q, k, v;
};

// A row with a NaN or +inf visible score is invalid (output NaN); one that sees no key or only
// -inf scores is empty (output 0); every other row is valid and takes part in the statistics.
enum class RowStatus : std::uint8_t { valid, empty, invalid };

}  // namespace act::detail
