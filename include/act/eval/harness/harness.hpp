#pragma once
// Evaluates one task under one protocol over a list of examples, with or without ACT: zero-shot
// once, k-shot once per seed (demonstrations drawn from a pool, normally the calib split).
#include <act/core/parallel.hpp>
#include <act/eval/harness/model_scoring.hpp>
#include <act/eval/harness/progress.hpp>
#include <act/eval/harness/tally.hpp>
#include <act/eval/harness/work_split.hpp>

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace act::eval {

struct EvalOptions {
  std::size_t shots = 0;
  std::vector<std::uint64_t> seeds = {1};  // k-shot only; zero-shot runs once
  WorkSplit split = WorkSplit::prompts;
  int threads = 1;
  std::size_t context = 0;  // longest prompt allowed, in tokens; 0: the model's context length
  ProgressRef progress = silent_progress();
};

struct SeedRun {
  std::uint64_t seed = 0;  // 0 for zero-shot
  Tally tally;
  std::vector<ExampleOutcome> outcomes;
};

struct TaskResult {
  const Task* task = nullptr;
  Protocol protocol = Protocol::label;
  std::size_t shots = 0;
  std::vector<SeedRun> runs;

  // Mean over seeds, the figure the paper reports for few-shot runs.
  double accuracy() const {
    double sum = 0.0;
    for (const SeedRun& r : runs) sum += r.tally.accuracy();
    return runs.empty() ? 0.0 : sum / static_cast<double>(runs.size());
  }
};

inline std::vector<ScoringPlan> make_plans(const model::LlamaModel& m, const Task& task, Protocol protocol,
                                           std::span<const Example> rows, const Demonstrations& demos) {
  const TaskTokens tokens = task_tokens(m.tokenizer(), task, protocol);
  std::vector<ScoringPlan> plans;
  plans.reserve(rows.size());
  for (const Example& ex : rows) plans.push_back(make_plan(m.tokenizer(), task, protocol, tokens, ex, demos.for_query(ex)));
  return plans;
}

// Throws act::Error naming the first row (1-based, with its id) whose prompt is longer than the
// context: a forward pass over it would need memory in proportion and attend past what the model
// was trained on.
inline void check_plans_fit(std::span<const ScoringPlan> plans, std::size_t context, std::string_view task) {
  for (std::size_t i = 0; i < plans.size(); ++i)
    for (const auto& sequence : plans[i].sequences)
      if (sequence.size() > context)
        throw Error(std::string(task) + " row " + std::to_string(i + 1) + " (id " + plans[i].example_id + ") is " +
                    std::to_string(sequence.size()) + " tokens, more than the context of " + std::to_string(context));
}

inline ScoreRule rule_of(Protocol p) {
  if (p == Protocol::loglik) return ScoreRule::sum;
  return p == Protocol::loglik_norm ? ScoreRule::token_mean : ScoreRule::restricted;
}

namespace detail {

// fn(i, logits of plan i), plans side by side or one at a time as `split` says.
template <class Fn>
void for_each_plan_logits(const model::LlamaModel& m, std::span<const ScoringPlan> plans, const model::ActSettings& act,
                          WorkSplit split, int threads, ProgressReporter& progress, Fn&& fn) {
  const ThreadShare share = share_threads(split, threads);
  parallel::parallel_for(plans.size(), share.items, [&](std::size_t i) {
    fn(i, plan_logits_from(m, plans[i], embed_plan(m, plans[i]), 0, act, share.per_item));
    progress.advance(1);
  });
}

}  // namespace detail

// Outcomes in plan order, each plan scored by its own rule.
inline std::vector<ExampleOutcome> evaluate_plans(const model::LlamaModel& m, std::span<const ScoringPlan> plans,
                                                  const model::ActSettings& act, WorkSplit split, int threads,
                                                  ProgressReporter& progress = silent_progress()) {
  std::vector<ExampleOutcome> outcomes(plans.size());
  detail::for_each_plan_logits(m, plans, act, split, threads, progress, [&](std::size_t i, const auto& logits) {
    outcomes[i] = score_example(plans[i], logits, m.config().vocab_size);
  });
  return outcomes;
}

// outcomes[r][i]: plan i scored by rules[r], from one forward pass per plan (loglik and
// loglik-norm read the same logits).
inline std::vector<std::vector<ExampleOutcome>> evaluate_plans(const model::LlamaModel& m,
                                                               std::span<const ScoringPlan> plans,
                                                               std::span<const ScoreRule> rules,
                                                               const model::ActSettings& act, WorkSplit split,
                                                               int threads,
                                                               ProgressReporter& progress = silent_progress()) {
  std::vector<std::vector<ExampleOutcome>> outcomes(rules.size(), std::vector<ExampleOutcome>(plans.size()));
  detail::for_each_plan_logits(m, plans, act, split, threads, progress, [&](std::size_t i, const auto& logits) {
    for (std::size_t r = 0; r < rules.size(); ++r)
      outcomes[r][i] = score_example(plans[i], logits, m.config().vocab_size, rules[r]);
  });
  return outcomes;
}

namespace detail {

// Protocols that can share one set of plans: loglik with loglik-norm, the others alone.
inline std::vector<std::vector<Protocol>> plan_groups(const std::vector<Protocol>& protocols) {
  std::vector<std::vector<Protocol>> groups;
  std::vector<Protocol> likelihood;
  for (Protocol p : protocols) {
    if (p == Protocol::loglik || p == Protocol::loglik_norm) {
      likelihood.push_back(p);
    } else {
      groups.push_back({p});
    }
  }
  if (!likelihood.empty()) groups.push_back(likelihood);
  return groups;
}

}  // namespace detail

// One result per protocol, in the order given; every protocol must apply to the task.
inline std::vector<TaskResult> evaluate_task(const model::LlamaModel& m, const Task& task,
                                             const std::vector<Protocol>& protocols, std::span<const Example> rows,
                                             std::span<const Example> demo_pool, const model::ActSettings& act,
                                             const EvalOptions& options) {
  std::vector<TaskResult> results;
  for (Protocol p : protocols) results.push_back({&task, p, options.shots, {}});
  const std::vector<std::uint64_t> seeds = options.shots == 0 ? std::vector<std::uint64_t>{0} : options.seeds;
  for (const std::uint64_t seed : seeds) {
    const Demonstrations demos = options.shots == 0 ? Demonstrations{} : Demonstrations(demo_pool, options.shots, seed);
    for (const auto& group : detail::plan_groups(protocols)) {
      const std::vector<ScoringPlan> plans = make_plans(m, task, group.front(), rows, demos);
      check_plans_fit(plans, m.config().usable_context(options.context), task.name);
      std::vector<ScoreRule> rules;
      std::string label = std::string(task.name);
      for (Protocol p : group) {
        rules.push_back(rule_of(p));
        label += (rules.size() == 1 ? " " : "+") + std::string(protocol_name(p));
      }
      if (options.shots > 0) label += " seed " + std::to_string(seed);
      auto outcomes = [&] {
        const ProgressStretch stretch(options.progress, label, plans.size());
        return evaluate_plans(m, plans, rules, act, options.split, options.threads, options.progress);
      }();
      for (std::size_t r = 0; r < group.size(); ++r) {
        SeedRun run{seed, tally(outcomes[r]), std::move(outcomes[r])};
        const auto at = std::find(protocols.begin(), protocols.end(), group[r]) - protocols.begin();
        results[static_cast<std::size_t>(at)].runs.push_back(std::move(run));
      }
    }
  }
  return results;
}

}  // namespace act::eval
