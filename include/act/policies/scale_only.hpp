#pragma once
// Scale sinks by beta and renormalise the row (every column shares the freed mass, sinks included).
#include <act/policies/concepts.hpp>

#include <cmath>
#include <stdexcept>

namespace act {

struct ScaleOnly {
  float beta = 0.4f;

  explicit ScaleOnly(float b = 0.4f) : beta(b) {
    if (!(std::isfinite(beta) && beta >= 0.0f)) throw std::invalid_argument("act: ScaleOnly beta must be finite and >= 0");
  }

  std::optional<RowGains> gains(float sink_mass, float rest_mass) const {
    const float total = beta * sink_mass + rest_mass;
    if (!(total > 0.0f)) return std::nullopt;
    return RowGains{beta / total, 1.0f / total};
  }
};

}  // namespace act
