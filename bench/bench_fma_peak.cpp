// The machine's float32 FMA peak: every thread runs independent FMA chains on the widest SIMD batch
// xsimd enables, enough chains to cover FMA latency x FMA ports on current cores. The attention
// benchmarks' GFLOP/s are read against this number (tools/run_kernel_bench.sh).
#include <act/core/parallel.hpp>
#include <act/simd/batch.hpp>

#include <benchmark/benchmark.h>

#include <cstddef>
#include <utility>

namespace {

using act::simd::Floats;

// 24 chains: 2 FMA pipes x 4-cycle latency needs 8; more hides issue-slot noise.
constexpr std::size_t chains = 24;
constexpr std::size_t steps = 1 << 18;  // about 1 ms per iteration, so a parallel region's start-up is noise

// The fold over constant indices keeps every accumulator in a register (a runtime loop over an
// array of accumulators compiles to load + FMA + store and measures the store port instead).
template <std::size_t... Chain>
float run_chains(float seed, std::index_sequence<Chain...>) {
  Floats acc[] = {Floats(seed + static_cast<float>(Chain))...};
  const Floats factor(0.999999f), offset(1e-6f);
  for (std::size_t s = 0; s < steps; ++s) ((acc[Chain] = xsimd::fma(acc[Chain], factor, offset)), ...);
  return xsimd::hadd((acc[Chain] + ...));
}

void fma_peak(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  for (auto _ : state) {
    act::parallel::run_team(threads, [](std::size_t thread) {
      benchmark::DoNotOptimize(run_chains(static_cast<float>(thread), std::make_index_sequence<chains>{}));
    });
  }
  const double flops_per_iteration = 2.0 * static_cast<double>(Floats::size * chains * steps) * threads;
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops_per_iteration / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["lanes"] = static_cast<double>(Floats::size);
}

BENCHMARK(fma_peak)->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
