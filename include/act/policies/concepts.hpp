#pragma once
// The two policy kinds ACT is built from. A kernel asks a SinkDetector which columns are sinks
// (from column statistics only) and a Rescaler how to reweight one row (from that row's sink mass
// and non-sink mass only). Both answers are tiny, so any attention kernel can host them.
#include <act/core/column_stats.hpp>

#include <concepts>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <vector>

namespace act {

// Sink columns of one head, strictly increasing.
using SinkSet = std::vector<std::uint32_t>;

// Row i becomes: sink columns x sink, other columns x rest.
struct RowGains {
  float sink = 1.0f;
  float rest = 1.0f;
};

template <class P>
concept SinkDetector = std::copy_constructible<P> && requires(const P& p, ColumnStatsView stats, SinkSet& out) {
  { p.select(stats, out) } -> std::same_as<void>;
};

// gains(m, r) returns std::nullopt when the row cannot be rescaled meaningfully (for example no
// non-sink mass to give the freed weight to); the kernel then leaves the row unchanged and counts it.
template <class P>
concept Rescaler = std::copy_constructible<P> && requires(const P& p, float sink_mass, float rest_mass) {
  { p.gains(sink_mass, rest_mass) } -> std::same_as<std::optional<RowGains>>;
};

// A rescaler that never changes anything lets kernels skip the correction pass entirely.
template <class P>
concept IdentityRescaler = Rescaler<P> && P::is_identity;

// A detector that never selects anything lets kernels skip the statistics pass entirely.
template <class P>
concept NeverDetects = SinkDetector<P> && P::never_detects;

// What kernels are parameterised by: a detector and a rescaler, as in Calibration<D, R>.
template <class C>
concept CalibrationPolicy = requires(const C& c) {
  requires SinkDetector<std::remove_cvref_t<decltype(c.detector)>>;
  requires Rescaler<std::remove_cvref_t<decltype(c.rescaler)>>;
};

}  // namespace act
