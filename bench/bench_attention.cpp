// Causal prefill attention: plain fused, fused + ACT (paper calibration, every head calibrated),
// (also: an engine's padded, masked call; 16-bit caches; V in key rows against transposed V),
// the double-precision reference with ACT (n <= 2048: it materialises the O(n^2) map), and
// act::correct() applied to a plain fused output.
//
// Counters:
//   GFLOP/s           nominal work of causal plain attention, 4 * n * n * d * heads / 2 (Q K^T and
//                     P V, 2 flops per multiply-add, half the map), for every variant alike, so the
//                     numbers compare throughput on the same problem (softmax and ACT extras are not counted).
//   peak_extra_bytes  peak of bytes allocated through operator new during one call, above what was
//                     allocated before it (this TU replaces the global operator new/delete).
#include <act/act.hpp>

#include <benchmark/benchmark.h>

#include "bench_main.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

// ---- allocation counting -------------------------------------------------------------------
std::atomic<std::int64_t> live_bytes{0};
std::atomic<std::int64_t> peak_bytes{0};

// Every block carries a header (its size and the header length) in front of the user pointer.
constexpr std::size_t header_size = 2 * sizeof(std::size_t);

void* counted_allocate(std::size_t size, std::size_t align) {
  const std::size_t header = std::max(align, header_size);
  const std::size_t total = (size + header + header - 1) / header * header;
  auto* raw = static_cast<char*>(std::aligned_alloc(header, total));
  if (raw == nullptr) throw std::bad_alloc();
  char* user = raw + header;
  reinterpret_cast<std::size_t*>(user)[-1] = size;
  reinterpret_cast<std::size_t*>(user)[-2] = header;
  const std::int64_t now = live_bytes.fetch_add(static_cast<std::int64_t>(size)) + static_cast<std::int64_t>(size);
  std::int64_t peak = peak_bytes.load();
  while (now > peak && !peak_bytes.compare_exchange_weak(peak, now)) {}
  return user;
}

void counted_free(void* pointer) noexcept {
  if (pointer == nullptr) return;
  char* user = static_cast<char*>(pointer);
  const std::size_t size = reinterpret_cast<std::size_t*>(user)[-1];
  const std::size_t header = reinterpret_cast<std::size_t*>(user)[-2];
  live_bytes.fetch_sub(static_cast<std::int64_t>(size));
  std::free(user - header);
}

// Runs `call` once and returns the peak bytes it allocated on top of what was live before.
template <class Call>
std::int64_t peak_extra_bytes(Call&& call) {
  const std::int64_t before = live_bytes.load();
  peak_bytes.store(before);
  call();
  return peak_bytes.load() - before;
}

}  // namespace

