#pragma once
// Runs a scoring plan through a LlamaModel: every sequence as a whole prompt (no KV cache), the
// logits of the rows the plan reads, then score_example. Both calls start from hidden states that
// may already have gone through the first layers, which is what lets the head search share them.
#include <act/eval/harness/scoring.hpp>
#include <act/model/llama_model.hpp>

#include <vector>

namespace act::eval {

// Hidden states entering layer 0, one matrix per sequence of the plan.
inline std::vector<model::Activations> embed_plan(const model::LlamaModel& m, const ScoringPlan& plan) {
  std::vector<model::Activations> states;
  states.reserve(plan.sequences.size());
  for (const auto& tokens : plan.sequences) states.push_back(m.embed(tokens));
  return states;
}

// Runs layers [first_layer, end) on `states` (consumed) with `act`; returns the logits the plan reads.
inline std::vector<std::vector<float>> plan_logits_from(const model::LlamaModel& m, const ScoringPlan& plan,
                                                        std::vector<model::Activations> states, std::size_t first_layer,
                                                        const model::ActSettings& act, int threads) {
  const auto ranges = plan.row_ranges();
  std::vector<std::vector<float>> logits;
  logits.reserve(states.size());
  for (std::size_t s = 0; s < states.size(); ++s) {
    m.run_layers(states[s], first_layer, m.config().layers, act, threads);
    logits.push_back(std::move(m.logits(states[s], ranges[s].first, ranges[s].count, threads).data));
  }
  return logits;
}

inline ExampleOutcome evaluate_from(const model::LlamaModel& m, const ScoringPlan& plan,
                                    std::vector<model::Activations> states, std::size_t first_layer,
                                    const model::ActSettings& act, int threads) {
  return score_example(plan, plan_logits_from(m, plan, std::move(states), first_layer, act, threads),
                       m.config().vocab_size);
}

}  // namespace act::eval
