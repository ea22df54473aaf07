#pragma once
// The paper's rescale: sinks keep beta of their weight; the freed (1 - beta) * m goes to the other
// columns in proportion to their weight, so the row still sums to one.
#include <act/policies/concepts.hpp>
#include <act/policies/policy_text.hpp>

#include <cmath>
#include <stdexcept>

namespace act {

struct Redistribute {
  static constexpr std::string_view name = "redistribute";
  static constexpr std::string_view usage = "redistribute:BETA";

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

  static Redistribute from_arguments(const PolicyArguments& args) {
    args.expect_count(1, 1);
    return Redistribute{args.real(0, "BETA", 0.0, 1.0)};
  }
  std::string text() const { return std::string(name) + ":" + float_text(beta); }
};

}  // namespace act