void* operator new(std::size_t size) { return counted_allocate(size, alignof(std::max_align_t)); }
void* operator new[](std::size_t size) { return counted_allocate(size, alignof(std::max_align_t)); }
void* operator new(std::size_t size, std::align_val_t align) {
  return counted_allocate(size, static_cast<std::size_t>(align));
}
void* operator new[](std::size_t size, std::align_val_t align) {
  return counted_allocate(size, static_cast<std::size_t>(align));
}
void operator delete(void* p) noexcept { counted_free(p); }
void operator delete[](void* p) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t) noexcept { counted_free(p); }
void operator delete(void* p, std::align_val_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { counted_free(p); }

namespace {

// ---- problems -------------------------------------------------------------------------------
struct Problem {
  std::size_t n, d, heads;
  std::vector<float> q, k, v, out, lse, plain_out;

  Problem(std::size_t length, std::size_t dim, std::size_t head_count)
      : n(length),
        d(dim),
        heads(head_count),
        q(heads * n * d),
        k(q.size()),
        v(q.size()),
        out(q.size()),
        lse(heads * n) {
    std::mt19937 rng(42);
    std::normal_distribution<float> normal;
    for (auto* tensor : {&q, &k, &v})
      for (float& x : *tensor) x = normal(rng);
  }
  act::HeadsView<const float> view(const std::vector<float>& t) const { return act::head_major(t.data(), heads, n, d); }
  act::HeadsView<float> output() { return act::head_major(out.data(), heads, n, d); }
  double nominal_flops() const {
    return 4.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(d) * static_cast<double>(heads) /
           2.0;
  }
};

void set_counters(benchmark::State& state, const Problem& p, std::int64_t extra_bytes) {
  state.counters["GFLOP/s"] =
      benchmark::Counter(p.nominal_flops() / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["peak_extra_bytes"] = static_cast<double>(extra_bytes);
}

// Times `call` with automatic timing after one counted warm-up call.
template <class Call>
void time_call(benchmark::State& state, const Problem& p, Call&& call) {
  const std::int64_t extra = peak_extra_bytes(call);
  for (auto _ : state) {
    call();
    benchmark::ClobberMemory();
  }
  set_counters(state, p, extra);
}

void fused_plain(benchmark::State& state, std::size_t n, std::size_t d, std::size_t heads) {
  Problem p(n, d, heads);
  time_call(state, p, [&] { act::attention(p.view(p.q), p.view(p.k), p.view(p.v), p.output()); });
}

void fused_act(benchmark::State& state, std::size_t n, std::size_t d, std::size_t heads) {
  Problem p(n, d, heads);
  const auto calibration = act::paper_calibration();
  time_call(state, p, [&] { act::attention(p.view(p.q), p.view(p.k), p.view(p.v), p.output(), {}, calibration); });
}

void reference_act(benchmark::State& state, std::size_t n, std::size_t d, std::size_t heads) {
  Problem p(n, d, heads);
  const auto calibration = act::paper_calibration();
  time_call(state, p, [&] {
    act::reference::attention<float>(p.view(p.q), p.view(p.k), p.view(p.v), p.output(), {}, calibration);
  });
}

// correct() on a plain fused output; each iteration restores that output first (outside the timed
// region, manual timing) because correct() works in place.
void correct_after_plain(benchmark::State& state, std::size_t n, std::size_t d, std::size_t heads) {
  Problem p(n, d, heads);
  const auto calibration = act::paper_calibration();
  act::AttentionExtras extras;
  extras.lse = p.lse;
  act::attention(p.view(p.q), p.view(p.k), p.view(p.v), p.output(), {}, act::NoCalibration{}, extras);
  p.plain_out = p.out;
  const auto call = [&] { act::correct(p.view(p.q), p.view(p.k), p.view(p.v), p.output(), p.lse, {}, calibration); };
  const std::int64_t extra = peak_extra_bytes(call);
  for (auto _ : state) {
    std::copy(p.plain_out.begin(), p.plain_out.end(), p.out.begin());
    const auto start = std::chrono::steady_clock::now();
    call();
    benchmark::ClobberMemory();
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  set_counters(state, p, extra);
}

// ---- an engine's call: GQA heads, a padded cache and an additive mask -------------------------
// 9 query heads over 3 KV heads; `n` queries over a cache of n + 256 cells (the last 256 unused,
// as in llama.cpp's padded KV cache). Mask::none is the library's own causal path over exactly n
// keys (the baseline); the masked variants pass the whole padded cache and llama.cpp-style KQ mask
// (causal over the used cells, -inf on the padding) as float32 or half.
enum class EngineMask { none, f32, f16 };

struct EngineProblem {
  static constexpr std::size_t q_heads = 9, kv_heads = 3, padding = 256;
  std::size_t n, d, cells;
  std::vector<float> q, k, v, out, mask;
  std::vector<std::uint16_t> mask_f16;

  EngineProblem(std::size_t length, std::size_t dim)
      : n(length),
        d(dim),
        cells(n + padding),
        q(q_heads * n * d),
        k(kv_heads * cells * d),
        v(k.size()),
        out(q.size()),
        mask(n * cells) {
    std::mt19937 rng(42);
    std::normal_distribution<float> normal;
    for (auto* tensor : {&q, &k, &v})
      for (float& x : *tensor) x = normal(rng);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < cells; ++j) mask[i * cells + j] = j <= i ? 0.0f : -INFINITY;
    for (float x : mask) mask_f16.push_back(x == 0.0f ? std::uint16_t{0} : std::uint16_t{0xFC00});  // 0 or -inf
  }
  template <class Cal>
  void run(EngineMask kind, const Cal& calibration) {
    act::AttentionOptions options;
    std::size_t keys = n;
    if (kind != EngineMask::none) {
      options.masking = act::Masking::none;
      keys = cells;
      options.mask = kind == EngineMask::f32 ? act::mask_view(mask.data(), 1, n, cells, cells)
                                             : act::mask_view(mask_f16.data(), 1, n, cells, cells);
    }
    act::attention(act::head_major<const float>(q.data(), q_heads, n, d),
                   act::head_major<const float>(k.data(), kv_heads, keys, d),
                   act::head_major<const float>(v.data(), kv_heads, keys, d),
                   act::head_major(out.data(), q_heads, n, d), options, calibration);
  }
};

template <bool Calibrated>
void engine_call(benchmark::State& state, std::size_t n, std::size_t d, EngineMask kind) {
  EngineProblem p(n, d);
  const auto calibration = act::paper_calibration();
  const auto call = [&] {
    if constexpr (Calibrated)
      p.run(kind, calibration);
    else
      p.run(kind, act::NoCalibration{});
  };
  const std::int64_t extra = peak_extra_bytes(call);
  for (auto _ : state) {
    call();
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(4.0 * static_cast<double>(n * n * d * EngineProblem::q_heads) / 2.0 / 1e9,
                         benchmark::Counter::kIsIterationInvariantRate);
  state.counters["peak_extra_bytes"] = static_cast<double>(extra);
}

void register_engine() {
  const std::pair<const char*, EngineMask> kinds[] = {
      {"causal", EngineMask::none}, {"padded_mask_f32", EngineMask::f32}, {"padded_mask_f16", EngineMask::f16}};
  for (std::size_t n : {512, 2048}) {
    for (const auto& [kind_name, kind] : kinds) {
      for (bool calibrated : {false, true}) {
        const std::string name = std::string("engine_") + (calibrated ? "act_" : "plain_") + kind_name +
                                 "/n:" + std::to_string(n) + "/d:64/heads:9/3";
        benchmark::RegisterBenchmark(name.c_str(), calibrated ? engine_call<true> : engine_call<false>, n,
                                     std::size_t{64}, kind)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      }
    }
  }
}

// ---- KV cache element types: the same causal ACT call over float32, half and bfloat16 K/V ----------
// Counter kv_bytes: bytes of K and V the call reads (each element once per KV head and block row
// would be the traffic; this is the cache's size, which the element type halves).
template <class Element>
void cache_type(benchmark::State& state, std::size_t n, std::size_t d, bool calibrated) {
  EngineProblem p(n, d);
  std::vector<Element> k(p.kv_heads * n * d), v(k.size());
  for (std::size_t e = 0; e < k.size(); ++e) {
    if constexpr (std::is_same_v<Element, float>) {
      k[e] = p.k[e];
      v[e] = p.v[e];
    } else {  // upper halves (bfloat16) or zeroed halves: the values do not matter for timing
      k[e] = Element{static_cast<std::uint16_t>(std::bit_cast<std::uint32_t>(p.k[e]) >> 16)};
      v[e] = Element{static_cast<std::uint16_t>(std::bit_cast<std::uint32_t>(p.v[e]) >> 16)};
      if constexpr (std::is_same_v<Element, act::Half>) {
        k[e].bits &= 0xBFFF;  // keep exponents small: finite halves
        v[e].bits &= 0xBFFF;
      }
    }
  }
  const auto call = [&](const auto& calibration) {
    act::attention(act::head_major<const float>(p.q.data(), p.q_heads, n, d),
                   act::head_major<const Element>(k.data(), p.kv_heads, n, d),
                   act::head_major<const Element>(v.data(), p.kv_heads, n, d),
                   act::head_major(p.out.data(), p.q_heads, n, d), {}, calibration);
  };
  for (auto _ : state) {
    if (calibrated)
      call(act::paper_calibration());
    else
      call(act::NoCalibration{});
    benchmark::ClobberMemory();
  }
  state.counters["kv_bytes"] = static_cast<double>(2 * k.size() * sizeof(Element));
}

void register_cache_types() {
  using Kernel = void (*)(benchmark::State&, std::size_t, std::size_t, bool);
  const std::pair<const char*, Kernel> types[] = {
      {"f32", cache_type<float>}, {"f16", cache_type<act::Half>}, {"bf16", cache_type<act::BFloat16>}};
  for (bool calibrated : {false, true}) {
    for (const auto& [type_name, kernel] : types) {
      const std::string name =
          std::string("cache_") + (calibrated ? "act_" : "plain_") + type_name + "/n:2048/d:64/heads:9/3";
      benchmark::RegisterBenchmark(name.c_str(), kernel, std::size_t{2048}, std::size_t{64}, calibrated)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  }
}

// ---- V layouts: key rows against transposed V (llama.cpp's V cache without flash attention) -------
// The same causal call over n keys, as a prefill (n queries) or a decode step (the last query), with
// V in key rows or transposed ([kv_heads][d][n]); the transposed time includes the library's copy of
// V to key rows, so the ratio between the two rows of one run is what that layout costs. One
// thread: a decode step's two-thread barrier costs milliseconds whenever the shared machine is loaded.
void value_layout(benchmark::State& state, std::size_t n, std::size_t queries, act::ValueLayout layout, bool act) {
  EngineProblem p(n, 64);
  const std::size_t d = 64, heads = EngineProblem::kv_heads;
  std::vector<float> v_transposed(heads * d * n);
  for (std::size_t h = 0; h < heads; ++h)
    for (std::size_t j = 0; j < n; ++j)
      for (std::size_t c = 0; c < d; ++c) v_transposed[(h * d + c) * n + j] = p.v[(h * n + j) * d + c];
  act::AttentionOptions options;
  options.values = layout;
  options.threads = 1;
  const auto values = layout == act::ValueLayout::transposed
                          ? act::head_major<const float>(v_transposed.data(), heads, d, n)
                          : act::head_major<const float>(p.v.data(), heads, n, d);
  const std::size_t first = n - queries;
  const act::HeadsView<const float> q{
      p.q.data() + first * d,        EngineProblem::q_heads, queries, d, static_cast<std::ptrdiff_t>(n * d),
      static_cast<std::ptrdiff_t>(d)};
  const auto out = act::head_major(p.out.data(), EngineProblem::q_heads, queries, d);
  const auto keys = act::head_major<const float>(p.k.data(), heads, n, d);
  const auto call = [&] {
    if (act)
      act::attention(q, keys, values, out, options, act::paper_calibration());
    else
      act::attention(q, keys, values, out, options);
  };
  const std::int64_t extra = peak_extra_bytes(call);
  for (auto _ : state) {
    call();
    benchmark::ClobberMemory();
  }
  state.counters["peak_extra_bytes"] = static_cast<double>(extra);
}

void register_value_layouts() {
  for (const std::size_t queries : {std::size_t{2048}, std::size_t{1}})
    for (const bool act : {false, true})
      for (const act::ValueLayout layout : {act::ValueLayout::key_rows, act::ValueLayout::transposed}) {
        const std::string name =
            std::string("values_") + (layout == act::ValueLayout::transposed ? "transposed" : "key_rows") +
            (act ? "_act" : "_plain") + (queries == 1 ? "/decode" : "/prefill") + "/n:2048/d:64/heads:9/3/threads:1";
        benchmark::RegisterBenchmark(name.c_str(), value_layout, std::size_t{2048}, queries, layout, act)
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
      }
}

void register_all() {
  register_engine();
  register_cache_types();
  register_value_layouts();
  using Kernel = void (*)(benchmark::State&, std::size_t, std::size_t, std::size_t);
  struct Variant {
    const char* name;
    Kernel kernel;
    std::size_t max_n;
    bool manual_time;
  };
  const Variant variants[] = {{"fused_plain", fused_plain, 4096, false},
                              {"fused_act", fused_act, 4096, false},
                              {"reference_act", reference_act, 2048, false},
                              {"correct_after_plain", correct_after_plain, 4096, true}};
  for (const Variant& variant : variants) {
    for (std::size_t heads : {9, 32}) {
      for (std::size_t d : {64, 128}) {
        for (std::size_t n : {128, 512, 2048, 4096}) {
          if (n > variant.max_n) continue;
          const std::string name = std::string(variant.name) + "/n:" + std::to_string(n) + "/d:" + std::to_string(d) +
                                   "/heads:" + std::to_string(heads);
          auto* bench =
              benchmark::RegisterBenchmark(name.c_str(), variant.kernel, n, d, heads)->Unit(benchmark::kMillisecond);
          if (variant.manual_time) {
            bench->UseManualTime();
          } else {
            bench->UseRealTime();
          }
        }
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) { return act_bench::run_benchmarks(argc, argv, register_all); }
