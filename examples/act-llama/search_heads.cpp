// act-llama search-heads: finds the heads worth calibrating (spec section 3) on calibration
// prompts and writes a head-set file with every head's measurements.
#include "eval_common.hpp"
#include "search_ranks.hpp"
#include "subcommands.hpp"

#include <act/eval/harness/harness.hpp>
#include <act/eval/search/head_factors.hpp>
#include <act/eval/search/head_partition.hpp>
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
  bool early_stop = false;
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

void print_summary(const act::eval::SearchResult& r, const act::HeadSet& set, act::eval::SelectBy by,
                   std::size_t layers) {
  std::printf(
      "baseline: %zu/%zu right (accuracy %.4f, mean margin %.4f); %zu heads measured in %.1f s (%zu from the "
      "checkpoint)\n",
      r.baseline.correct, r.baseline.examples, r.baseline.accuracy(), r.baseline.mean_margin(), r.heads.size(),
      r.seconds, r.resumed);
  std::size_t stopped = 0, runs = 0, passes = 0;
  for (const auto& e : r.heads) {
    stopped += e.complete() ? 0 : 1;
    runs += e.complete() ? e.prompts : e.evaluated;
    passes += (e.complete() ? e.prompts : e.evaluated) * (layers - e.id.layer);
  }
  std::printf("%zu (head, prompt) runs of %zu, %zu prompt-layer passes; %zu heads stopped early\n", runs,
              r.heads.size() * r.baseline.examples, passes, stopped);
  std::printf("selected %zu heads:", set.size());
  for (const auto& id : set.heads()) std::printf(" %u:%u", id.layer, id.head);
  std::printf("\nbest heads by %s gain:\n", by == act::eval::SelectBy::accuracy ? "accuracy" : "margin");
  const auto ranked = act::eval::rank_heads(r.heads, by);
  for (std::size_t i = 0; i < ranked.size() && i < 10; ++i) {
    const auto& e = ranked[i];
    if (e.complete())
      std::printf("  %2u:%-2u accuracy %+.4f  margin %+.4f  fixed %zu broken %zu\n", e.id.layer, e.id.head,
                  e.accuracy_gain, e.margin_gain, e.fixed, e.broken);
    else  // only a bound is known (early stop)
      std::printf("  %2u:%-2u accuracy %s %+.4f  stopped after %zu of %zu prompts (fixed %zu broken %zu)\n", e.id.layer,
                  e.id.head, e.stop == act::eval::HeadStop::rejected ? "<=" : ">=", e.accuracy_gain, e.evaluated,
                  e.prompts, e.fixed, e.broken);
  }
}

// The checkpoint is appended to and the head set replaced: one file cannot be both.
void check_output_paths(const SearchCommandOptions& o) {
  check_output_path(o.out, "-o");
  check_output_path(o.checkpoint, "--checkpoint");
  if (o.checkpoint.empty()) return;
  const auto same = std::filesystem::weakly_canonical(o.checkpoint) == std::filesystem::weakly_canonical(o.out);
  if (same) throw act::Error("--checkpoint and -o are the same file (" + o.out + "): give the checkpoint its own");
}

// What every rank builds alike from the command line before searching.
struct PreparedSearch {
  act::model::LlamaModel model;
  std::vector<act::eval::ScoringPlan> plans;
  act::eval::SearchOptions options;
  act::eval::SelectionRule rule;
};

std::unique_ptr<PreparedSearch> prepare(const SearchCommandOptions& o, bool show_progress) {
  check_output_paths(o);
  auto p = std::unique_ptr<PreparedSearch>(new PreparedSearch{load_model(o.common), {}, {}, {}});
  p->plans = calibration_plans(o, p->model);
  if (p->plans.empty()) throw act::Error("no calibration prompts");
  act::eval::SearchOptions& options = p->options;
  options.calibration = chosen_calibration(o.common, act::AnyCalibration::paper());
  if (!o.exclude_layers.empty()) options.excluded_layers = parse_layers(o.exclude_layers, p->model.config().layers);
  options.split = act::eval::parse_work_split(o.data.work_split);
  options.threads = o.common.threads;
  if (show_progress) options.progress = progress_for(o.data);
  options.model_sha256 = act::io::model_sha256(model_path(o.common));
  options.arithmetic = arithmetic_text(o.common);
  if (!o.checkpoint.empty()) options.checkpoint = o.checkpoint;
  p->rule = {act::eval::parse_select_by(o.select), o.top_k, o.min_gain};
  if (o.early_stop) {
    if (o.naive) throw act::Error("--early-stop applies to the shared search, not --naive");
    options.early_stop = act::eval::early_stop_for(p->rule);
    if (!options.early_stop)
      throw act::Error("--early-stop needs --select accuracy (a margin gain has no bound before every prompt is run)");
  }
  if (!o.factors.empty()) options.calibration = act::eval::with_factor(options.calibration, o.factors.front());
  return p;
}

