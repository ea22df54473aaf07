#pragma once
// Scale sinks by beta and renormalise the row (every column shares the freed mass, sinks included).
// beta may exceed 1 (the sinks gain weight), which initial-token scaling uses.
#include <act/policies/concepts.hpp>
#include <act/policies/policy_text.hpp>

#include <cmath>
#include <limits>
#include <stdexcept>

namespace act {

struct ScaleOnly {
  static constexpr std::string_view name = "scale-only";
  static constexpr std::string_view usage = "scale-only:BETA";

  float beta = 0.4f;
  // Below this renormalising mass beta * m + r the gains 1 / (beta m + r) amplify the rounding of
  // m and r beyond meaning (and overflow for a subnormal total, giving inf * 0 = NaN weights), so
  // the row is left unchanged and counted, as Redistribute does with its rest mass.
  float min_total_mass = 1e-6f;

  explicit ScaleOnly(float b = 0.4f, float min_total = 1e-6f) : beta(b), min_total_mass(min_total) {
    if (!(std::isfinite(beta) && beta >= 0.0f))
      throw std::invalid_argument("act: ScaleOnly beta must be finite and >= 0");
    if (!(min_total_mass >= 0.0f)) throw std::invalid_argument("act: ScaleOnly min_total_mass must be >= 0");
  }

  std::optional<RowGains> gains(float sink_mass, float rest_mass) const {
    const float total = beta * sink_mass + rest_mass;
    if (!(total > min_total_mass)) return std::nullopt;
    return RowGains{beta / total, 1.0f / total};
  }

  static ScaleOnly from_arguments(const PolicyArguments& args) {
    args.expect_count(1, 1);
    return ScaleOnly{args.real(0, "BETA", 0.0, std::numeric_limits<float>::max())};
  }
  std::string text() const { return std::string(name) + ":" + float_text(beta); }
};

}  // namespace act
