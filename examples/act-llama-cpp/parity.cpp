// act-llama-cpp parity: does ACT do the same thing inside llama.cpp as in the library's own model
// (act::model::LlamaModel::forward, what `act-llama dump-logits` runs)? For every position of every
// prompt it compares the ACT effect, (ACT logits - plain logits), of the two routes, next to the
// size of the effect itself and the plain gap between the engines (llama.cpp quantises
// activations, the library does not). Prompts are the evaluation prompts of a task (act-llama's
// prompt code), so lengths follow --shots.
#include "cli.hpp"

#include <act/eval/harness/harness.hpp>
#include <act/model/blas_gemm.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>

namespace act_llama_cpp {
namespace {

struct ParityOptions {
  EngineFlags engine;
  act_llama::DataOptions data;
  std::string task = "sst2";
  std::size_t shots = 0;
  std::uint64_t seed = 1;
  std::size_t prompts = 12;
  std::size_t min_tokens = 10;
  std::size_t max_tokens = 300;
};

// Running max and mean of |x|.
struct AbsStats {
  double max = 0.0, sum = 0.0;
  std::size_t count = 0;
  void add(double x) {
    max = std::max(max, std::abs(x));
    sum += std::abs(x);
    ++count;
  }
  double mean() const { return count == 0 ? 0.0 : sum / static_cast<double>(count); }
};

struct ParityTally {
  AbsStats effect_gap, effect, plain_gap;
  std::size_t positions = 0, act_top1_agree = 0, plain_top1_agree = 0;
};

std::size_t argmax(const float* row, std::size_t n) {
  return static_cast<std::size_t>(std::max_element(row, row + n) - row);
}

// Both routes' logits of one prompt: [plain, act] for llama.cpp and for the library.
void tally_prompt(const std::vector<float>* cpp, const std::vector<float>* lib, std::size_t vocab, ParityTally& t) {
  const std::size_t rows = cpp[0].size() / vocab;
  for (std::size_t i = 0; i < rows; ++i) {
    for (std::size_t v = 0; v < vocab; ++v) {
      const std::size_t at = i * vocab + v;
      const double effect_cpp = double(cpp[1][at]) - double(cpp[0][at]);
      const double effect_lib = double(lib[1][at]) - double(lib[0][at]);
      t.effect_gap.add(effect_cpp - effect_lib);
      t.effect.add(effect_lib);
      t.plain_gap.add(double(cpp[0][at]) - double(lib[0][at]));
    }
    t.act_top1_agree += argmax(&cpp[1][i * vocab], vocab) == argmax(&lib[1][i * vocab], vocab) ? 1 : 0;
    t.plain_top1_agree += argmax(&cpp[0][i * vocab], vocab) == argmax(&lib[0][i * vocab], vocab) ? 1 : 0;
    ++t.positions;
  }
}

// The first o.prompts evaluation prompts of the task whose length is within the bounds.
std::vector<std::vector<std::int32_t>> pick_prompts(const ParityOptions& o, const act::model::LlamaModel& m) {
  const act::eval::Task& task = *act::eval::parse_task_list(o.task).at(0);
  const auto protocol = act::eval::protocols_for(task, act::eval::parse_protocol_list("label,letter,loglik")).at(0);
  const auto rows = act_llama::load_split(o.data, task, "dev");
  const auto pool = o.shots > 0 ? act_llama::load_split(o.data, task, "calib") : std::vector<act::eval::Example>{};
  const act::eval::Demonstrations demos =
      o.shots == 0 ? act::eval::Demonstrations{} : act::eval::Demonstrations(pool, o.shots, o.seed);
  std::vector<std::vector<std::int32_t>> prompts;
  for (const auto& plan : act::eval::make_plans(m, task, protocol, rows, demos)) {
    const auto& tokens = plan.sequences.at(0);
    if (tokens.size() >= o.min_tokens && tokens.size() <= o.max_tokens) prompts.push_back(tokens);
    if (prompts.size() == o.prompts) break;
  }
  return prompts;
}

void print_tally(const ParityTally& t, std::size_t prompts) {
  std::printf("prompts %zu, positions %zu\n", prompts, t.positions);
  std::printf("ACT effect (library):            max |d| %.4f  mean |d| %.5f\n", t.effect.max, t.effect.mean());
  std::printf("effect gap (llama.cpp - library): max |d| %.4f  mean |d| %.5f\n", t.effect_gap.max, t.effect_gap.mean());
  std::printf("plain gap (llama.cpp - library):  max |d| %.4f  mean |d| %.5f\n", t.plain_gap.max, t.plain_gap.mean());
  std::printf("top-1 agreement: ACT %zu/%zu (%.2f%%), plain %zu/%zu (%.2f%%)\n", t.act_top1_agree, t.positions,
              100.0 * double(t.act_top1_agree) / double(t.positions), t.plain_top1_agree, t.positions,
              100.0 * double(t.plain_top1_agree) / double(t.positions));
}

void run_parity(const ParityOptions& o) {
  if (o.engine.common.act_heads.empty()) throw act::Error("parity compares ACT effects: pass --act-heads");
  const act::model::ActSettings act = act_llama::act_settings(o.engine.common, model_name_of(o.engine));
  const act::model::LlamaModel lib =
      act::model::LlamaModel::load(act_llama::model_path(o.engine.common), act::model::blas_gemm());
  EngineFlags plain_flags = o.engine;
  plain_flags.common.act_heads.clear();
  Engine plain = make_engine(plain_flags), with_act = make_engine(o.engine);
  if (plain.vocab_size() != lib.config().vocab_size) throw act::Error("the two routes disagree on the vocabulary size");
  const auto prompts = pick_prompts(o, lib);
  if (prompts.empty())
    throw act::Error("no prompt of " + std::to_string(o.min_tokens) + "-" + std::to_string(o.max_tokens) + " tokens");
  ParityTally tally;
  for (const auto& tokens : prompts) {
    const std::vector<float> cpp[2] = {plain.sequence_logits(tokens, 0, tokens.size()),
                                       with_act.sequence_logits(tokens, 0, tokens.size())};
    const std::vector<float> ref[2] = {std::move(lib.forward(tokens, {}, o.engine.common.threads).data),
                                       std::move(lib.forward(tokens, act, o.engine.common.threads).data)};
    std::fprintf(stderr, "prompt of %zu tokens\n", tokens.size());
    tally_prompt(cpp, ref, plain.vocab_size(), tally);
  }
  print_tally(tally, prompts.size());
}

}  // namespace

void register_parity(CLI::App& app) {
  auto o = std::make_shared<ParityOptions>();
  CLI::App* command = app.add_subcommand("parity", "ACT effect through llama.cpp vs through the library's model");
  add_engine_flags(*command, o->engine);
  act_llama::add_data_options(*command, o->data);
  command->add_option("--task", o->task, "Task whose dev prompts are used")->capture_default_str();
  command->add_option("--shots", o->shots, "Demonstrations per prompt (longer prompts)")->capture_default_str();
  command->add_option("--seed", o->seed, "Demonstration seed")->check(act_llama::seed_number())->capture_default_str();
  command->add_option("--prompts", o->prompts, "Number of prompts")
      ->check(act_llama::whole_number_from(1))
      ->capture_default_str();
  command->add_option("--min-tokens", o->min_tokens, "Shortest prompt")->capture_default_str();
  command->add_option("--max-tokens", o->max_tokens, "Longest prompt")->capture_default_str();
  command->callback([o] { run_parity(*o); });
}

}  // namespace act_llama_cpp
