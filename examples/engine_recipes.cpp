// The docs/usage.md recipes, one per kind of engine, on a llama.cpp-shaped call: 9 query heads over
// 3 KV heads, a 96-cell f16 KV cache of which 64 cells are used, and an f16 KQ mask. Each recipe
// is checked against the library's own fused ACT call; the program fails if one disagrees.
#include <act/act.hpp>

#include <algorithm>
#include <barrier>
#include <cmath>
#include <cstdio>
#include <random>
#include <thread>
#include <vector>

namespace {

constexpr std::size_t q_heads = 9, kv_heads = 3, dim = 64, queries = 64, cells = 96;

struct Call {
  std::vector<float> q = std::vector<float>(q_heads * queries * dim);
  std::vector<act::Half> k = std::vector<act::Half>(kv_heads * cells * dim), v = k;
  std::vector<std::uint16_t> mask = std::vector<std::uint16_t>(queries * cells);  // f16: 0 or -inf
  act::AttentionOptions options;

  Call() {
    std::mt19937 rng(7);
    std::uniform_int_distribution<int> sixteenths(-32, 32);
    for (float& x : q) x = static_cast<float>(sixteenths(rng)) / 16.0f;
    for (std::size_t e = 0; e < k.size(); ++e) {  // grid values: exact halves (0x3C00 = 1.0 step)
      k[e] = act::Half{static_cast<std::uint16_t>(0x3C00 + (e * 37 % 512))};
      v[e] = act::Half{static_cast<std::uint16_t>(0x3800 + (e * 53 % 1024))};
    }
    // Cells 0 and 5 become sinks: every query leans along component 0, which those keys carry.
    for (std::size_t row = 0; row < q_heads * queries; ++row) q[row * dim] = 2.0f;
    for (std::size_t head = 0; head < kv_heads; ++head)
      for (std::size_t cell : {0, 5}) k[(head * cells + cell) * dim] = act::Half{0x4A00};  // 12.0
    for (std::size_t i = 0; i < queries; ++i)
      for (std::size_t j = 0; j < cells; ++j) mask[i * cells + j] = j <= i ? 0x0000 : 0xFC00;
    options.masking = act::Masking::none;  // the mask carries causality and the unused cells
    options.mask = act::mask_view(mask.data(), 1, queries, cells, cells);
  }
  act::HeadsView<const float> query() const { return act::head_major<const float>(q.data(), q_heads, queries, dim); }
  act::HeadsView<const act::Half> keys() const {
    return act::head_major<const act::Half>(k.data(), kv_heads, cells, dim);
  }
  act::HeadsView<const act::Half> values() const {
    return act::head_major<const act::Half>(v.data(), kv_heads, cells, dim);
  }
  // V as llama.cpp keeps it without flash attention: per KV head, `dim` rows of `cells` values.
  std::vector<act::Half> transposed_values() const {
    std::vector<act::Half> out(v.size());
    for (std::size_t head = 0; head < kv_heads; ++head)
      for (std::size_t cell = 0; cell < cells; ++cell)
        for (std::size_t c = 0; c < dim; ++c) out[(head * dim + c) * cells + cell] = v[(head * cells + cell) * dim + c];
    return out;
  }
  // The same cache widened to float (for recipe 4, whose stages take float K/V).
  std::vector<float> widened(const std::vector<act::Half>& cache) const {
    std::vector<float> out;
    for (act::Half x : cache) out.push_back(act::to_float(x));
    return out;
  }
};

act::HeadsView<float> view(std::vector<float>& out) { return act::head_major(out.data(), q_heads, queries, dim); }

bool close(const std::vector<float>& a, const std::vector<float>& b, float tolerance, const char* recipe) {
  float worst = 0.0f;
  for (std::size_t e = 0; e < a.size(); ++e) worst = std::max(worst, std::abs(a[e] - b[e]));
  std::printf("%-34s max |diff| vs act::attention = %.2e\n", recipe, static_cast<double>(worst));
  return worst <= tolerance;
}

// Recipe 3: the engine's own threads: three threads, one slice each, the engine's barrier; the f16
// cache is read in place.
std::vector<float> engine_threads(const Call& call) {
  std::vector<float> sliced(call.q.size());
  const auto calibration = act::paper_calibration();
  act::SlicedAttention<decltype(calibration), act::Half> job(call.query(), call.keys(), call.values(), view(sliced),
                                                             call.options, calibration, {}, 3);
  std::barrier sync(3);
  std::vector<std::thread> threads;
  for (std::size_t ith = 0; ith < 3; ++ith)
    threads.emplace_back([&, ith] {
      for (std::size_t phase = 0; phase < job.phases(); ++phase) {
        job.run(phase, ith);  // noexcept; the first failure is in job.status()
        sync.arrive_and_wait();
      }
    });
  for (std::thread& thread : threads) thread.join();
  if (!job.status().ok()) sliced.clear();
  return sliced;
}

// Recipe 4: the engine can only add a mask: statistics pass, sinks, per-row bias on sink columns,
// then its own second softmax (here act::attention with a per-head float32 mask).
std::vector<float> add_a_mask(const Call& call, act::HeadsView<const float> keys, act::HeadsView<const float> values,
                              std::vector<act::SinkSet>& chosen) {
  const auto calibration = act::paper_calibration();
  std::vector<float> plain(call.q.size()), lse(q_heads * queries);
  act::attention(call.query(), keys, values, view(plain), call.options, act::NoCalibration{}, {.lse = lse});
  std::vector<act::ColumnStats> stats(q_heads);
  act::column_statistics(call.query(), keys, values, view(plain), lse, call.options, stats);
  chosen.assign(q_heads, {});
  for (std::size_t h = 0; h < q_heads; ++h) calibration.detector.select(stats[h].view(), chosen[h]);
  std::vector<float> bias(q_heads * queries);
  act::sink_logit_biases(call.query(), keys, lse, call.options, chosen, calibration.rescaler, bias);
  std::vector<float> second_mask(q_heads * queries * cells);
  for (std::size_t h = 0; h < q_heads; ++h)
    for (std::size_t i = 0; i < queries; ++i)
      for (std::size_t j = 0; j < cells; ++j) {
        const bool sink = std::binary_search(chosen[h].begin(), chosen[h].end(), static_cast<std::uint32_t>(j));
        second_mask[(h * queries + i) * cells + j] = j > i ? -INFINITY : sink ? bias[h * queries + i] : 0.0f;
      }
  act::AttentionOptions second = call.options;
  second.mask = act::mask_view(second_mask.data(), q_heads, queries, cells, cells);
  std::vector<float> biased(call.q.size());
  act::attention(call.query(), keys, values, view(biased), second);
  return biased;
}

}  // namespace

