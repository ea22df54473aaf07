// Decode attention: one query row per head against a KV cache (9 query heads over 3 KV heads, the
// SmolLM2 shape), plain and with ACT, on inputs with real sinks. In the same run: the block kernel
// on the same call (the path decode took before the split-K kernel) and, when ggml is found, ggml's
// CPU flash attention with f32 and f16 caches; ratios are read between rows of one run. Counters:
// rows calibrated and sinks per head per call (an ACT figure on inputs without sinks would measure
// nothing), cache bytes per second, and for ggml the largest difference from act's output.
// The `/layers:30` cases step 30 layers' caches in turn, so caches and statistics come from DRAM
// as in a model's decode; `act_shipped` calibrates the shipped head set's heads of each layer.
// Every case's cache grows by one key per step from kv (history_steps below), so ACT's running
// statistics see a causal history, as in a model; the `causal_counts` counter checks that they did.
#include <act/act.hpp>
#include <act/heads/head_set.hpp>

#ifdef ACT_BENCH_WITH_GGML
#include "ggml_flash_decode.hpp"
#endif

#include <benchmark/benchmark.h>

#include "bench_main.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <numeric>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace {

constexpr std::size_t query_heads = 9, kv_heads = 3, model_layers = 30;

// Decode in a model appends one key per step and each row sees every key so far: a causal history,
// whose counts ACT keeps as a number instead of an array. So each layer steps kv = length, length +
// 1, ..., length + history_steps - 1 (on average 0.8% more keys than `length` at 2048), then starts
// that stretch again from the same history.
constexpr std::size_t history_steps = 32;

// K/V caches with room for `length + growth` tokens for each of `layers` layers, and one query row
// per head. Keys 0, 13 and length / 2 are sinks: every query leans towards them (about half of each
// row's mass goes there, as in SmolLM2's sink heads). Every layer holds the same numbers in its own
// memory.
struct DecodeProblem {
  std::size_t length, dim, layers, capacity;
  std::vector<float> q, k, v, out;

  DecodeProblem(std::size_t kv_length, std::size_t head_dim, std::size_t layer_count = 1, std::size_t growth = 0)
      : length(kv_length),
        dim(head_dim),
        layers(layer_count),
        capacity(kv_length + growth),
        q(query_heads * dim),
        k(layers * layer_size()),
        v(k.size()),
        out(q.size()) {
    std::mt19937 rng(7);
    std::normal_distribution<float> normal;
    for (float& x : q) x = normal(rng);
    for (auto* cache : {&k, &v})
      for (std::size_t i = 0; i < layer_size(); ++i) (*cache)[i] = normal(rng);
    const float strength = std::log(static_cast<float>(length)) * std::sqrt(static_cast<float>(dim)) / 1.5f;
    for (std::size_t h = 0; h < query_heads; ++h) q[h * dim] = std::abs(q[h * dim]) + 1.0f;
    for (std::size_t h = 0; h < kv_heads; ++h)
      for (std::size_t j : {std::size_t{0}, std::size_t{13}, length / 2}) k[(h * capacity + j) * dim] = strength;
    for (auto* cache : {&k, &v})
      for (std::size_t layer = 1; layer < layers; ++layer)
        std::copy_n(cache->begin(), layer_size(), cache->begin() + static_cast<std::ptrdiff_t>(layer * layer_size()));
  }
  std::size_t layer_size() const noexcept { return kv_heads * capacity * dim; }
  act::HeadsView<const float> queries() const { return act::head_major(q.data(), query_heads, 1, dim); }
  // The first `keys` keys of a layer's cache.
  act::HeadsView<const float> cache(const std::vector<float>& t, std::size_t layer, std::size_t keys) const {
    return act::head_major_in(t.data() + layer * layer_size(), kv_heads, keys, capacity, dim);
  }
  act::HeadsView<float> output() { return act::head_major(out.data(), query_heads, 1, dim); }
};

enum class Path { decode, block };
// act: every head calibrated (the most ACT work a layer can ask for); act_shipped: the heads the
// shipped classification set names for each layer (with the 30 layers of a model only).
enum class Mode { plain, act, act_shipped };

