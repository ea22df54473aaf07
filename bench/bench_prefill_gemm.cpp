// The model's prefill with each GEMM it can run on, in the same run: all 30 layers of
// SmolLM2-135M-Instruct (Q4_1) over a prompt of n tokens, OpenMP's default thread count, plain
// attention, no logits. This is the forward pass the head search repeats hundreds of thousands of
// times, where the matrix products take nearly all the time (docs/results.md).
//   blas   OpenBLAS sgemm on float32 tiles decoded from Q4_1 (what act-llama runs by default)
//   f32    model/row_gemm.hpp's f32_gemm: the library's own float32 GEMM on the same tiles
//   bf16   row_gemm.hpp's bf16_gemm: both operands rounded to bfloat16, vdpbf16ps where the build
//          has it (counter bf16_native), else float FMAs over the same rounding
//
// Counters:
//   tokens/s     prompt tokens through all layers per second
//   bf16_native  1 when bf16_gemm runs on AVX-512 BF16 in this build
//
// Without the model (tools/fetch_model.sh; ACT_MODEL or ACT_CACHE_DIR override the path) the
// program registers no case and says why.
#include <act/model/blas_gemm.hpp>
#include <act/model/llama_model.hpp>
#include <act/model/row_gemm.hpp>

#include <benchmark/benchmark.h>

#include "bench_main.hpp"
#include "bench_model.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

// Token ids of an ordinary English prompt, repeated to n tokens (the ids only set the activations'
// values; the products' cost depends on n alone).
std::vector<std::int32_t> prompt_tokens(const act::model::LlamaModel& model, std::size_t n) {
  const auto text = model.tokenizer().encode(
      "Review: a gripping, beautifully shot film whose second half loses its nerve. Sentiment:", false);
  std::vector<std::int32_t> tokens;
  while (tokens.size() < n) tokens.push_back(text[tokens.size() % text.size()]);
  return tokens;
}

void bench_prefill(benchmark::State& state, const act::model::LlamaModel* model, std::size_t n) {
  const auto tokens = prompt_tokens(*model, n);
  for (auto _ : state) {
    act::model::Activations hidden = model->embed(tokens);
    model->run_layers(hidden, 0, model->config().layers, act::model::ActSettings{}, 0);
    benchmark::DoNotOptimize(hidden.data.data());
  }
  state.counters["tokens/s"] =
      benchmark::Counter(static_cast<double>(n * state.iterations()), benchmark::Counter::kIsRate);
  state.counters["bf16_native"] = act::model::bf16_gemm_native ? 1 : 0;
}

void register_all() {
  const auto path = act_bench::model_or_say_why("act_bench_prefill_gemm");
  if (!path) return;
  using act::model::LlamaModel;
  const std::pair<std::string, act::model::Gemm> gemms[] = {
      {"blas", act::model::blas_gemm()}, {"f32", act::model::f32_gemm()}, {"bf16", act::model::bf16_gemm()}};
  // Models live for the whole program: the registered cases point at them.
  static std::vector<std::pair<std::string, std::unique_ptr<LlamaModel>>> models;
  for (const auto& [name, gemm] : gemms)
    models.emplace_back(name, std::make_unique<LlamaModel>(LlamaModel::load(*path, gemm)));
  for (const std::size_t n : {32u, 96u, 256u})
    for (const auto& [name, model] : models)
      benchmark::RegisterBenchmark(("prefill/" + name + "/n:" + std::to_string(n)).c_str(), bench_prefill, model.get(),
                                   n)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
}

}  // namespace

int main(int argc, char** argv) { return act_bench::run_benchmarks(argc, argv, register_all); }
