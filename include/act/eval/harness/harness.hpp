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
  // Longest prompt allowed, in tokens. evaluate_task: 0 means the model's context length;
  // evaluate_task_with: 0 means no limit here (the scorer's engine enforces its own).
  std::size_t context = 0;
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

template <TextTokenizer Tok>
std::vector<ScoringPlan> make_plans(const Tok& tokenizer, const Task& task, Protocol protocol,
                                    std::span<const Example> rows, const Demonstrations& demos) {
  const TaskTokens tokens = task_tokens(tokenizer, task, protocol);
  std::vector<ScoringPlan> plans;
  plans.reserve(rows.size());
  for (const Example& ex : rows) plans.push_back(make_plan(tokenizer, task, protocol, tokens, ex, demos.for_query(ex)));
  return plans;
}

inline std::vector<ScoringPlan> make_plans(const model::LlamaModel& m, const Task& task, Protocol protocol,
                                           std::span<const Example> rows, const Demonstrations& demos) {
  return make_plans(m.tokenizer(), task, protocol, rows, demos);
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
inline std::vector<std::vector<ExampleOutcome>> evaluate_plans(
    const model::LlamaModel& m, std::span<const ScoringPlan> plans, std::span<const ScoreRule> rules,
    const model::ActSettings& act, WorkSplit split, int threads, ProgressReporter& progress = silent_progress()) {
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

// The seam another engine plugs into: score(plans, rules, progress) returns outcomes[r][i], plan i
// scored by rules[r] (see score_plans). Everything else, from prompts to tallies, is shared.
template <class ScorePlans>
concept PlanScorer = requires(const ScorePlans& score, std::span<const ScoringPlan> plans,
                              std::span<const ScoreRule> rules, ProgressReporter& progress) {
  { score(plans, rules, progress) } -> std::same_as<std::vector<std::vector<ExampleOutcome>>>;
};

// Outcomes of every plan under every rule from one logits call per plan, one plan at a time:
// logits_of(plan) returns what plan_logits_from returns (the rows of plan.row_ranges()).
template <class PlanLogits>
std::vector<std::vector<ExampleOutcome>> score_plans(std::span<const ScoringPlan> plans,
                                                     std::span<const ScoreRule> rules, std::size_t vocab,
                                                     PlanLogits&& logits_of, ProgressReporter& progress) {
  std::vector<std::vector<ExampleOutcome>> outcomes(rules.size(), std::vector<ExampleOutcome>(plans.size()));
  for (std::size_t i = 0; i < plans.size(); ++i) {
    const std::vector<std::vector<float>> logits = logits_of(plans[i]);
    for (std::size_t r = 0; r < rules.size(); ++r) outcomes[r][i] = score_example(plans[i], logits, vocab, rules[r]);
    progress.advance(1);
  }
  return outcomes;
}

// One result per protocol, in the order given; every protocol must apply to the task. Plans are
// made with `tokenizer` and scored by `score`.
template <TextTokenizer Tok, PlanScorer Score>
std::vector<TaskResult> evaluate_task_with(const Tok& tokenizer, const Score& score, const Task& task,
                                           const std::vector<Protocol>& protocols, std::span<const Example> rows,
                                           std::span<const Example> demo_pool, const EvalOptions& options) {
  std::vector<TaskResult> results;
  for (Protocol p : protocols) results.push_back({&task, p, options.shots, {}});
  const std::vector<std::uint64_t> seeds = options.shots == 0 ? std::vector<std::uint64_t>{0} : options.seeds;
  for (const std::uint64_t seed : seeds) {
    const Demonstrations demos = options.shots == 0 ? Demonstrations{} : Demonstrations(demo_pool, options.shots, seed);
    for (const auto& group : detail::plan_groups(protocols)) {
      const std::vector<ScoringPlan> plans = make_plans(tokenizer, task, group.front(), rows, demos);
      if (options.context != 0) check_plans_fit(plans, options.context, task.name);
      std::vector<ScoreRule> rules;
      std::string label = std::string(task.name);
      for (Protocol p : group) {
        rules.push_back(rule_of(p));
        label.append(rules.size() == 1 ? " " : "+").append(protocol_name(p));  // not "a" + b: GCC 12 -Wrestrict
      }
      if (options.shots > 0) label.append(" seed ").append(std::to_string(seed));
      auto outcomes = [&] {
        const ProgressStretch stretch(options.progress, label, plans.size());
        return score(std::span<const ScoringPlan>(plans), std::span<const ScoreRule>(rules), options.progress.get());
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

// One result per protocol, in the order given; every protocol must apply to the task.
inline std::vector<TaskResult> evaluate_task(const model::LlamaModel& m, const Task& task,
                                             const std::vector<Protocol>& protocols, std::span<const Example> rows,
                                             std::span<const Example> demo_pool, const model::ActSettings& act,
                                             const EvalOptions& options) {
  const auto score = [&](std::span<const ScoringPlan> plans, std::span<const ScoreRule> rules,
                         ProgressReporter& progress) {
    return evaluate_plans(m, plans, rules, act, options.split, options.threads, progress);
  };
  EvalOptions bounded = options;
  bounded.context = m.config().usable_context(options.context);
  return evaluate_task_with(m.tokenizer(), score, task, protocols, rows, demo_pool, bounded);
}

}  // namespace act::eval
