#pragma once
// Spec section 3, end to end: every candidate head is calibrated alone and the calibration
// prompts are scored against the un-calibrated model.
//
// Calibrating a head of layer l leaves layers 0..l-1 untouched, so the search walks the layers in
// order with one set of hidden states per prompt: the states entering layer l are computed once,
// each head of layer l runs only layers l..L-1 from a copy of them, and the states then advance
// through layer l un-calibrated. A head of layer l thus costs L - l layers instead of L, and the
// baseline is one more pass. search_heads_naive() is the plain loop (a full pass per head and
// prompt); both give bit-identical measurements because run_layers is deterministic and split
// at a layer boundary computes the same thing.
//
// With options.early_stop, each head of a layer runs the prompts in rounds and stops once the rest
// cannot change whether the accuracy rule selects it (early_stop.hpp); a head that runs them all
// gets the same measurements as without the stop.
#include <act/core/parallel.hpp>
#include <act/eval/harness/model_scoring.hpp>
#include <act/eval/harness/progress.hpp>
#include <act/eval/harness/work_split.hpp>
#include <act/eval/search/candidate_heads.hpp>
#include <act/eval/search/early_stop.hpp>
#include <act/eval/search/head_effect.hpp>
#include <act/eval/search/search_checkpoint.hpp>
#include <act/io/sha256.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace act::eval {

struct SearchOptions {
  AnyCalibration calibration = AnyCalibration::paper();  // what each candidate head is calibrated with
  // Never candidates. Unset: the reference's choice, layers 0, 1 and the last (default_excluded_layers).
  std::optional<std::vector<std::uint32_t>> excluded_layers;
  // When non-empty, only these heads are searched (e.g. the survivors of a screening round).
  std::vector<HeadId> only;
  WorkSplit split = WorkSplit::prompts;
  int threads = 1;
  // Unset: every head runs every prompt. Set (early_stop_for(rule)): heads stop once decided for that rule.
  std::optional<EarlyStop> early_stop;
  // Resumable progress; the checkpoint must belong to the same model, settings and prompts.
  std::optional<std::filesystem::path> checkpoint;
  std::string model_sha256;  // part of the checkpoint's identity
  // The model's arithmetic where it is not the default (e.g. "matmul bf16"), as the caller
  // names it; part of the checkpoint's identity, so a resumed search cannot mix two arithmetics.
  std::string arithmetic;
  ProgressRef progress = silent_progress();
};

struct SearchResult {
  Tally baseline;
  std::vector<HeadEffect> heads;  // by (layer, head)
  std::size_t resumed = 0;        // heads read from the checkpoint rather than computed
  double seconds = 0.0;
};

inline std::vector<HeadId> candidate_heads(std::size_t layers, std::size_t heads, const SearchOptions& options) {
  return candidate_heads(layers, heads, options.excluded_layers.value_or(default_excluded_layers(layers)),
                         options.only);
}

inline model::ActSettings single_head(HeadId id, const SearchOptions& options) {
  return {HeadSet({id}, 0.4f, 0.1f), options.calibration};
}

// A digest of everything the prompts feed the model and read back, so a checkpoint cannot be
// resumed with other prompts.
inline std::string plans_digest(std::span<const ScoringPlan> plans) {
  io::Sha256 hash;
  const auto put = [&](std::int64_t v) { hash.update(std::to_string(v) + ","); };
  for (const ScoringPlan& p : plans) {
    put(static_cast<std::int64_t>(p.label));
    put(static_cast<std::int64_t>(p.rule));
    for (const auto& seq : p.sequences) {
      for (std::int32_t t : seq) put(t);
      hash.update(";");
    }
    for (const auto& reads : p.choices) {
      for (const TokenRead& r : reads) {
        put(r.sequence);
        put(r.row);
        put(r.token);
      }
      hash.update("|");
    }
    for (const auto& list : p.greedy_tokens)
      for (std::int32_t t : list) put(t);
    hash.update("\n");
  }
  return hash.hex_digest();
}

