#pragma once
// Every detector and rescaler a program can choose at run time, by text ("top-k:3",
// "scale-only:0.5"). The kernels stay templates: AnyCalibration::visit() hands the concrete
// Calibration<D, R> to a generic callable, so each pair is instantiated once, here.
//
// Adding a policy: one file defining the type (select() or gains(), plus name, usage,
// from_arguments() and text()), and its name in the Detectors or Rescalers list below. Nothing in
// the kernels, the model or the runner changes.
#include <act/core/fields.hpp>
#include <act/policies/calibration.hpp>
#include <act/policies/column_mean_threshold.hpp>
#include <act/policies/initial_token.hpp>
#include <act/policies/policy_text.hpp>
#include <act/policies/redistribute.hpp>
#include <act/policies/scale_only.hpp>
#include <act/policies/top_k_columns.hpp>

#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace act {

using AnyDetector = std::variant<ColumnMeanThreshold, TopKColumns, InitialToken>;
using AnyRescaler = std::variant<Redistribute, ScaleOnly>;

namespace detail {

template <class Variant, std::size_t... I>
std::string policy_usages(std::index_sequence<I...>) {
  std::string list;
  ((list += (I == 0 ? "" : ", ") + std::string(std::variant_alternative_t<I, Variant>::usage)), ...);
  return list;
}

// The alternative of `Variant` whose name is parts[0], built from the remaining parts.
template <class Variant>
Variant parse_policy(std::string_view text, std::string_view kind) {
  const std::vector<std::string> parts = split_fields(text, ':');
  std::optional<Variant> found;
  const auto try_one = [&]<class P>(std::type_identity<P>) {
    if (found || parts[0] != P::name) return;
    found.emplace(P::from_arguments(PolicyArguments(P::usage, {parts.begin() + 1, parts.end()})));
  };
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (try_one(std::type_identity<std::variant_alternative_t<I, Variant>>{}), ...);
  }
  (std::make_index_sequence<std::variant_size_v<Variant>>{});
  if (!found)
    throw std::invalid_argument("unknown " + std::string(kind) + " '" + std::string(text) + "' (known: " +
                                policy_usages<Variant>(std::make_index_sequence<std::variant_size_v<Variant>>{}) + ")");
  return *found;
}

}  // namespace detail

// Throws std::invalid_argument (one line: the policy, the bad argument, the accepted forms).
inline AnyDetector parse_detector(std::string_view text) { return detail::parse_policy<AnyDetector>(text, "detector"); }
inline AnyRescaler parse_rescaler(std::string_view text) { return detail::parse_policy<AnyRescaler>(text, "rescaler"); }

// The text that parses back to the same policy.
template <class... P>
std::string policy_text(const std::variant<P...>& policy) {
  return std::visit([](const auto& p) { return p.text(); }, policy);
}

// A detector and a rescaler chosen at run time.
struct AnyCalibration {
  AnyDetector detector = ColumnMeanThreshold{0.1f};
  AnyRescaler rescaler = Redistribute{0.4f};

  // Calls f(Calibration<D, R>{...}) with the concrete pair.
  template <class F>
  decltype(auto) visit(F&& f) const {
    return std::visit(
        [&](const auto& d, const auto& r) -> decltype(auto) {
          return f(Calibration{d, r});
        },
        detector, rescaler);
  }

  // The paper's pair (column mean > tau, first candidate kept; redistribute with beta).
  static AnyCalibration paper(float beta = 0.4f, float tau = 0.1f) {
    return {ColumnMeanThreshold{tau}, Redistribute{beta}};
  }
  // Initial-token scaling: attention to token 0 times `factor`, the rest of the row renormalised.
  static AnyCalibration initial_token_scaling(float factor) { return {InitialToken{}, ScaleOnly{factor}}; }

  bool is_paper() const noexcept {
    const auto* d = std::get_if<ColumnMeanThreshold>(&detector);
    return d != nullptr && d->keep == KeepSink::first_candidate && std::holds_alternative<Redistribute>(rescaler);
  }
  std::string text() const { return policy_text(detector) + " + " + policy_text(rescaler); }
};

}  // namespace act
