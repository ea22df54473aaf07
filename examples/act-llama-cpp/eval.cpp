// act-llama-cpp eval: act-llama's evaluation (same tasks, prompts, protocols, demonstrations and
// scoring: act::eval::evaluate_task_with) with the logits computed by llama.cpp, one whole
// sequence per llama_decode.
#include "cli.hpp"

#include <act/core/files.hpp>
#include <act/eval/harness/harness.hpp>
#include <act/eval/harness/result_file.hpp>

#include <cstdio>
#include <memory>

namespace act_llama_cpp {
namespace {

struct EvalOptions {
  EngineFlags engine;
  act_llama::DataOptions data;
  act_llama::EvalTaskOptions eval;
};

// The logits a plan reads, sequence by sequence (what act::eval::plan_logits_from returns).
std::vector<std::vector<float>> plan_logits(Engine& engine, const act::eval::ScoringPlan& plan) {
  const auto ranges = plan.row_ranges();
  std::vector<std::vector<float>> logits;
  for (std::size_t s = 0; s < plan.sequences.size(); ++s)
    logits.push_back(engine.sequence_logits(plan.sequences[s], ranges[s].first, ranges[s].count));
  return logits;
}

std::vector<act::eval::TaskResult> evaluate(const EvalOptions& o, Engine& engine, const act::text::Tokenizer& tokenizer,
                                            const act::eval::Task& task,
                                            const std::vector<act::eval::Protocol>& protocols) {
  act::eval::EvalOptions options;
  options.shots = o.eval.shots;
  options.seeds = o.eval.seeds;
  options.progress = act_llama::progress_for(o.data);
  const auto score = [&](std::span<const act::eval::ScoringPlan> plans, std::span<const act::eval::ScoreRule> rules,
                         act::eval::ProgressReporter& progress) {
    return act::eval::score_plans(
        plans, rules, engine.vocab_size(),
        [&](const act::eval::ScoringPlan& plan) { return plan_logits(engine, plan); }, progress);
  };
  const act_llama::TaskRows loaded = act_llama::load_task_rows(o.data, o.eval, task);
  auto results = act::eval::evaluate_task_with(tokenizer, score, task, act::eval::protocols_for(task, protocols),
                                               loaded.rows, loaded.pool, options);
  for (const auto& r : results) act_llama::print_task_result(task, r, loaded.rows.size());
  return results;
}

void run_eval(const EvalOptions& o) {
  const act_llama::EvalPlan plan = act_llama::plan_evaluation(o.eval);
  const act::text::Tokenizer tokenizer = tokenizer_of(o.engine);
  Engine engine = make_engine(o.engine);
  std::vector<act::eval::TaskResult> results;
  for (const auto* task : plan.tasks)
    for (auto& r : evaluate(o, engine, tokenizer, *task, plan.protocols)) results.push_back(std::move(r));
  if (o.eval.out.empty()) return;
  const auto settings = act_llama::act_settings(o.engine.common, model_name_of(o.engine));
  const auto path = act_llama::model_path(o.engine.common);
  const act::eval::RunInfo info{path.filename().string(),
                                path.string(),
                                act::io::model_sha256(path),
                                o.engine.common.act_heads,
                                settings.heads().size(),
                                settings.calibration(),
                                o.eval.split};
  nlohmann::json doc = act::eval::results_json(info, results, false);
  doc["engine"] = "llama.cpp (llama-cpp-python 0.3.36 sdist)";
  act::write_file_atomically(o.eval.out, doc.dump(2) + "\n");
}

}  // namespace

void register_eval(CLI::App& app) {
  auto o = std::make_shared<EvalOptions>();
  CLI::App* command = app.add_subcommand("eval", "Accuracy on evaluation tasks through llama.cpp, with or without ACT");
  add_engine_flags(*command, o->engine);
  act_llama::add_data_options(*command, o->data);
  act_llama::add_eval_task_options(*command, o->eval);
  command->callback([o] { run_eval(*o); });
}

}  // namespace act_llama_cpp
