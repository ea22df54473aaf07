#pragma once
// Which heads of a model ACT calibrates, and with which policy: by default the paper's detector
// (column mean > tau, first candidate kept) and rescale (sinks x beta, mass redistributed); any
// detector and rescaler of act/policies/registry.hpp otherwise.
#include <act/heads/head_set.hpp>
#include <act/policies/registry.hpp>

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace act::model {

class ActSettings {
 public:
  // No head calibrated: plain attention.
  ActSettings() = default;

  // The paper's policy. Throws std::invalid_argument for beta outside [0, 1] or a non-finite tau.
  ActSettings(HeadSet heads, float beta, float tau)
      : heads_(std::move(heads)), calibration_(AnyCalibration::paper(beta, tau)) {}

  ActSettings(HeadSet heads, AnyCalibration calibration)
      : heads_(std::move(heads)), calibration_(std::move(calibration)) {}

  // The policy the head set was searched with (the paper's with its beta and tau for files that
  // record none).
  static ActSettings from_head_set(HeadSet heads) {
    AnyCalibration calibration = heads.calibration();
    return {std::move(heads), std::move(calibration)};
  }

  const HeadSet& heads() const noexcept { return heads_; }
  bool enabled() const noexcept { return !heads_.empty(); }
  const AnyCalibration& calibration() const noexcept { return calibration_; }

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