int main() {
  const Call call;
  const auto calibration = act::paper_calibration();
  // Recipe 1: the engine owns no attention. One call, the cache and mask as they are.
  std::vector<float> expected(call.q.size());
  std::vector<act::SinkSet> sinks;
  act::attention(call.query(), call.keys(), call.values(), view(expected), call.options, calibration,
                 {.sinks = &sinks});
  std::size_t selected = 0;
  for (const act::SinkSet& head : sinks) selected += head.size();
  std::printf("1: act::attention over the f16 cache: %zu sinks over %zu heads\n", selected, q_heads);
  bool ok = selected > 0;

  // Recipe 1, V transposed: the same call with the options naming V's layout.
  const std::vector<act::Half> v_transposed = call.transposed_values();
  act::AttentionOptions transposed_options = call.options;
  transposed_options.values = act::ValueLayout::transposed;
  std::vector<float> from_transposed(call.q.size());
  act::attention(call.query(), call.keys(), act::head_major<const act::Half>(v_transposed.data(), kv_heads, dim, cells),
                 view(from_transposed), transposed_options, calibration);
  ok &= close(from_transposed, expected, 0.0f, "1: V transposed (llama.cpp, no FA)");

  // Recipe 2: the engine's kernel returns O and lse; correct() calibrates O in place, reading the
  // f16 cache in place.
  std::vector<float> out(call.q.size()), lse(q_heads * queries);
  act::attention(call.query(), call.keys(), call.values(), view(out), call.options, act::NoCalibration{}, {.lse = lse});
  const act::Status corrected = act::try_correct<decltype(calibration), act::Half>(
      call.query(), call.keys(), call.values(), view(out), lse, call.options, calibration);
  ok &= corrected.ok() && close(out, expected, 1e-4f, "2: own kernel + lse, correct()");

  std::vector<float> sliced = engine_threads(call);
  ok &= !sliced.empty() && close(sliced, expected, 1e-5f, "3: engine threads, SlicedAttention");
  std::vector<act::SinkSet> chosen;
  const std::vector<float> k = call.widened(call.k), v = call.widened(call.v);
  const auto keys = act::head_major<const float>(k.data(), kv_heads, cells, dim);
  const auto values = act::head_major<const float>(v.data(), kv_heads, cells, dim);
  const std::vector<float> biased = add_a_mask(call, keys, values, chosen);
  ok &= chosen == sinks && close(biased, expected, 1e-4f, "4: add-a-mask, stats + logit bias");
  std::puts(ok ? "all recipes agree" : "a recipe disagrees");
  return ok ? 0 : 1;
}
