// A new calibration policy in one file, with no kernel changes: cap the attention mass a row may
// put on its sinks. A rescaler only answers "given this row's sink mass m and non-sink mass r,
// what are the two gains?"; the fused kernel does the rest.
#include <act/act.hpp>

#include <cmath>
#include <cstdio>
#include <optional>
#include <vector>

// Rows that give more than `cap` of their attention to sinks are scaled so the sinks get exactly
// `cap`, and the excess goes to the other keys in proportion to their weight.
struct CapSinkMass {
  float cap = 0.3f;

  std::optional<act::RowGains> gains(float sink_mass, float rest_mass) const {
    if (sink_mass <= cap) return act::RowGains{1.0f, 1.0f};
    if (!(rest_mass > 1e-6f)) return std::nullopt;  // nothing to give the excess to
    return act::RowGains{cap / sink_mass, (1.0f - cap) / rest_mass};
  }
};
static_assert(act::Rescaler<CapSinkMass>);

int main() {
  const std::size_t heads = 1, n = 64, d = 32;
  std::vector<float> q(heads * n * d), k(heads * n * d), v(heads * n * d), plain(q.size()), capped(q.size());
  for (std::size_t i = 0; i < q.size(); ++i) {
    q[i] = std::sin(0.7f * static_cast<float>(i));
    k[i] = std::cos(0.3f * static_cast<float>(i));
    v[i] = std::sin(1.3f * static_cast<float>(i));
  }
  // Make keys 0 and 20 sinks: every query aligns with them (strongly enough to exceed the cap, not so
  // strongly that the other keys keep almost nothing, where float32 rescaling is ill-conditioned).
  for (std::size_t c = 0; c < d; ++c) {
    k[0 * d + c] = k[20 * d + c] = 0.6f;
    for (std::size_t i = 0; i < n; ++i) q[i * d + c] = std::fabs(q[i * d + c]) + 0.5f;
  }
  const auto Q = act::head_major<const float>(q.data(), heads, n, d);
  const auto K = act::head_major<const float>(k.data(), heads, n, d);
  const auto V = act::head_major<const float>(v.data(), heads, n, d);
  std::vector<act::SinkSet> sinks;

  act::attention(Q, K, V, act::head_major(plain.data(), heads, n, d));
  const auto calibration = act::Calibration{act::ColumnMeanThreshold{0.05f, act::KeepSink::none}, CapSinkMass{0.3f}};
  const auto report =
      act::attention(Q, K, V, act::head_major(capped.data(), heads, n, d), {}, calibration, {.sinks = &sinks});

  // The same policy through the double-precision oracle: the fused kernel must agree.
  std::vector<float> oracle(q.size());
  act::reference::attention<float>(Q, K, V, act::head_major(oracle.data(), heads, n, d), {}, calibration);
  float max_change = 0.0f, max_oracle_diff = 0.0f;
  for (std::size_t i = 0; i < q.size(); ++i) {
    max_change = std::max(max_change, std::fabs(capped[i] - plain[i]));
    max_oracle_diff = std::max(max_oracle_diff, std::fabs(capped[i] - oracle[i]));
  }
  std::printf("sinks:");
  for (auto s : sinks[0]) std::printf(" %u", s);
  std::printf("\nrows rescaled: %zu, left unchanged: %zu\n", report.rows_calibrated, report.degenerate_rows);
  std::printf("largest change of the output: %.4f; largest difference from the oracle: %.2e\n",
              static_cast<double>(max_change), static_cast<double>(max_oracle_diff));
  return max_oracle_diff < 1e-4f ? 0 : 1;
}
