#pragma once
// Scale sinks by beta and renormalise the row (every column shares the freed mass, sinks included).
// beta may exceed 1 (the sinks gain weight), which initial-token scaling uses.
#include <act/policies/concepts.hpp>
#include <act/policies/policy_text.hpp>

#include <limits>

#include <cmath>
#include <stdexcept>

namespace act {

struct ScaleOnly {
  static constexpr std::string_view name = "scale-only";
  static constexpr std::string_view usage = "scale-only:BETA";

  float beta = 0.4f;

  explicit ScaleOnly(float b = 0.4f) : beta(b) {
    if (!(std::isfinite(beta) && beta >= 0.0f))
      throw std::invalid_argument("act: ScaleOnly beta must be finite and >= 0");
  }

  std::optional<RowGains> gains(float sink_mass, float rest_mass) const {
    const float total = beta * sink_mass + rest_mass;
    if (!(total > 0.0f)) return std::nullopt;
    return RowGains{beta / total, 1.0f / total};
  }

  static ScaleOnly from_arguments(const PolicyArguments& args) {
    args.expect_count(1, 1);
    return ScaleOnly{args.real(0, "BETA", 0.0, std::numeric_limits<float>::max())};
  }
  std::string text() const { return std::string(name) + ":" + float_text(beta); }
};

}  // namespace act
