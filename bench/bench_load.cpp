// Model load time with and without the load-time tensor checks (io/gguf_checks.hpp: overlapping
// data ranges, non-finite weights), on the fetched SmolLM2 (or ACT_MODEL). "parts" builds
// what LlamaModel's constructor builds except the checks (the load before the checks existed);
// "model" is LlamaModel::load; "checks" runs the checks alone on an opened file. The file stays in
// the page cache between iterations, so these are warm-cache figures; read ratios between rows.
#include <act/io/gguf_checks.hpp>
#include <act/model/llama_model.hpp>

#include <benchmark/benchmark.h>

#include "bench_model.hpp"

#include <cstdlib>
#include <filesystem>

namespace {

bool have_model(benchmark::State& state) {
  if (std::filesystem::is_regular_file(act_bench::model_path())) return true;
  state.SkipWithError("no model: set ACT_MODEL or run tools/fetch_model.sh");
  return false;
}

void load_parts(benchmark::State& state) {
  if (!have_model(state)) return;
  for (auto _ : state) {
    const act::io::GgufFile file = act::io::GgufFile::open(act_bench::model_path());
    const act::model::LlamaConfig config = act::model::LlamaConfig::from_gguf(file);
    const act::model::LlamaWeights weights = act::model::LlamaWeights::from_gguf(file, config);
    const act::text::Tokenizer tokenizer = act::text::Tokenizer::from_gguf(file);
    benchmark::DoNotOptimize(&weights);
    benchmark::DoNotOptimize(&tokenizer);
  }
}

void load_model(benchmark::State& state) {
  if (!have_model(state)) return;
  for (auto _ : state) {
    const act::model::LlamaModel model = act::model::LlamaModel::load(act_bench::model_path());
    benchmark::DoNotOptimize(model.load_warnings().size());
  }
}

void checks_only(benchmark::State& state) {
  if (!have_model(state)) return;
  const act::io::GgufFile file = act::io::GgufFile::open(act_bench::model_path());
  for (auto _ : state) benchmark::DoNotOptimize(act::io::check_tensor_data(file).size());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * file.bytes().size()));
}

}  // namespace

BENCHMARK(load_parts)->Name("load/parts (no checks)")->Unit(benchmark::kMillisecond);
BENCHMARK(load_model)->Name("load/model (with checks)")->Unit(benchmark::kMillisecond);
BENCHMARK(checks_only)->Name("load/checks alone")->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
