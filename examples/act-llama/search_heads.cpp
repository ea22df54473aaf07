// act-llama search-heads: finds the heads worth calibrating (spec section 3) on calibration
// prompts and writes a head-set file with every head's measurements.
#include "eval_common.hpp"
#include "subcommands.hpp"

#include <act/eval/harness/harness.hpp>
#include <act/eval/search/head_factors.hpp>
#include <act/eval/search/head_screening.hpp>

#include <cstdio>
#include <limits>
#include <memory>

namespace act_llama {
namespace {

struct SearchCommandOptions {
  CommonOptions common;
  DataOptions data;
  std::string tasks;
  std::string split = "calib";
  std::size_t prompts = 128;
  std::string mc_protocol = "loglik-norm";
  std::string select = "accuracy";
  std::size_t top_k = 0;
  double min_gain = 0.0;
  std::string exclude_layers;
  std::string out;
  std::string checkpoint;
  bool naive = false;
  std::size_t screen_prompts = 0;
  std::size_t screen_keep = 48;
  std::vector<float> factors;  // a factor per head from this grid (scale-only rescaler)
};

// Up to `count` prompts taken round-robin over the tasks, each task's rows in file order (the
// splits are already shuffled), so every task is equally represented while it has rows.
std::vector<act::eval::ScoringPlan> calibration_plans(const SearchCommandOptions& o, const act::model::LlamaModel& m) {
  const auto mc = act::eval::parse_protocol(o.mc_protocol);
  if (act::eval::protocol_applies(mc, act::eval::TaskKind::classification))
    throw act::Error(
        "--protocol is the multiple-choice protocol (letter, loglik or loglik-norm); classification always uses label");
  std::vector<std::vector<act::eval::ScoringPlan>> per_task;
  for (const auto* task : act::eval::parse_task_list(o.tasks)) {
    const auto protocol = task->kind == act::eval::TaskKind::classification ? act::eval::Protocol::label : mc;
    const auto rows = load_split(o.data, *task, o.split, o.prompts);
    per_task.push_back(act::eval::make_plans(m, *task, protocol, rows, {}));
    act::eval::check_plans_fit(per_task.back(), context_limit(o.common, m), task->name);
  }
  std::vector<act::eval::ScoringPlan> plans;
  for (std::size_t i = 0; plans.size() < o.prompts; ++i) {
    bool any = false;
    for (auto& list : per_task) {
      if (i >= list.size() || plans.size() == o.prompts) continue;
      plans.push_back(std::move(list[i]));
      any = true;
    }
    if (!any) break;
  }
  return plans;
}

// "none" or "0,1,29", each a layer of the model.
std::vector<std::uint32_t> parse_layers(const std::string& text, std::size_t model_layers) {
  std::vector<std::uint32_t> layers;
  if (text == "none") return layers;
  for (const std::string& item : CLI::detail::split(text, ',')) {
    layers.push_back(parse_index(item, "--exclude-layers", "a layer number (give e.g. 0,1,29 or none)"));
    if (layers.back() >= model_layers)
      throw act::Error("--exclude-layers: layer " + item + " is outside the model (" + std::to_string(model_layers) +
                       " layers)");
  }
  return layers;
}

void print_summary(const act::eval::SearchResult& r, const act::HeadSet& set, act::eval::SelectBy by) {
  std::printf(
      "baseline: %zu/%zu right (accuracy %.4f, mean margin %.4f); %zu heads measured in %.1f s (%zu from the "
      "checkpoint)\n",
      r.baseline.correct, r.baseline.examples, r.baseline.accuracy(), r.baseline.mean_margin(), r.heads.size(),
      r.seconds, r.resumed);
  std::printf("selected %zu heads:", set.size());
  for (const auto& id : set.heads()) std::printf(" %u:%u", id.layer, id.head);
  std::printf("\nbest heads by %s gain:\n", by == act::eval::SelectBy::accuracy ? "accuracy" : "margin");
  const auto ranked = act::eval::rank_heads(r.heads, by);
  for (std::size_t i = 0; i < ranked.size() && i < 10; ++i)
    std::printf("  %2u:%-2u accuracy %+.4f  margin %+.4f  fixed %zu broken %zu\n", ranked[i].id.layer,
                ranked[i].id.head, ranked[i].accuracy_gain, ranked[i].margin_gain, ranked[i].fixed, ranked[i].broken);
}

// The checkpoint is appended to and the head set replaced: one file cannot be both.
void check_output_paths(const SearchCommandOptions& o) {
  check_output_path(o.out, "-o");
  check_output_path(o.checkpoint, "--checkpoint");
  if (o.checkpoint.empty()) return;
  const auto same = std::filesystem::weakly_canonical(o.checkpoint) == std::filesystem::weakly_canonical(o.out);
  if (same) throw act::Error("--checkpoint and -o are the same file (" + o.out + "): give the checkpoint its own");
}

// --factors: one exact search per factor, each head with its best factor.
act::HeadSet run_factor_search(const SearchCommandOptions& o, const act::model::LlamaModel& m,
                               const std::vector<act::eval::ScoringPlan>& plans,
                               const act::eval::SearchOptions& options, const act::eval::SelectionRule& rule) {
  const auto searches = act::eval::search_factors(
      o.factors, options, [&](const act::eval::SearchOptions& one) { return act::eval::search_heads(m, plans, one); });
  const auto best = act::eval::best_factors(searches, rule.by);
  act::HeadSet set = act::eval::make_factor_head_set(best, rule, options.calibration, o.factors.front(), m.name());
  act::eval::SearchResult summary = searches.front().result;
  summary.heads.clear();
  for (const auto& f : best) summary.heads.push_back(f.effect);
  for (std::size_t i = 1; i < searches.size(); ++i) {
    summary.seconds += searches[i].result.seconds;
    summary.resumed += searches[i].result.resumed;
  }
  print_summary(summary, set, rule.by);
  std::printf("factors of the selected heads:");
  for (const auto& [id, factor] : set.factors()) std::printf(" %u:%u=%g", id.layer, id.head, double{factor});
  std::printf("\n");
  return set;
}

void run_search(const SearchCommandOptions& o) {
  check_output_paths(o);
  const act::model::LlamaModel m = load_model(o.common);
  const auto plans = calibration_plans(o, m);
  if (plans.empty()) throw act::Error("no calibration prompts");
  act::eval::SearchOptions options;
  options.calibration = chosen_calibration(o.common, act::AnyCalibration::paper());
  if (!o.exclude_layers.empty()) options.excluded_layers = parse_layers(o.exclude_layers, m.config().layers);
  options.split = act::eval::parse_work_split(o.data.work_split);
  options.threads = o.common.threads;
  options.progress = progress_for(o.data);
  options.model_sha256 = act::io::model_sha256(model_path(o.common));
  if (!o.checkpoint.empty()) options.checkpoint = o.checkpoint;
  const act::eval::SelectionRule rule{act::eval::parse_select_by(o.select), o.top_k, o.min_gain};
  std::string grid;
  for (const float factor : o.factors) grid.append(grid.empty() ? "" : ", ").append(act::float_text(factor));
  if (!o.factors.empty()) options.calibration = act::eval::with_factor(options.calibration, o.factors.front());
  std::printf("%zu calibration prompts; %s search; policy %s%s%s\n", plans.size(),
              o.naive                ? "naive"
              : o.screen_prompts > 0 ? "screened"
                                     : "exact",
              options.calibration.text().c_str(), grid.empty() ? "" : ", a factor per head from ", grid.c_str());
  if (!o.factors.empty()) {
    run_factor_search(o, m, plans, options, rule).save(o.out);
    return;
  }

  act::eval::SearchResult result;
  std::vector<act::HeadMeasurement> screened_out;
  if (o.naive) {
    result = act::eval::search_heads_naive(m, plans, options);
  } else if (o.screen_prompts > 0) {
    auto screened = act::eval::screened_search(m, plans, options, {o.screen_prompts, o.screen_keep});
    for (const auto& e : screened.screen.heads) {
      const bool kept = std::any_of(screened.final.heads.begin(), screened.final.heads.end(),
                                    [&](const auto& f) { return f.id == e.id; });
      if (!kept) screened_out.push_back({e.id, e.values()});
    }
    std::printf("screening: %zu heads on %zu prompts in %.1f s\n", screened.screen.heads.size(), o.screen_prompts,
                screened.screen.seconds);
    result = std::move(screened.final);
  } else {
    result = act::eval::search_heads(m, plans, options);
  }
  act::HeadSet set = act::eval::make_head_set(result.heads, rule, options.calibration, m.name());
  for (auto& measurement : screened_out) {
    measurement.values["screened_out"] = 1.0;
    set.measurements.push_back(std::move(measurement));
  }
  set.save(o.out);
  print_summary(result, set, rule.by);
}

}  // namespace

void register_search_heads(CLI::App& app) {
  auto o = std::make_shared<SearchCommandOptions>();
  CLI::App* command =
      app.add_subcommand("search-heads", "Measure every candidate head calibrated alone and write a head-set file");
  add_common_options(*command, o->common);
  add_data_options(*command, o->data);
  command
      ->add_option("--tasks", o->tasks,
                   "Calibration tasks: names separated by commas, or all, classification, multiple_choice")
      ->required();
  command->add_option("--split", o->split, "Split the prompts come from")->capture_default_str();
  command->add_option("--prompts", o->prompts, "Number of calibration prompts (round-robin over the tasks)")
      ->check(whole_number_from(1))
      ->capture_default_str();
  command->add_option("--protocol", o->mc_protocol, "Protocol of multiple-choice tasks (classification: label)")
      ->capture_default_str();
  command->add_option("--select", o->select, "Selection rule: accuracy or margin (gain over the baseline)")
      ->capture_default_str();
  command->add_option("--top-k", o->top_k, "Keep at most K heads (0: every head that gains)")
      ->check(whole_number_from(0))
      ->capture_default_str();
  command->add_option("--min-gain", o->min_gain, "A head must gain strictly more than this")
      ->check(real_number_in(-std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity()))
      ->capture_default_str();
  command->add_option("--exclude-layers", o->exclude_layers,
                      "Layers never calibrated, comma separated, or none (default: 0, 1 and the last)");
  command->add_option("-o,--out", o->out, "Head-set file to write (JSON)")->required();
  command->add_option("--checkpoint", o->checkpoint,
                      "JSON-lines file of finished heads; resumes an interrupted search");
  command->add_flag("--naive", o->naive, "Full forward pass per head and prompt (for measuring the shared search)");
  command
      ->add_option("--screen-prompts", o->screen_prompts,
                   "Screen every head on this many prompts first, then search the best --screen-keep on all")
      ->check(whole_number_from(0));
  command->add_option("--screen-keep", o->screen_keep, "Heads that survive screening")
      ->check(whole_number_from(1))
      ->capture_default_str();
  command
      ->add_option("--factors", o->factors,
                   "A factor per head from this grid, e.g. 0.25,0.5,0.75: one exact search per factor with the "
                   "rescaler scale-only:FACTOR; each head keeps its best factor (use with --detector initial-token)")
      ->delimiter(',')
      ->check(real_number_in(0.0, std::numeric_limits<double>::infinity()))
      ->excludes("--rescaler")
      ->excludes("--beta")
      ->excludes("--naive")
      ->excludes("--screen-prompts");
  command->callback([o] { run_search(*o); });
}

}  // namespace act_llama
