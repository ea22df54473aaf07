#pragma once
// Which heads of a model ACT calibrates, and with which policy: by default the paper's detector
// (column mean > tau, first candidate kept) and rescale (sinks x beta, mass redistributed); any
// detector and rescaler of act/policies/registry.hpp otherwise, and a factor per head where the
// head set gives one.
#include <act/heads/head_set.hpp>
#include <act/policies/registry.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <utility>
#include <variant>
#include <vector>

namespace act::model {

// A head calibrated with a policy of its own (a head-set factor; see head_set.hpp).
struct HeadCalibration {
  std::size_t head = 0;
  AnyCalibration calibration;
};

// What one layer calibrates: the heads that share the set's policy (the kernels' calibrated_heads
// mask; empty when there are none) and the heads with their own.
struct LayerCalibration {
  std::vector<std::uint8_t> shared_mask;
  std::vector<HeadCalibration> own;
};

class ActSettings {
 public:
  // No head calibrated: plain attention.
  ActSettings() = default;

  // The paper's policy. Throws std::invalid_argument for beta outside [0, 1] or a non-finite tau.
  ActSettings(HeadSet heads, float beta, float tau) : ActSettings(std::move(heads), AnyCalibration::paper(beta, tau)) {}

  // Throws std::invalid_argument when the set gives heads their own factor and `calibration`'s
  // rescaler is not scale-only (the factor replaces its beta).
  ActSettings(HeadSet heads, AnyCalibration calibration)
      : heads_(std::move(heads)), calibration_(std::move(calibration)) {
    if (!heads_.factors().empty() && !std::holds_alternative<ScaleOnly>(calibration_.rescaler))
      throw std::invalid_argument(
          "act: the head set gives heads a factor of their own, which needs a scale-only "
          "rescaler (the run uses " +
          policy_text(calibration_.rescaler) + ")");
  }

  // The policy the head set was searched with (the paper's with its beta and tau for files that
  // record none).
  static ActSettings from_head_set(HeadSet heads) {
    AnyCalibration calibration = heads.calibration();
    return {std::move(heads), std::move(calibration)};
  }

  const HeadSet& heads() const noexcept { return heads_; }
  bool enabled() const noexcept { return !heads_.empty(); }
  const AnyCalibration& calibration() const noexcept { return calibration_; }

  // The policy of one head: the set's, with the head's own factor as the scale-only beta if it has one.
  AnyCalibration calibration_for(HeadId id) const {
    const auto factor = heads_.factor(id);
    if (!factor) return calibration_;
    return {calibration_.detector, ScaleOnly{*factor, std::get<ScaleOnly>(calibration_.rescaler).min_total_mass}};
  }

  // Per layer, which heads share the set's policy and which have their own. Throws act::FormatError
  // if a head lies outside the model.
  std::vector<LayerCalibration> layer_calibrations(std::size_t layers, std::size_t heads_per_layer) const {
    std::vector<LayerCalibration> plans(layers);
    for (std::size_t layer = 0; const auto& mask : layer_masks(layers, heads_per_layer)) {
      LayerCalibration& plan = plans[layer];
      for (std::size_t h = 0; h < mask.size(); ++h) {
        const HeadId id{static_cast<std::uint32_t>(layer), static_cast<std::uint32_t>(h)};
        if (mask[h] == 0 || !heads_.factor(id)) continue;
        plan.own.push_back({h, calibration_for(id)});
      }
      if (plan.own.size() < static_cast<std::size_t>(std::count(mask.begin(), mask.end(), 1))) {
        plan.shared_mask = mask;
        for (const HeadCalibration& own : plan.own) plan.shared_mask[own.head] = 0;
      }
      ++layer;
    }
    return plans;
  }

  // Per layer, the kernels' calibrated_heads mask; empty for a layer with no calibrated head.
  // Throws act::FormatError if a head lies outside the model.
  std::vector<std::vector<std::uint8_t>> layer_masks(std::size_t layers, std::size_t heads_per_layer) const {
    heads_.check_fits(layers, heads_per_layer);
    std::vector<std::vector<std::uint8_t>> masks(layers);
    for (const HeadId& id : heads_.heads()) {
      if (masks[id.layer].empty()) masks[id.layer] = heads_.layer_mask(id.layer, heads_per_layer);
    }
    return masks;
  }

 private:
  HeadSet heads_;
  AnyCalibration calibration_ = AnyCalibration::paper();
};

}  // namespace act::model
