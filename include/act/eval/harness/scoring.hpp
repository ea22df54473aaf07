#pragma once
// Turns the logits a plan asked for into choice scores, a prediction and the margin of the right
// answer (its score minus the best other score: > 0 exactly when it wins, and a graded signal for
// the head search where accuracy moves in steps).
#include <act/eval/harness/scoring_plan.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <span>
#include <stdexcept>
#include <vector>

namespace act::eval {

struct ExampleOutcome {
  std::string id;
  std::size_t label = 0;
  std::optional<std::size_t> predicted;  // empty: the greedy token was no choice letter
  std::vector<double> scores;
  double margin = 0.0;

  bool correct() const noexcept { return predicted == label; }
};

namespace detail {

inline double log_sum_exp(std::span<const float> values) {
  double max = -std::numeric_limits<double>::infinity();
  for (float v : values) max = std::max(max, static_cast<double>(v));
  if (!std::isfinite(max)) return max;
  double sum = 0.0;
  for (float v : values) sum += std::exp(static_cast<double>(v) - max);
  return max + std::log(sum);
}

inline std::size_t argmax(std::span<const double> values) {
  return static_cast<std::size_t>(std::max_element(values.begin(), values.end()) - values.begin());
}

inline double margin_of(std::span<const double> scores, std::size_t label) {
  double best_other = -std::numeric_limits<double>::infinity();
  for (std::size_t c = 0; c < scores.size(); ++c)
    if (c != label) best_other = std::max(best_other, scores[c]);
  return scores[label] - best_other;
}

// Logits of one needed row of one sequence.
class RowLogits {
 public:
  RowLogits(const ScoringPlan& plan, std::span<const std::vector<float>> logits, std::size_t vocab)
      : ranges_(plan.row_ranges()), logits_(logits), vocab_(vocab) {
    if (logits.size() != ranges_.size())
      throw std::invalid_argument("act: scoring needs logits for " + std::to_string(ranges_.size()) + " sequences");
    for (std::size_t s = 0; s < ranges_.size(); ++s)
      if (logits[s].size() != ranges_[s].count * vocab)
        throw std::invalid_argument("act: sequence " + std::to_string(s) + " needs " +
                                    std::to_string(ranges_[s].count) + " rows of " + std::to_string(vocab) + " logits");
  }

  std::span<const float> row(std::uint32_t sequence, std::uint32_t position) const {
    const std::size_t index = position - ranges_[sequence].first;
    return std::span<const float>(logits_[sequence]).subspan(index * vocab_, vocab_);
  }

 private:
  std::vector<ScoringPlan::RowRange> ranges_;
  std::span<const std::vector<float>> logits_;
  std::size_t vocab_;
};

inline double token_logit(std::span<const float> row, std::int32_t token) {
  if (token < 0 || static_cast<std::size_t>(token) >= row.size())
    throw std::invalid_argument("act: token " + std::to_string(token) + " is outside the logits row");
  return row[static_cast<std::size_t>(token)];
}

inline std::vector<double> restricted_scores(const ScoringPlan& plan, const RowLogits& logits) {
  std::vector<float> chosen;
  for (const auto& reads : plan.choices) {
    const TokenRead& r = reads.at(0);
    chosen.push_back(static_cast<float>(token_logit(logits.row(r.sequence, r.row), r.token)));
  }
  const double lse = log_sum_exp(chosen);
  std::vector<double> scores;
  for (float v : chosen) scores.push_back(static_cast<double>(v) - lse);
  return scores;
}

inline std::vector<double> likelihood_scores(const ScoringPlan& plan, const RowLogits& logits, ScoreRule rule) {
  std::vector<double> scores;
  for (const auto& reads : plan.choices) {
    double total = 0.0;
    for (const TokenRead& r : reads) {
      const auto row = logits.row(r.sequence, r.row);
      total += token_logit(row, r.token) - log_sum_exp(row);
    }
    scores.push_back(rule == ScoreRule::token_mean ? total / static_cast<double>(reads.size()) : total);
  }
  return scores;
}

// Letter protocol: which choice the highest-logit token of the vocabulary answers, if any.
inline std::optional<std::size_t> greedy_choice(const ScoringPlan& plan, const RowLogits& logits) {
  const TokenRead& r = plan.choices.at(0).at(0);
  const auto row = logits.row(r.sequence, r.row);
  const auto best = static_cast<std::int32_t>(std::max_element(row.begin(), row.end()) - row.begin());
  for (std::size_t c = 0; c < plan.greedy_tokens.size(); ++c)
    if (std::find(plan.greedy_tokens[c].begin(), plan.greedy_tokens[c].end(), best) != plan.greedy_tokens[c].end())
      return c;
  return std::nullopt;
}

}  // namespace detail

// `logits[s]` holds, row-major, the logits of the rows plan.row_ranges()[s] of sequence s. `rule`
// may differ from plan.rule between the two log-likelihood rules, which read the same logits.
inline ExampleOutcome score_example(const ScoringPlan& plan, std::span<const std::vector<float>> logits,
                                    std::size_t vocab, ScoreRule rule) {
  if ((rule == ScoreRule::restricted) != (plan.rule == ScoreRule::restricted))
    throw std::invalid_argument("act: a plan for one next token cannot be scored by likelihood, nor the reverse");
  const detail::RowLogits rows(plan, logits, vocab);
  ExampleOutcome out;
  out.id = plan.example_id;
  out.label = plan.label;
  out.scores = rule == ScoreRule::restricted ? detail::restricted_scores(plan, rows)
                                             : detail::likelihood_scores(plan, rows, rule);
  out.predicted =
      plan.greedy_tokens.empty() ? std::optional(detail::argmax(out.scores)) : detail::greedy_choice(plan, rows);
  out.margin = detail::margin_of(out.scores, plan.label);
  return out;
}

inline ExampleOutcome score_example(const ScoringPlan& plan, std::span<const std::vector<float>> logits,
                                    std::size_t vocab) {
  return score_example(plan, logits, vocab, plan.rule);
}

}  // namespace act::eval
