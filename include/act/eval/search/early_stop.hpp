#pragma once
// A sound sequential stopping rule for the head search under the accuracy rule: a head's
// evaluation ends once the prompts not yet run cannot change whether it is selected.
//
// After some prompts, a head's final count of right answers lies in [right so far, right so far +
// prompts left]: each prompt left may still go either way. (Equivalently, with B the baseline's
// right answers: each baseline-wrong prompt left may still be fixed, each right one broken.)
// The head is selected when
// its accuracy gain exceeds min_gain, a test that is monotone in the count; it is decided once
// both ends of the interval give the same answer. Rejection is always sound; acceptance only when
// the selection does not rank the passing heads (no top-k), since a stopped head's gain is not known.
//
// Prompts run in one order for every head: the baseline's wrong answers first (until they are all
// run, no head can be rejected: each could still be fixed), then its right ones from the smallest
// margin up (the likeliest to break). The decision is taken between rounds whose sizes depend on
// counts only, so which prompts a head ran is the same for any number of threads or ranks.
#include <act/eval/harness/tally.hpp>
#include <act/eval/search/head_effect.hpp>
#include <act/eval/search/head_selection.hpp>

#include <algorithm>
#include <cstddef>
#include <numeric>
#include <optional>
#include <span>
#include <vector>

namespace act::eval {

struct EarlyStop {
  double min_gain = 0.0;  // the accuracy rule's threshold: a head must gain strictly more
  bool accept = true;     // also stop a head that must pass (only when the rule keeps every passing head)
};

// The early stop that selects exactly what `rule` selects from a full search; none for the margin
// rule, whose per-prompt changes are unbounded.
inline std::optional<EarlyStop> early_stop_for(const SelectionRule& rule) {
  if (rule.by != SelectBy::accuracy) return std::nullopt;
  return EarlyStop{rule.min_gain, rule.top_k == 0};
}

// The order prompts are run in (see the top of this file); ties keep plan order.
inline std::vector<std::size_t> early_stop_order(std::span<const ExampleOutcome> baseline) {
  std::vector<std::size_t> order(baseline.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (baseline[a].correct() != baseline[b].correct()) return !baseline[a].correct();
    return baseline[a].correct() && baseline[a].margin < baseline[b].margin;
  });
  return order;
}

// One head's progress through the prompts and what it still allows.
class StoppingHead {
 public:
  // Fewest prompts a round gives a head: rounds of one would leave threads idle near a decision.
  static constexpr std::size_t min_round = 4;

  StoppingHead(std::span<const ExampleOutcome> baseline, const EarlyStop& rule) : rule_(rule) {
    const Tally base = tally(baseline);
    prompts_ = base.examples;
    base_accuracy_ = base.accuracy();
    first_passing_ = prompts_ + 1;
    for (std::size_t c = 0; c <= prompts_; ++c)
      if (passes(c)) {
        first_passing_ = c;  // passes() is monotone in c
        break;
      }
  }

  void add(const ExampleOutcome& base, const ExampleOutcome& with) {
    ++evaluated_;
    correct_ += with.correct() ? 1 : 0;
    fixed_ += !base.correct() && with.correct() ? 1 : 0;
    broken_ += base.correct() && !with.correct() ? 1 : 0;
  }

  std::size_t evaluated() const noexcept { return evaluated_; }
  bool finished() const noexcept { return evaluated_ == prompts_; }

  HeadStop decision() const noexcept {
    if (finished()) return HeadStop::none;
    if (highest() < first_passing_) return HeadStop::rejected;
    if (rule_.accept && lowest() >= first_passing_) return HeadStop::accepted;
    return HeadStop::none;
  }

  // Prompts to run before the next look: no decision can come sooner, each prompt moving either
  // end of the interval by at most one.
  std::size_t next_round() const noexcept {
    std::size_t steps = highest() + 1 - first_passing_;
    if (rule_.accept) steps = std::min(steps, first_passing_ - lowest());
    return std::min(std::max(steps, min_round), prompts_ - evaluated_);
  }

  // The stopped head's record (decision() must not be none).
  HeadEffect stopped(HeadId id) const {
    HeadEffect e{id, prompts_, correct_, fixed_, broken_};
    e.stop = decision();
    e.evaluated = evaluated_;
    e.accuracy_gain = gain(e.stop == HeadStop::rejected ? highest() : lowest());
    return e;
  }

 private:
  // The selection's test on a finished head, computed as compare_outcomes and selected_heads do.
  double gain(std::size_t correct) const noexcept {
    return Tally{prompts_, correct, 0, 0.0}.accuracy() - base_accuracy_;
  }
  bool passes(std::size_t correct) const noexcept { return gain(correct) > rule_.min_gain; }

  // The final count of right answers lies in [lowest, highest]: each prompt left may go either way.
  std::size_t lowest() const noexcept { return correct_; }
  std::size_t highest() const noexcept { return correct_ + prompts_ - evaluated_; }

  EarlyStop rule_;
  std::size_t prompts_ = 0, first_passing_ = 0;
  double base_accuracy_ = 0.0;
  std::size_t evaluated_ = 0, correct_ = 0, fixed_ = 0, broken_ = 0;
};

}  // namespace act::eval
