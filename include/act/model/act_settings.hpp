#pragma once
// Which heads of a model ACT calibrates, and with which hyper-parameters: the paper's detector
// (column mean > tau, first candidate kept) and rescale (sinks x beta, mass redistributed).
#include <act/heads/head_set.hpp>
#include <act/policies/calibration.hpp>

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace act::model {

class ActSettings {
 public:
  // No head calibrated: plain attention.
  ActSettings() = default;

  // Throws std::invalid_argument for beta outside [0, 1] or a non-finite tau.
  ActSettings(HeadSet heads, float beta, float tau) : heads_(std::move(heads)), calibration_(paper_calibration(beta, tau)) {}

  // The head set's own beta and tau.
  static ActSettings from_head_set(HeadSet heads) {
    const float beta = heads.beta, tau = heads.tau;
    return {std::move(heads), beta, tau};
  }

  const HeadSet& heads() const noexcept { return heads_; }
  bool enabled() const noexcept { return !heads_.empty(); }
  float beta() const noexcept { return calibration_.rescaler.beta; }
  float tau() const noexcept { return calibration_.detector.tau; }
  const Calibration<ColumnMeanThreshold, Redistribute>& calibration() const noexcept { return calibration_; }

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
  Calibration<ColumnMeanThreshold, Redistribute> calibration_ = paper_calibration();
};

}  // namespace act::model