// One decode step of one layer through the path under test; ACT keeps that layer's running
// statistics, as a model does.
template <class Cal>
act::CalibrationReport step(DecodeProblem& p, std::size_t layer, std::size_t keys, Path path, const Cal& calibration,
                            std::span<const std::uint8_t> calibrated_heads, act::SinkState& state, int threads) {
  act::AttentionOptions options;
  options.threads = threads;
  act::AttentionExtras extras;
  extras.calibrated_heads = calibrated_heads;
  extras.running_stats = state.span();
  const auto k = p.cache(p.k, layer, keys), v = p.cache(p.v, layer, keys);
  if (path == Path::decode) return act::attention(p.queries(), k, v, p.output(), options, calibration, extras);
  const act::detail::Operands<float> in{p.queries(), k, v};
  const act::AttentionGeometry g = act::detail::resolve_fused(in, p.output(), options, extras);
  return act::detail::block_attention(in, p.output(), g, extras, calibration, threads);
}

// The statistics of a causal history of length - 1 rows whose column means are those of one decode
// row over the first length - 1 keys: what prefill and decode up to there would have built, near
// enough to choose the same sinks.
template <class Cal>
act::SinkState seeded_history(DecodeProblem& p, Path path, const Cal& calibration, int threads) {
  act::SinkState state(query_heads);
  const std::size_t rows = p.length - 1;
  step(p, 0, rows, path, calibration, {}, state, threads);  // received: that row's weights, seen once
  std::vector<std::size_t> visible(rows);
  std::iota(visible.begin(), visible.end(), std::size_t{1});
  for (act::ColumnStats& head : state.span()) {
    if (head.size() == 0) continue;  // plain: nothing kept
    for (std::size_t j = 0; j < rows; ++j) head.received[j] *= static_cast<float>(rows - j);
    head.seen_by.clear();
    head.seen_by.add_rows(visible);
  }
  return state;
}

// Counter: the share of calibrated heads whose counts are still arithmetic (1 when the stepping kept
// every history causal, as a model's decode does).
void count_causal_heads(benchmark::State& state, const std::vector<act::SinkState>& sink_states,
                        const std::vector<std::vector<std::uint8_t>>& masks) {
  std::size_t calibrated = 0, causal = 0;
  for (std::size_t l = 0; l < sink_states.size(); ++l)
    for (std::size_t h = 0; h < query_heads; ++h) {
      const act::ColumnStats& stats = sink_states[l].head(h);
      if (stats.size() == 0 || (!masks[l].empty() && masks[l][h] == 0)) continue;
      ++calibrated;
      causal += stats.seen_by.form() == act::SeenCounts::Form::causal;
    }
  if (calibrated > 0) state.counters["causal_counts"] = static_cast<double>(causal) / static_cast<double>(calibrated);
}

// The calibrated heads of each layer: empty (every head) unless `mode` is act_shipped.
std::vector<std::vector<std::uint8_t>> calibrated_heads(Mode mode, std::size_t layers) {
  std::vector<std::vector<std::uint8_t>> masks(layers);
  if (mode != Mode::act_shipped) return masks;
  const act::HeadSet shipped = act::HeadSet::load(ACT_SOURCE_DIR "/data/heads/smollm2-135m-classification.json");
  for (std::size_t layer = 0; layer < layers; ++layer)
    masks[layer] = shipped.layer_mask(static_cast<std::uint32_t>(layer), query_heads);
  return masks;
}

