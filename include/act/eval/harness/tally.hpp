#pragma once
// Accuracy bookkeeping over a run: how many examples, how many right, how many the letter
// protocol could not map to a choice, and the mean margin of the right answer.
#include <act/eval/harness/scoring.hpp>

#include <span>

namespace act::eval {

struct Tally {
  std::size_t examples = 0;
  std::size_t correct = 0;
  std::size_t unanswered = 0;  // letter protocol: the greedy token was no choice letter
  double margin_sum = 0.0;

  void add(const ExampleOutcome& outcome) {
    ++examples;
    correct += outcome.correct() ? 1 : 0;
    unanswered += outcome.predicted.has_value() ? 0 : 1;
    margin_sum += outcome.margin;
  }
  double accuracy() const noexcept {
    return examples == 0 ? 0.0 : static_cast<double>(correct) / static_cast<double>(examples);
  }
  double mean_margin() const noexcept { return examples == 0 ? 0.0 : margin_sum / static_cast<double>(examples); }
};

// Outcomes are summed in order, so equal outcomes give bit-identical tallies.
inline Tally tally(std::span<const ExampleOutcome> outcomes) {
  Tally t;
  for (const ExampleOutcome& o : outcomes) t.add(o);
  return t;
}

}  // namespace act::eval
