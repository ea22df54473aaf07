// The machine's two roofs, for 1 and 2 threads:
// - fma_peak: float32 FMA peak; every thread runs independent FMA chains on the widest SIMD batch
//   xsimd enables, enough chains to cover FMA latency x FMA ports on current cores. The attention
//   benchmarks' GFLOP/s are read against it (tools/run_kernel_bench.sh).
// - read_bandwidth: bytes per second a streaming sum reads from memory, over a buffer far larger
//   than the caches. Decode reads every weight and the whole KV cache once per token, so tokens/s
//   of any engine is bounded by this figure / bytes read per token (docs/results.md).
#include <act/core/parallel.hpp>
#include <act/simd/aligned_vector.hpp>
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
  for (std::size_t s = 0; s < steps; ++s) ((acc[Chain] = act::simd::fma(acc[Chain], factor, offset)), ...);
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

// 1 GiB of floats: 30 times the 32 MiB L3 of the machine measured, so the caches hold no useful part.
constexpr std::size_t stream_floats = std::size_t{1} << 28;

// Sum of data[first, end) with four independent accumulators (one would measure the add latency).
float stream_sum(const float* data, std::size_t first, std::size_t end) {
  Floats acc[4] = {Floats(0.0f), Floats(0.0f), Floats(0.0f), Floats(0.0f)};
  for (std::size_t i = first; i < end; i += 4 * Floats::size)
    for (std::size_t a = 0; a < 4; ++a) acc[a] += Floats::load_aligned(data + i + a * Floats::size);
  return xsimd::hadd(acc[0] + acc[1] + acc[2] + acc[3]);
}

void read_bandwidth(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  static const act::simd::AlignedVector<float> data(stream_floats, 1.0f);
  const std::size_t share = stream_floats / static_cast<std::size_t>(threads);
  for (auto _ : state) {
    act::parallel::run_team(threads, [&](std::size_t thread) {
      benchmark::DoNotOptimize(stream_sum(data.data(), thread * share, (thread + 1) * share));
    });
  }
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(stream_floats * sizeof(float)) / 1e9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK(read_bandwidth)->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