// Steps the layers in turn, one per iteration: with more than one, each layer's cache and
// statistics have left the CPU's caches by its next step, as in a model's decode.
template <class Cal>
void run(benchmark::State& state, DecodeProblem& p, Path path, const std::vector<std::vector<std::uint8_t>>& masks,
         const Cal& calibration, int threads) {
  const act::SinkState history = seeded_history(p, path, calibration, threads);
  std::vector<act::SinkState> sink_states(p.layers, history);
  std::vector<std::size_t> steps(p.layers, 0);           // each layer's place in its stretch of history
  std::vector<act::CalibrationReport> latest(p.layers);  // each layer's report of its latest step
  std::size_t layer = 0;
  for (auto _ : state) {
    latest[layer] =
        step(p, layer, p.length + steps[layer], path, calibration, masks[layer], sink_states[layer], threads);
    if (++steps[layer] == history_steps) {
      steps[layer] = 0;
      sink_states[layer] = history;
    }
    layer = (layer + 1) % p.layers;
    benchmark::ClobberMemory();
  }
  count_causal_heads(state, sink_states, masks);
  act::CalibrationReport total;
  std::size_t calibrated = 0;
  const std::size_t stepped = std::min(static_cast<std::size_t>(state.iterations()), p.layers);
  for (std::size_t l = 0; l < stepped; ++l) {
    total += latest[l];
    calibrated +=
        masks[l].empty() ? query_heads : static_cast<std::size_t>(std::count(masks[l].begin(), masks[l].end(), 1));
  }
  // Per layer step, and per calibrated head: a layer with few shipped heads is not read as 9.
  state.counters["rows_calibrated"] =
      stepped == 0 ? 0.0 : static_cast<double>(total.rows_calibrated) / static_cast<double>(stepped);
  state.counters["sinks_per_head"] =
      calibrated == 0 ? 0.0 : static_cast<double>(total.sinks_selected) / static_cast<double>(calibrated);
  const double bytes = 2.0 * static_cast<double>(kv_heads * p.length * p.dim * sizeof(float));
  state.counters["cache_GB/s"] = benchmark::Counter(bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

void decode(benchmark::State& state, Path path, Mode mode, std::size_t length, std::size_t layers, int threads) {
  std::vector<std::vector<std::uint8_t>> masks;
  try {
    masks = calibrated_heads(mode, layers);
  } catch (const std::exception& e) {  // no readable head set: this case only
    state.SkipWithError(e.what());
    return;
  }
  DecodeProblem p(length, 64, layers, history_steps);
  if (mode == Mode::plain) {
    run(state, p, path, masks, act::NoCalibration{}, threads);
  } else {
    run(state, p, path, masks, act::paper_calibration(), threads);
  }
}

std::string problem_name(std::size_t length, int threads) {
  return "/kv:" + std::to_string(length) + "/d:64/heads:9_3/threads:" + std::to_string(threads);
}

#ifdef ACT_BENCH_WITH_GGML
void ggml_decode(benchmark::State& state, ggml_type cache_type, std::size_t length, int threads) {
  DecodeProblem p(length, 64);
  act::AttentionOptions options;
  options.threads = threads;
  act::attention(p.queries(), p.cache(p.k, 0, length), p.cache(p.v, 0, length), p.output(), options);
  act_bench::GgmlFlashDecode ggml(p.q, p.k, p.v, query_heads, kv_heads, length, 64, cache_type, threads);
  for (auto _ : state) {
    ggml.run();
    benchmark::ClobberMemory();
  }
  double difference = 0.0;
  for (std::size_t i = 0; i < p.out.size(); ++i)
    difference = std::max(difference, static_cast<double>(std::abs(ggml.output()[i] - p.out[i])));
  state.counters["max_abs_diff_vs_act"] = difference;
  const double bytes = 2.0 * static_cast<double>(kv_heads * length * 64 * ggml_type_size(cache_type));
  state.counters["cache_GB/s"] = benchmark::Counter(bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}
#endif

void register_all() {
  for (const std::size_t length : {256, 2048, 8192})
    for (const int threads : {1, 2}) {
      for (const Mode mode : {Mode::plain, Mode::act})
        for (const Path path : {Path::decode, Path::block}) {
          const std::string name = std::string(path == Path::decode ? "decode" : "block") +
                                   (mode == Mode::plain ? "_plain" : "_act") + problem_name(length, threads);
          benchmark::RegisterBenchmark(name.c_str(), decode, path, mode, length, 1, threads)
              ->Unit(benchmark::kMicrosecond)
              ->UseRealTime();
        }
      // The decode path as inside a model: 30 layers (SmolLM2's count) stepped in turn.
      for (const auto& [mode, kind] : {std::pair{Mode::plain, "decode_plain"}, std::pair{Mode::act, "decode_act"},
                                       std::pair{Mode::act_shipped, "decode_act_shipped"}}) {
        if (length < 2048) continue;
        const std::string name = kind + problem_name(length, threads) + "/layers:" + std::to_string(model_layers);
        benchmark::RegisterBenchmark(name.c_str(), decode, Path::decode, mode, length, model_layers, threads)
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
      }
#ifdef ACT_BENCH_WITH_GGML
      for (const ggml_type type : {GGML_TYPE_F32, GGML_TYPE_F16}) {
        const std::string name = std::string("ggml_flash_") + ggml_type_name(type) + problem_name(length, threads);
        benchmark::RegisterBenchmark(name.c_str(), ggml_decode, type, length, threads)
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
      }
#endif
    }
}

}  // namespace

int main(int argc, char** argv) { return act_bench::run_benchmarks(argc, argv, register_all); }