// The paper's policy is named by beta and tau, as before policies were selectable, so checkpoints
// written then still resume.
inline nlohmann::json search_identity(std::span<const ScoringPlan> plans, const SearchOptions& options) {
  nlohmann::json identity = {
      {"model_sha256", options.model_sha256}, {"prompts", plans.size()}, {"prompts_sha256", plans_digest(plans)}};
  HeadSet recorded;
  recorded.set_calibration(options.calibration);
  if (recorded.policy) {
    identity["policy"] = recorded.policy->text();
  } else {
    identity["beta"] = act::detail::shortest_decimal(recorded.beta);
    identity["tau"] = act::detail::shortest_decimal(recorded.tau);
  }
  // Stopped heads are decided for one rule; a search without the stop keeps its old identity.
  if (options.early_stop)
    identity["early_stop"] = {{"min_gain", options.early_stop->min_gain}, {"accept", options.early_stop->accept}};
  if (!options.arithmetic.empty()) identity["arithmetic"] = options.arithmetic;
  return identity;
}

namespace detail {

// outcomes[h][p] for each p in prompts[h]: prompt p with only heads[h] calibrated, from the prompts'
// states entering `first_layer` (heads[h] must lie in a layer >= first_layer), split over threads
// as options.split says.
inline void run_heads(const model::LlamaModel& m, std::span<const ScoringPlan> plans,
                      const std::vector<std::vector<model::Activations>>& states, std::size_t first_layer,
                      std::span<const HeadId> heads, const std::vector<std::vector<std::size_t>>& prompts,
                      const SearchOptions& options, ProgressStretch& progress,
                      std::vector<std::vector<ExampleOutcome>>& outcomes) {
  std::vector<model::ActSettings> settings;
  for (const HeadId& id : heads) settings.push_back(single_head(id, options));
  const auto steps = m.config().layers - first_layer;
  const auto job = [&](std::size_t h, std::size_t p, int threads) {
    outcomes[h][p] = evaluate_from(m, plans[p], states[p], first_layer, settings[h], threads);
    progress.advance(steps);
  };
  std::vector<std::pair<std::size_t, std::size_t>> pairs;  // (head, prompt)
  for (std::size_t h = 0; h < heads.size(); ++h)
    for (std::size_t p : prompts[h]) pairs.emplace_back(h, p);
  switch (options.split) {
    case WorkSplit::prompts:
      parallel::parallel_for(pairs.size(), options.threads,
                             [&](std::size_t i) { job(pairs[i].first, pairs[i].second, 1); });
      break;
    case WorkSplit::heads:
      parallel::parallel_for(heads.size(), options.threads, [&](std::size_t h) {
        for (std::size_t p : prompts[h]) job(h, p, 1);
      });
      break;
    case WorkSplit::model:
      for (const auto& [h, p] : pairs) job(h, p, options.threads);
      break;
  }
}

// Every head of `heads` (one layer's, from states entering `layer`) on every prompt.
inline std::vector<HeadEffect> measure_fully(const model::LlamaModel& m, std::span<const ScoringPlan> plans,
                                             const std::vector<std::vector<model::Activations>>& states,
                                             std::size_t layer, std::span<const HeadId> heads,
                                             std::span<const ExampleOutcome> base, const SearchOptions& options,
                                             ProgressStretch& progress) {
  std::vector<std::size_t> all(plans.size());
  std::iota(all.begin(), all.end(), std::size_t{0});
  std::vector<std::vector<ExampleOutcome>> outcomes(heads.size(), std::vector<ExampleOutcome>(plans.size()));
  run_heads(m, plans, states, layer, heads, std::vector<std::vector<std::size_t>>(heads.size(), all), options, progress,
            outcomes);
  std::vector<HeadEffect> effects;
  for (std::size_t h = 0; h < heads.size(); ++h) effects.push_back(compare_outcomes(heads[h], base, outcomes[h]));
  return effects;
}

// As measure_fully, but each head runs rounds of prompts in early_stop_order until it is decided.
inline std::vector<HeadEffect> measure_until_decided(const model::LlamaModel& m, std::span<const ScoringPlan> plans,
                                                     const std::vector<std::vector<model::Activations>>& states,
                                                     std::size_t layer, std::span<const HeadId> heads,
                                                     std::span<const ExampleOutcome> base, const SearchOptions& options,
                                                     ProgressStretch& progress) {
  const std::vector<std::size_t> order = early_stop_order(base);
  std::vector<StoppingHead> tracks(heads.size(), StoppingHead(base, *options.early_stop));
  std::vector<std::vector<ExampleOutcome>> outcomes(heads.size(), std::vector<ExampleOutcome>(plans.size()));
  std::vector<std::optional<HeadEffect>> effects(heads.size());
  for (;;) {
    std::vector<std::vector<std::size_t>> round(heads.size());
    for (std::size_t h = 0; h < heads.size(); ++h) {
      if (effects[h]) continue;
      if (tracks[h].finished()) {
        effects[h] = compare_outcomes(heads[h], base, outcomes[h]);  // in plan order: the full search's sums
      } else if (tracks[h].decision() != HeadStop::none) {
        effects[h] = tracks[h].stopped(heads[h]);
      } else {
        const auto from = order.begin() + static_cast<std::ptrdiff_t>(tracks[h].evaluated());
        round[h].assign(from, from + static_cast<std::ptrdiff_t>(tracks[h].next_round()));
      }
    }
    if (std::all_of(effects.begin(), effects.end(), [](const auto& e) { return e.has_value(); })) break;
    run_heads(m, plans, states, layer, heads, round, options, progress, outcomes);
    for (std::size_t h = 0; h < heads.size(); ++h)
      for (std::size_t p : round[h]) tracks[h].add(base[p], outcomes[h][p]);
  }
  std::vector<HeadEffect> out;
  for (auto& e : effects) out.push_back(std::move(*e));
  return out;
}

inline void advance_states(const model::LlamaModel& m, std::vector<std::vector<model::Activations>>& states,
                           std::size_t from, std::size_t to, const SearchOptions& options) {
  const ThreadShare share = share_threads(options.split, options.threads);
  parallel::parallel_for(states.size(), share.items, [&](std::size_t p) {
    for (auto& s : states[p]) m.run_layers(s, from, to, {}, share.per_item);
  });
}

inline std::optional<SearchCheckpoint> open_checkpoint(std::span<const ScoringPlan> plans,
                                                       const SearchOptions& options) {
  if (!options.checkpoint) return std::nullopt;
  return SearchCheckpoint(*options.checkpoint, search_identity(plans, options));
}

inline std::vector<ExampleOutcome> run_baseline(const model::LlamaModel& m, std::span<const ScoringPlan> plans,
                                                const std::vector<std::vector<model::Activations>>& states,
                                                std::size_t first_layer, const SearchOptions& options,
                                                ProgressStretch& progress) {
  std::vector<ExampleOutcome> base(plans.size());
  const ThreadShare share = share_threads(options.split, options.threads);
  parallel::parallel_for(plans.size(), share.items, [&](std::size_t p) {
    base[p] = evaluate_from(m, plans[p], states[p], first_layer, {}, share.per_item);
    progress.advance(m.config().layers - first_layer);
  });
  return base;
}

inline std::vector<std::vector<model::Activations>> embed_all(const model::LlamaModel& m,
                                                              std::span<const ScoringPlan> plans) {
  std::vector<std::vector<model::Activations>> states;
  states.reserve(plans.size());
  for (const ScoringPlan& plan : plans) states.push_back(embed_plan(m, plan));
  return states;
}

inline void sort_by_id(std::vector<HeadEffect>& heads) {
  std::sort(heads.begin(), heads.end(), [](const HeadEffect& a, const HeadEffect& b) { return a.id < b.id; });
}

// Heads read back from a checkpoint must be this model's and measured against this baseline (same
// identity header, so the same prompts and model): a damaged or hand-edited line would otherwise
// decide the selection unseen. Complete heads carry their accuracy and margin and the gains over
// the baseline, whose differences must give the baseline back.
inline void check_resumed(const SearchCheckpoint& checkpoint, const model::LlamaConfig& c, const Tally& baseline) {
  const auto close = [](double a, double b) { return std::fabs(a - b) <= 1e-9 * (1.0 + std::fabs(a) + std::fabs(b)); };
  for (const auto& [id, e] : checkpoint.done()) {
    const std::string head = "head [" + std::to_string(id.layer) + ", " + std::to_string(id.head) + "]";
    if (id.layer >= c.layers || id.head >= c.heads)
      throw FormatError("act: " + checkpoint.path().string() + ": " + head + " is outside the model (" +
                        std::to_string(c.layers) + " layers of " + std::to_string(c.heads) + " heads)");
    if (e.complete() && !(close(e.accuracy - e.accuracy_gain, baseline.accuracy()) &&
                          close(e.margin - e.margin_gain, baseline.mean_margin())))
      throw FormatError("act: " + checkpoint.path().string() + ": the gains of " + head +
                        " do not match this search's baseline (accuracy " + std::to_string(baseline.accuracy()) +
                        ", margin " + std::to_string(baseline.mean_margin()) + ")");
  }
}

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace detail

// The suffix-sharing search (see the top of this file), resumable through options.checkpoint.
inline SearchResult search_heads(const model::LlamaModel& m, std::span<const ScoringPlan> plans,
                                 const SearchOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const std::size_t layers = m.config().layers;
  std::optional<SearchCheckpoint> checkpoint = detail::open_checkpoint(plans, options);
  SearchResult result;
  std::map<std::uint32_t, std::vector<HeadId>> todo;  // by layer
  for (const HeadId& id : candidate_heads(layers, m.config().heads, options)) {
    if (checkpoint && checkpoint->done().contains(id)) {
      result.heads.push_back(checkpoint->done().at(id));
      ++result.resumed;
    } else {
      todo[id.layer].push_back(id);
    }
  }
  const std::size_t first = todo.empty() ? layers : todo.begin()->first;
  std::size_t work = plans.size() * (layers - first);  // the baseline
  for (const auto& [layer, heads] : todo) work += heads.size() * plans.size() * (layers - layer);
  ProgressStretch progress(
      options.progress,
      options.early_stop ? "head search (prompt-layer passes, at most)" : "head search (prompt-layer passes)", work);

  auto states = detail::embed_all(m, plans);
  detail::advance_states(m, states, 0, first, options);
  const std::vector<ExampleOutcome> base = detail::run_baseline(m, plans, states, first, options, progress);
  result.baseline = tally(base);
  if (checkpoint) detail::check_resumed(*checkpoint, m.config(), result.baseline);
  for (auto it = todo.begin(); it != todo.end(); ++it) {
    const auto& [layer, heads] = *it;
    const auto effects = options.early_stop
                             ? detail::measure_until_decided(m, plans, states, layer, heads, base, options, progress)
                             : detail::measure_fully(m, plans, states, layer, heads, base, options, progress);
    if (checkpoint) checkpoint->append(effects);
    result.heads.insert(result.heads.end(), effects.begin(), effects.end());
    const auto next = std::next(it);
    if (next != todo.end()) detail::advance_states(m, states, layer, next->first, options);
  }
  detail::sort_by_id(result.heads);
  result.seconds = detail::seconds_since(start);
  return result;
}

// The plain loop: a full forward pass per (head, prompt). For checking search_heads and for
// measuring what the sharing saves; ignores options.checkpoint and options.early_stop.
inline SearchResult search_heads_naive(const model::LlamaModel& m, std::span<const ScoringPlan> plans,
                                       const SearchOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const std::vector<HeadId> heads = candidate_heads(m.config().layers, m.config().heads, options);
  ProgressStretch progress(options.progress, "naive head search (prompt-layer passes)",
                           (heads.size() + 1) * plans.size() * m.config().layers);
  const auto states = detail::embed_all(m, plans);
  const std::vector<ExampleOutcome> base = detail::run_baseline(m, plans, states, 0, options, progress);
  SearchResult result;
  result.baseline = tally(base);
  result.heads = detail::measure_fully(m, plans, states, 0, heads, base, options, progress);
  result.seconds = detail::seconds_since(start);
  return result;
}

}  // namespace act::eval
