// The bf16 attention path against the float32 fused kernel in the same run: causal prefill with GQA
// over N(0, 1) Q, K, V, head-major, OpenMP's default thread count.
//   prefill_f32            float32 K/V, float32 products (the baseline)
//   prefill_bf16_fallback  bfloat16 K/V, ProductPrecision::fp32 (widened exactly; what builds
//                          without AVX-512 BF16 run for a bf16 request)
//   prefill_bf16           bfloat16 K/V, ProductPrecision::bf16 (vdpbf16ps where the build has it)
// each plain and with ACT (paper calibration on every head; random inputs have no sinks, so this
// times the statistics pass).
//
// Counters:
//   GFLOP/s   nominal work of causal plain attention, 4 * n * n * d * q_heads / 2 (Q K^T and P V,
//             2 flops per multiply-add, half the map), the same for every variant
//   kv_bytes  bytes of the K and V operands (the cache the call reads)
//   bf16_dot  1 when the build's kernel honours the bf16 request (simd::bf16_dot_compiled and
//             d a multiple of 32), else 0: the fallback ran
#include <act/act.hpp>
#include <act/simd/bf16_dot.hpp>

#include <benchmark/benchmark.h>

#include "bench_main.hpp"

#include <cstddef>
#include <random>
#include <string>
#include <vector>

namespace {

enum class Variant { f32, bf16_fallback, bf16 };

struct GqaProblem {
  std::size_t n, d, q_heads, kv_heads;
  std::vector<float> q, k, v, out;
  std::vector<act::BFloat16> k16, v16;

  GqaProblem(std::size_t length, std::size_t dim, std::size_t queries, std::size_t kv)
      : n(length),
        d(dim),
        q_heads(queries),
        kv_heads(kv),
        q(queries * n * d),
        k(kv * n * d),
        v(k.size()),
        out(q.size()) {
    std::mt19937 rng(42);
    std::normal_distribution<float> normal;
    for (auto* tensor : {&q, &k, &v})
      for (float& x : *tensor) x = normal(rng);
    for (std::size_t e = 0; e < k.size(); ++e) {
      k16.push_back(act::BFloat16{act::f32_to_bf16(k[e])});
      v16.push_back(act::BFloat16{act::f32_to_bf16(v[e])});
    }
  }

  template <class Cal>
  void run(Variant variant, const Cal& calibration) {
    const auto queries = act::head_major<const float>(q.data(), q_heads, n, d);
    const auto output = act::head_major(out.data(), q_heads, n, d);
    if (variant == Variant::f32) {
      act::attention(queries, act::head_major<const float>(k.data(), kv_heads, n, d),
                     act::head_major<const float>(v.data(), kv_heads, n, d), output, {}, calibration);
      return;
    }
    act::AttentionOptions options;
    options.products = variant == Variant::bf16 ? act::ProductPrecision::bf16 : act::ProductPrecision::fp32;
    act::attention(queries, act::head_major<const act::BFloat16>(k16.data(), kv_heads, n, d),
                   act::head_major<const act::BFloat16>(v16.data(), kv_heads, n, d), output, options, calibration);
  }
};

template <bool Calibrated>
void prefill(benchmark::State& state, Variant variant, std::size_t n, std::size_t d, std::size_t q_heads,
             std::size_t kv_heads) {
  GqaProblem p(n, d, q_heads, kv_heads);
  const auto calibration = act::paper_calibration();
  const auto call = [&] {
    if constexpr (Calibrated)
      p.run(variant, calibration);
    else
      p.run(variant, act::NoCalibration{});
  };
  call();  // warm-up: scratch, pages, threads
  for (auto _ : state) {
    call();
    benchmark::ClobberMemory();
  }
  const double flops = 4.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(d) *
                       static_cast<double>(q_heads) / 2.0;
  state.counters["GFLOP/s"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  const std::size_t element = variant == Variant::f32 ? sizeof(float) : sizeof(act::BFloat16);
  state.counters["kv_bytes"] = static_cast<double>(2 * p.k.size() * element);
  state.counters["bf16_dot"] =
      variant == Variant::bf16 && act::simd::bf16_dot_compiled && d % act::simd::bf16_chunk == 0;
}

void register_all() {
  struct Shape {
    std::size_t n, d, q_heads, kv_heads;
  };
  const Shape shapes[] = {{2048, 64, 9, 3}, {4096, 64, 9, 3}, {4096, 128, 32, 8}};
  const std::pair<const char*, Variant> variants[] = {
      {"f32", Variant::f32}, {"bf16_fallback", Variant::bf16_fallback}, {"bf16", Variant::bf16}};
  using Kernel = void (*)(benchmark::State&, Variant, std::size_t, std::size_t, std::size_t, std::size_t);
  for (const Shape& s : shapes) {
    for (bool calibrated : {false, true}) {
      for (const auto& [variant_name, variant] : variants) {
        const std::string name = std::string("prefill_") + (calibrated ? "act_" : "plain_") + variant_name +
                                 "/n:" + std::to_string(s.n) + "/d:" + std::to_string(s.d) +
                                 "/heads:" + std::to_string(s.q_heads) + "/" + std::to_string(s.kv_heads);
        const Kernel kernel = calibrated ? prefill<true> : prefill<false>;
        benchmark::RegisterBenchmark(name.c_str(), kernel, variant, s.n, s.d, s.q_heads, s.kv_heads)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) { return act_bench::run_benchmarks(argc, argv, register_all); }
