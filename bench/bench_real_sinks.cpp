// Prefill attention on Q, K and V captured from SmolLM2-135M-Instruct reading real text, where
// sinks exist. (The N(0, 1) inputs of bench_attention.cpp never pass tau, so there "fused + ACT"
// times the statistics pass only.)
//
// At start-up the model reads the first 2,048 tokens of the project's docs/*.md (real English
// prose with code and tables) once, with plain attention, and a hook records the post-RoPE Q, K and
// V of layers 2, 7 and 19 (the shipped classification head set calibrates heads in each). The
// n = 512 cases use the first 512 rows: attention is causal, so they are what a 512-token prompt
// gives. Cases per layer and length, all through act::attention with the paper's calibration
// (beta 0.4, tau 0.1):
//   plain       no head calibrated (the baseline of the ratios)
//   act_shipped the heads data/heads/smollm2-135m-classification.json names for that layer
//   act_all     all 9 heads calibrated (the most ACT work a layer can ask for)
//
// Counters:
//   rows_calibrated  share of the calibrated heads' rows whose output ACT rescaled (0 for plain)
//   sinks_per_head   mean number of sink columns ACT chose per calibrated head
//
// Without the model (tools/fetch_model.sh; ACT_MODEL or ACT_CACHE_DIR override the path) the
// program registers no case and says why.
#include <act/act.hpp>
#include <act/heads/head_set.hpp>
#include <act/model/blas_gemm.hpp>
#include <act/model/llama_model.hpp>

#include <benchmark/benchmark.h>

#include "bench_main.hpp"
#include "bench_model.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

constexpr std::size_t max_tokens = 2048;
constexpr std::size_t captured_layers[] = {2, 7, 19};

// The docs pages in name order, concatenated.
std::string docs_text() {
  std::vector<std::filesystem::path> pages;
  for (const auto& entry : std::filesystem::directory_iterator(ACT_SOURCE_DIR "/docs"))
    if (entry.path().extension() == ".md") pages.push_back(entry.path());
  std::sort(pages.begin(), pages.end());
  std::string text;
  for (const auto& page : pages) {
    std::ifstream in(page);
    std::ostringstream content;
    content << in.rdbuf();
    text += content.str();
  }
  return text;
}

// One layer's operands, head-major and contiguous.
struct Captured {
  std::size_t q_heads = 0, kv_heads = 0, rows = 0, d = 0;
  std::vector<float> q, k, v;
};

std::vector<float> copy_head_major(act::HeadsView<const float> view) {
  std::vector<float> out;
  out.reserve(view.heads * view.rows * view.cols);
  for (std::size_t h = 0; h < view.heads; ++h)
    for (std::size_t i = 0; i < view.rows; ++i) out.insert(out.end(), view.row(h, i), view.row(h, i) + view.cols);
  return out;
}

// Plain attention everywhere; records the operands of the layers asked for (the model keeps its
// default float32 KV cache).
class Recorder final : public act::model::AttentionHook {
 public:
  act::CalibrationReport attend(const act::model::LayerAttention& call) override {
    if (std::find(std::begin(captured_layers), std::end(captured_layers), call.layer) != std::end(captured_layers)) {
      const auto& kv = std::get<act::model::KvViews<float>>(call.kv);
      captured[call.layer] = {call.q.heads,
                              kv.keys.heads,
                              call.q.rows,
                              call.q.cols,
                              copy_head_major(call.q),
                              copy_head_major(kv.keys),
                              copy_head_major(kv.values)};
    }
    return run(call, act::NoCalibration{}, {});
  }
  std::map<std::size_t, Captured> captured;
};

struct Capture {
  std::map<std::size_t, Captured> layers;
  act::HeadSet shipped;
};

Capture capture(const std::filesystem::path& path) {
  const auto model = act::model::LlamaModel::load(path, act::model::blas_gemm());
  std::vector<std::int32_t> tokens = model.tokenizer().encode(docs_text(), true);
  tokens.resize(std::min(tokens.size(), max_tokens));
  act::model::Activations hidden = model.embed(tokens);
  Recorder recorder;
  model.run_layers(hidden, 0, captured_layers[std::size(captured_layers) - 1] + 1, recorder, 2);
  return {std::move(recorder.captured),
          act::HeadSet::load(ACT_SOURCE_DIR "/data/heads/smollm2-135m-classification.json")};
}

enum class Heads { plain, shipped, all };

void real_sinks(benchmark::State& state, const Captured& c, std::vector<std::uint8_t> heads, std::size_t n) {
  const auto view = [&](const std::vector<float>& t, std::size_t count) {
    return act::HeadsView<const float>{
        t.data(), count, n, c.d, static_cast<std::ptrdiff_t>(c.rows * c.d), static_cast<std::ptrdiff_t>(c.d)};
  };
  std::vector<float> out(c.q_heads * n * c.d);
  const auto calibration = act::paper_calibration();
  act::AttentionExtras extras;
  extras.calibrated_heads = heads;
  act::CalibrationReport report;
  for (auto _ : state) {
    report = act::attention(view(c.q, c.q_heads), view(c.k, c.kv_heads), view(c.v, c.kv_heads),
                            act::head_major(out.data(), c.q_heads, n, c.d), {}, calibration, extras);
    benchmark::ClobberMemory();
  }
  const auto calibrated = static_cast<double>(std::count(heads.begin(), heads.end(), std::uint8_t{1}));
  state.counters["rows_calibrated"] =
      calibrated > 0 ? static_cast<double>(report.rows_calibrated) / (calibrated * static_cast<double>(n)) : 0.0;
  state.counters["sinks_per_head"] = calibrated > 0 ? static_cast<double>(report.sinks_selected) / calibrated : 0.0;
}

std::vector<std::uint8_t> head_mask(Heads which, const act::HeadSet& shipped, std::size_t layer, std::size_t count) {
  if (which == Heads::shipped) return shipped.layer_mask(static_cast<std::uint32_t>(layer), count);
  return std::vector<std::uint8_t>(count, which == Heads::all ? 1 : 0);
}

void register_all() {
  const auto path = act_bench::model_or_say_why("act_bench_real_sinks");
  if (!path) return;
  static const Capture data = capture(*path);
  const std::pair<const char*, Heads> variants[] = {
      {"plain", Heads::plain}, {"act_shipped", Heads::shipped}, {"act_all", Heads::all}};
  for (const auto& [layer, captured] : data.layers) {
    // 512 and every captured row; a docs text shorter than 512 tokens gives its own length only.
    std::vector<std::size_t> lengths{captured.rows};
    if (captured.rows > 512) lengths.insert(lengths.begin(), 512);
    for (const std::size_t n : lengths) {
      for (const auto& [variant, which] : variants) {
        const std::string name = std::string("real_") + variant + "/layer:" + std::to_string(layer) +
                                 "/n:" + std::to_string(n) + "/d:" + std::to_string(captured.d) +
                                 "/heads:" + std::to_string(captured.q_heads) + "/" + std::to_string(captured.kv_heads);
        benchmark::RegisterBenchmark(name.c_str(), real_sinks, std::cref(captured),
                                     head_mask(which, data.shipped, layer, captured.q_heads), n)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) { return act_bench::run_benchmarks(argc, argv, register_all); }
