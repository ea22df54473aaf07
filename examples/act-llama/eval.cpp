// act-llama eval: accuracy of tasks under protocols, with or without ACT heads, written as JSON.
#include "eval_common.hpp"
#include "subcommands.hpp"

#include <act/eval/harness/result_file.hpp>
#include <act/eval/search/candidate_heads.hpp>

#include <cstdio>
#include <iostream>
#include <memory>

namespace act_llama {
namespace {

struct EvalCommandOptions {
  CommonOptions common;
  DataOptions data;
  EvalTaskOptions eval;
  std::string control;
  std::uint64_t control_seed = 1;
  bool per_example = false;
};

// The head set the run calibrates: the file's, or a control built from it.
act::model::ActSettings eval_settings(const EvalCommandOptions& o, const act::model::LlamaModel& m) {
  act::model::ActSettings from_file = act_settings(o.common, m.name());
  if (o.control.empty()) return from_file;
  const auto& c = m.config();
  const auto candidates = act::eval::candidate_heads(c.layers, c.heads, act::eval::default_excluded_layers(c.layers));
  const act::AnyCalibration calibration =
      from_file.enabled() ? from_file.calibration() : chosen_calibration(o.common, act::AnyCalibration::paper());
  const auto control_set = [&](std::vector<act::HeadId> heads) {
    act::HeadSet set(std::move(heads), 0.4f, 0.1f, m.name());
    set.set_calibration(calibration);
    return act::model::ActSettings(std::move(set), calibration);
  };
  if (o.control == "all") return control_set(candidates);
  if (!from_file.enabled())
    throw act::Error(o.common.act_heads.empty()
                         ? "--control random needs --act-heads: it draws as many heads as that file has"
                         : "--control random: " + o.common.act_heads + " names no heads, so there are none to draw");
  return control_set(act::eval::random_heads(candidates, from_file.heads().size(), o.control_seed));
}

void run_eval(const EvalCommandOptions& o) {
  check_output_path(o.eval.out, "-o");
  const EvalPlan plan = plan_evaluation(o.eval);
  const act::model::LlamaModel m = load_model(o.common);
  const act::model::ActSettings act = eval_settings(o, m);
  act.layer_masks(m.config().layers, m.config().heads);  // heads outside the model: fail now

  act::eval::EvalOptions options;
  options.shots = o.eval.shots;
  options.seeds = o.eval.seeds;
  options.split = act::eval::parse_work_split(o.data.work_split);
  options.threads = o.common.threads;
  options.context = context_limit(o.common, m);
  options.progress = progress_for(o.data);
  std::vector<act::eval::TaskResult> results;
  for (const auto* task : plan.tasks) {
    const TaskRows loaded = load_task_rows(o.data, o.eval, *task);
    for (auto& r : act::eval::evaluate_task(m, *task, act::eval::protocols_for(*task, plan.protocols), loaded.rows,
                                            loaded.pool, act, options)) {
      print_task_result(*task, r, loaded.rows.size());
      results.push_back(std::move(r));
    }
  }
  if (o.eval.out.empty()) return;
  act::eval::RunInfo info{m.name(),
                          model_path(o.common).string(),
                          act::io::model_sha256(model_path(o.common)),
                          o.common.act_heads,
                          act.heads().size(),
                          act.calibration(),
                          o.eval.split};
  nlohmann::json doc = act::eval::results_json(info, results, o.per_example);
  doc["act"]["head_list"] = act.heads().to_json()["heads"];
  if (!o.control.empty()) doc["act"]["control"] = {{"kind", o.control}, {"seed", o.control_seed}};
  write_json_file(o.eval.out, doc);
}

}  // namespace

void register_eval(CLI::App& app) {
  auto o = std::make_shared<EvalCommandOptions>();
  CLI::App* command = app.add_subcommand("eval", "Accuracy on evaluation tasks, with or without ACT heads");
  add_common_options(*command, o->common);
  add_data_options(*command, o->data);
  add_eval_task_options(*command, o->eval);
  command
      ->add_option("--control", o->control,
                   "Replace the head set by a control: all (every candidate head) or random (as many heads as "
                   "--act-heads, drawn with --control-seed)")
      ->check(CLI::IsMember({"all", "random"}));
  command->add_option("--control-seed", o->control_seed, "Seed of the random control")
      ->check(seed_number())
      ->capture_default_str();
  command->add_flag("--per-example", o->per_example, "Also write every example's scores");
  command->callback([o] { run_eval(*o); });
}

}  // namespace act_llama
