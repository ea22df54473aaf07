#pragma once
// The paper's rescale: sinks keep beta of their weight; the freed (1 - beta) * m goes to the other
// columns in proportion to their weight, so the row still sums to one.
#include <act/policies/concepts.hpp>

#include <cmath>
#include <stdexcept>

namespace act {

struct Redistribute {
  float beta = 0.4f;
  // Below this non-sink mass there is nothing meaningful to redistribute to: in float32 the
  // corrected output's relative error grows like 1e-7 / r, so tiny r is treated like the r = 0 case.
  float min_rest_mass = 1e-6f;

  explicit Redistribute(float b = 0.4f, float min_rest = 1e-6f) : beta(b), min_rest_mass(min_rest) {
    if (!(beta >= 0.0f && beta <= 1.0f)) throw std::invalid_argument("act: Redistribute beta must be in [0, 1]");
    if (!(min_rest_mass >= 0.0f)) throw std::invalid_argument("act: Redistribute min_rest_mass must be >= 0");
  }

  std::optional<RowGains> gains(float sink_mass, float rest_mass) const {
    if (!(rest_mass > min_rest_mass)) return std::nullopt;
    return RowGains{beta, 1.0f + (1.0f - beta) * sink_mass / rest_mass};
  }
};

}  // namespace act