void save_head_set(const SearchCommandOptions& o, const PreparedSearch& p, const act::eval::SearchResult& result,
                   std::vector<act::HeadMeasurement> screened_out = {}) {
  act::HeadSet set = act::eval::make_head_set(result.heads, p.rule, p.options.calibration, p.model.name());
  for (auto& measurement : screened_out) {
    measurement.values["screened_out"] = 1.0;
    set.measurements.push_back(std::move(measurement));
  }
  set.save(o.out);
  print_summary(result, set, p.rule.by, p.model.config().layers);
}

// --factors: one exact search per factor, each head with its best factor.
void run_factor_search(const SearchCommandOptions& o, const PreparedSearch& p) {
  const auto searches = act::eval::search_factors(o.factors, p.options, [&](const act::eval::SearchOptions& one) {
    return act::eval::search_heads(p.model, p.plans, one);
  });
  const auto best = act::eval::best_factors(searches, p.rule.by);
  const act::HeadSet set =
      act::eval::make_factor_head_set(best, p.rule, p.options.calibration, o.factors.front(), p.model.name());
  set.save(o.out);
  act::eval::SearchResult summary = searches.front().result;
  summary.heads.clear();
  for (const auto& f : best) summary.heads.push_back(f.effect);
  for (std::size_t i = 1; i < searches.size(); ++i) {
    summary.seconds += searches[i].result.seconds;
    summary.resumed += searches[i].result.resumed;
  }
  print_summary(summary, set, p.rule.by, p.model.config().layers);
  std::printf("factors of the selected heads:");
  for (const auto& [id, factor] : set.factors()) std::printf(" %u:%u=%g", id.layer, id.head, double{factor});
  std::printf("\n");
}

void run_in_one_process(const SearchCommandOptions& o, const PreparedSearch& p) {
  std::string grid;
  for (const float factor : o.factors) grid.append(grid.empty() ? "" : ", ").append(act::float_text(factor));
  std::printf("%zu calibration prompts; %s search; policy %s%s%s\n", p.plans.size(),
              o.naive                ? "naive"
              : o.screen_prompts > 0 ? "screened"
                                     : "exact",
              p.options.calibration.text().c_str(), grid.empty() ? "" : ", a factor per head from ", grid.c_str());
  if (!o.factors.empty()) return run_factor_search(o, p);
  if (o.naive) return save_head_set(o, p, act::eval::search_heads_naive(p.model, p.plans, p.options));
  if (o.screen_prompts == 0) return save_head_set(o, p, act::eval::search_heads(p.model, p.plans, p.options));
  auto screened = act::eval::screened_search(p.model, p.plans, p.options, {o.screen_prompts, o.screen_keep});
  std::vector<act::HeadMeasurement> screened_out;
  for (const auto& e : screened.screen.heads) {
    const bool kept = std::any_of(screened.final.heads.begin(), screened.final.heads.end(),
                                  [&](const auto& f) { return f.id == e.id; });
    if (!kept) screened_out.push_back({e.id, e.values()});
  }
  std::printf("screening: %zu heads on %zu prompts in %.1f s\n", screened.screen.heads.size(), o.screen_prompts,
              screened.screen.seconds);
  save_head_set(o, p, screened.final, std::move(screened_out));
}

// Everything that must be equal on every rank for their shares to make one search.
std::string rank_identity(const PreparedSearch& p, const std::vector<act::HeadId>& candidates, std::size_t ranks) {
  nlohmann::json identity = act::eval::search_identity(p.plans, p.options);
  identity["select"] = p.rule.by == act::eval::SelectBy::accuracy ? "accuracy" : "margin";
  identity["top_k"] = p.rule.top_k;
  identity["min_gain"] = p.rule.min_gain;
  identity["work_split"] = act::eval::work_split_name(p.options.split);
  identity["threads"] = p.options.threads;  // the model split's float sums depend on them
  identity["ranks"] = ranks;
  nlohmann::json heads = nlohmann::json::array();
  for (const auto& id : candidates) heads.push_back({id.layer, id.head});
  identity["candidates"] = heads;
  return identity.dump();
}

