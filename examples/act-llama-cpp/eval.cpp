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
  std::string tasks;
  std::string split = "dev";
  std::string protocols = "label,loglik-norm";
  std::size_t shots = 0;
  std::vector<std::uint64_t> seeds = {1, 2, 3};
  std::size_t limit = 0;
  std::string out;
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
  options.shots = o.shots;
  options.seeds = o.seeds;
  options.progress = act_llama::progress_for(o.data);
  const auto score = [&](std::span<const act::eval::ScoringPlan> plans, std::span<const act::eval::ScoreRule> rules,
                         act::eval::ProgressReporter& progress) {
    return act::eval::score_plans(
        plans, rules, engine.vocab_size(),
        [&](const act::eval::ScoringPlan& plan) { return plan_logits(engine, plan); }, progress);
  };
  const auto rows = act_llama::load_split(o.data, task, o.split, o.limit);
  const auto pool = o.shots > 0 ? act_llama::load_split(o.data, task, "calib") : std::vector<act::eval::Example>{};
  auto results = act::eval::evaluate_task_with(tokenizer, score, task, act::eval::protocols_for(task, protocols), rows,
                                               pool, options);
  for (const auto& r : results)
    std::printf("%-14s %-11s %zu rows  accuracy %.4f\n", std::string(task.name).c_str(),
                std::string(act::eval::protocol_name(r.protocol)).c_str(), rows.size(), r.accuracy());
  std::fflush(stdout);
  return results;
}

void run_eval(const EvalOptions& o) {
  const auto tasks = act::eval::parse_task_list(o.tasks);
  const auto protocols = act::eval::parse_protocol_list(o.protocols);
  for (const auto* task : tasks) act::eval::protocols_for(*task, protocols);  // fail before loading anything
  if (o.shots > 0 && o.seeds.empty()) throw act::Error("--shots needs at least one --seeds value");
  const act::text::Tokenizer tokenizer = tokenizer_of(o.engine);
  Engine engine = make_engine(o.engine);
  std::vector<act::eval::TaskResult> results;
  for (const auto* task : tasks)
    for (auto& r : evaluate(o, engine, tokenizer, *task, protocols)) results.push_back(std::move(r));
  if (o.out.empty()) return;
  const auto settings = act_llama::act_settings(o.engine.common, model_name_of(o.engine));
  const auto path = act_llama::model_path(o.engine.common);
  const act::eval::RunInfo info{path.filename().string(),
                                path.string(),
                                act::io::model_sha256(path),
                                o.engine.common.act_heads,
                                settings.heads().size(),
                                settings.calibration(),
                                o.split};
  nlohmann::json doc = act::eval::results_json(info, results, false);
  doc["engine"] = "llama.cpp (llama-cpp-python 0.3.36 sdist)";
  act::write_file_atomically(o.out, doc.dump(2) + "\n");
}

}  // namespace

void register_eval(CLI::App& app) {
  auto o = std::make_shared<EvalOptions>();
  CLI::App* command = app.add_subcommand("eval", "Accuracy on evaluation tasks through llama.cpp, with or without ACT");
  add_engine_flags(*command, o->engine);
  act_llama::add_data_options(*command, o->data);
  command->add_option("--task", o->tasks, "Tasks: names separated by commas, or all, classification, multiple_choice")
      ->required();
  command->add_option("--split", o->split, "Split to evaluate (calib, dev)")->capture_default_str();
  command->add_option("--protocol", o->protocols, "Protocols, comma separated (as act-llama eval)")
      ->capture_default_str();
  command->add_option("--shots", o->shots, "Demonstrations per prompt, drawn from the calib split")
      ->check(act_llama::whole_number_from(0));
  command->add_option("--seeds", o->seeds, "Demonstration seeds (k-shot)")->delimiter(',');
  command->add_option("--limit", o->limit, "Only the first N rows of each split (0: all)")
      ->check(act_llama::whole_number_from(0));
  command->add_option("-o,--out", o->out, "Result file (JSON)");
  command->callback([o] { run_eval(*o); });
}

}  // namespace act_llama_cpp
