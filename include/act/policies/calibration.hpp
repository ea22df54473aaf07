#pragma once
// A detector and a rescaler together: what a kernel is parameterised by.
#include <act/policies/column_mean_threshold.hpp>
#include <act/policies/concepts.hpp>
#include <act/policies/identity.hpp>
#include <act/policies/no_sinks.hpp>
#include <act/policies/redistribute.hpp>

namespace act {

template <SinkDetector Detector, Rescaler Rule>
struct Calibration {
  Detector detector;
  Rule rescaler;
};

template <class Detector, class Rule>
Calibration(Detector, Rule) -> Calibration<Detector, Rule>;

// The paper's setting: column mean above tau, first candidate kept, sinks x beta, mass redistributed.
inline Calibration<ColumnMeanThreshold, Redistribute> paper_calibration(float beta = 0.4f, float tau = 0.1f) {
  return {ColumnMeanThreshold{tau}, Redistribute{beta}};
}

// Plain attention.
using NoCalibration = Calibration<NoSinks, Identity>;

// No statistics pass is needed when nothing can ever be detected.
template <class C>
inline constexpr bool needs_statistics = true;
template <SinkDetector D, Rescaler R>
inline constexpr bool needs_statistics<Calibration<D, R>> = !NeverDetects<D>;

// No correction pass is needed when nothing is detected or nothing is rescaled.
template <class C>
inline constexpr bool needs_correction = true;
template <SinkDetector D, Rescaler R>
inline constexpr bool needs_correction<Calibration<D, R>> = !NeverDetects<D> && !IdentityRescaler<R>;

}  // namespace act