// At rank 0: the first rank whose identity differs from rank 0's, with the values that differ.
void check_ranks_agree(const std::vector<std::string>& identities) {
  const auto ours = nlohmann::json::parse(identities[0]);
  for (std::size_t r = 1; r < identities.size(); ++r) {
    const auto theirs = nlohmann::json::parse(identities[r]);
    if (theirs == ours) continue;
    const auto shown = [](const nlohmann::json& identity, const std::string& key) {
      return identity.contains(key) ? identity[key].dump() : std::string("absent");
    };
    std::string differences;
    for (const auto* side : {&ours, &theirs})
      for (const auto& [key, value] : side->items())
        if (shown(ours, key) != shown(theirs, key) && (side == &ours || !ours.contains(key)))
          differences += "; " + key + ": " + shown(ours, key) + " at rank 0, " + shown(theirs, key) + " at rank " +
                         std::to_string(r);
    throw act::Error("ranks disagree on the search (model, data or options)" + differences +
                     ". Start every rank with the same command, model and data");
  }
}

void run_over_ranks(const SearchCommandOptions& o, SearchRanks& ranks, const PreparedSearch& p) {
  if (o.naive || o.screen_prompts > 0 || !o.factors.empty())
    throw act::Error("--naive, --screen-prompts and --factors run in one process, not over MPI ranks");
  const auto candidates = act::eval::candidate_heads(p.model.config().layers, p.model.config().heads, p.options);
  const auto identities = ranks.gather(rank_identity(p, candidates, ranks.size()));
  ranks.together([&] {
    if (ranks.rank() == 0) check_ranks_agree(identities);
    if (candidates.size() < ranks.size())
      throw act::Error(std::to_string(ranks.size()) + " ranks for " + std::to_string(candidates.size()) +
                       " candidate heads: start at most one rank per head");
  });
  if (ranks.rank() == 0)
    std::printf("%zu calibration prompts; exact search over %zu ranks; policy %s\n", p.plans.size(), ranks.size(),
                p.options.calibration.text().c_str());
  act::eval::SearchOptions share = p.options;
  share.only = act::eval::heads_for_rank(candidates, ranks.rank(), ranks.size());
  if (p.options.checkpoint)
    share.checkpoint = act::eval::rank_checkpoint(*p.options.checkpoint, ranks.rank(), ranks.size());
  const auto own = ranks.together([&] { return act::eval::search_heads(p.model, p.plans, share); });
  const auto shares = ranks.gather(act::eval::share_text(own));
  ranks.together([&] {
    if (ranks.rank() == 0) save_head_set(o, p, act::eval::merge_shares(own, shares, p.plans.size()));
  });
}

void run_search(const SearchCommandOptions& o) {
  SearchRanks ranks;
  const auto prepared = ranks.together([&] { return prepare(o, ranks.rank() == 0); });
  if (!ranks.launched() || ranks.size() == 1) return run_in_one_process(o, *prepared);
  run_over_ranks(o, ranks, *prepared);
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
  command->add_option("-o,--out", o->out, "Head-set file to write (JSON)")->required()->check(non_empty_path());
  command->add_option("--checkpoint", o->checkpoint, "JSON-lines file of finished heads; resumes an interrupted search")
      ->check(non_empty_path());
  command->add_flag("--naive", o->naive, "Full forward pass per head and prompt (for measuring the shared search)");
  command->add_flag("--early-stop", o->early_stop,
                    "Stop running a head once the prompts left cannot change whether --select accuracy "
                    "(with --min-gain, --top-k) selects it: the same heads, partial measurements");
  command
      ->add_option("--screen-prompts", o->screen_prompts,
                   "Screen every head on this many prompts first, then search the best --screen-keep on all")
      ->check(whole_number_from(0));
  command->add_option("--screen-keep", o->screen_keep, "Heads that survive screening")
      ->check(whole_number_from(1))
      ->capture_default_str();
  add_list_option(*command, "--factors", o->factors,
                  "A factor per head from this grid, e.g. 0.25,0.5,0.75: one exact search per factor with the "
                  "rescaler scale-only:FACTOR; each head keeps its best factor (use with --detector initial-token); "
                  "with --early-stop, only heads that cannot pass stop early",
                  real_number_in(0.0, std::numeric_limits<float>::max()))  // read as float: past it, inf
      ->excludes("--rescaler")
      ->excludes("--beta")
      ->excludes("--naive")
      ->excludes("--screen-prompts");
  command->callback([o] { run_search(*o); });
}

}  // namespace act_llama
