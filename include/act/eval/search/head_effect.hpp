#pragma once
// What calibrating one head alone did on the calibration prompts, compared with the
// un-calibrated model: accuracy and mean margin of the right answer, their gains, and how many
// prompts it turned right (fixed) or wrong (broken). Stored as a HeadSet measurement.
//
// A search with an early stop (early_stop.hpp) may end a head's evaluation once the remaining
// prompts cannot change whether the accuracy rule selects it. Such a head is "stopped": its
// counts cover only the prompts evaluated, its margins are not measured, and instead of its
// accuracy gain it records the bound that decided it (at most, when it can no longer pass; at
// least, when it must pass). Its values say so: "evaluated" < "prompts" and
// "accuracy_gain_at_most" or "accuracy_gain_at_least" in place of "accuracy" and the gains.
#include <act/eval/harness/tally.hpp>
#include <act/heads/head_set.hpp>

#include <cmath>
#include <map>
#include <span>
#include <stdexcept>
#include <string>

namespace act::eval {

// Why a head's evaluation ended before the last prompt, if it did.
enum class HeadStop {
  none,      // every prompt evaluated: the measurements are complete
  rejected,  // the accuracy gain can no longer exceed the threshold; accuracy_gain is its upper bound
  accepted,  // the accuracy gain must exceed the threshold; accuracy_gain is its lower bound
};

struct HeadEffect {
  HeadId id;
  std::size_t prompts = 0;
  std::size_t correct = 0;
  std::size_t fixed = 0;
  std::size_t broken = 0;
  double accuracy = 0.0;
  double accuracy_gain = 0.0;
  double margin = 0.0;
  double margin_gain = 0.0;
  HeadStop stop = HeadStop::none;
  std::size_t evaluated = 0;  // prompts run before the stop (stopped heads only)

  bool complete() const noexcept { return stop == HeadStop::none; }

  std::map<std::string, double> values() const {
    if (!complete())
      return {{"prompts", static_cast<double>(prompts)},
              {"evaluated", static_cast<double>(evaluated)},
              {"correct", static_cast<double>(correct)},
              {"fixed", static_cast<double>(fixed)},
              {"broken", static_cast<double>(broken)},
              {stop == HeadStop::rejected ? "accuracy_gain_at_most" : "accuracy_gain_at_least", accuracy_gain}};
    return {{"prompts", static_cast<double>(prompts)},
            {"correct", static_cast<double>(correct)},
            {"fixed", static_cast<double>(fixed)},
            {"broken", static_cast<double>(broken)},
            {"accuracy", accuracy},
            {"accuracy_gain", accuracy_gain},
            {"margin", margin},
            {"margin_gain", margin_gain}};
  }

  // Reads a measurement back (from a checkpoint) for a search over `prompts` prompts. Every value
  // is checked, since a hand-edited or corrupt file must not become a wrong head set: counts are
  // whole numbers in [0, prompts] ("prompts" itself must equal `prompts`), fixed heads are among the
  // correct ones and broken among the wrong, accuracy is correct / prompts, gains and margins are
  // finite. A stopped head's values are checked likewise (counts within "evaluated", which is below
  // "prompts"; one bound in [-1, 1]). Throws act::FormatError naming the value.
  static HeadEffect from_values(HeadId id, const std::map<std::string, double>& values, std::size_t prompts) {
    if (values.contains("evaluated")) return stopped_from_values(id, values, prompts);
    const auto get = [&](const char* key) { return value_of(values, key); };
    const auto count = [&](const char* key, std::size_t most) { return count_of(values, key, most); };
    if (count("prompts", prompts) != prompts) bad_value("prompts", "must be the search's " + std::to_string(prompts));
    HeadEffect e{id,
                 prompts,
                 count("correct", prompts),
                 0,
                 0,
                 get("accuracy"),
                 get("accuracy_gain"),
                 get("margin"),
                 get("margin_gain")};
    e.fixed = count("fixed", e.correct);
    e.broken = count("broken", prompts - e.correct);
    if (prompts > 0 && std::fabs(e.accuracy - static_cast<double>(e.correct) / static_cast<double>(prompts)) > 1e-9)
      bad_value("accuracy", "must be correct / prompts");
    if (std::fabs(e.accuracy_gain) > 1.0) bad_value("accuracy_gain", "must be in [-1, 1]");
    // The calibrated run is right where the baseline was, plus the prompts fixed, minus those broken.
    const double net = static_cast<double>(e.fixed) - static_cast<double>(e.broken);
    if (prompts > 0 && std::fabs(e.accuracy_gain - net / static_cast<double>(prompts)) > 1e-9)
      bad_value("accuracy_gain", "must be (fixed - broken) / prompts");
    return e;
  }

  HeadMeasurement measurement() const { return {id, values()}; }

 private:
  static double value_of(const std::map<std::string, double>& values, const char* key) {
    const auto it = values.find(key);
    if (it == values.end()) throw FormatError(std::string("act: head measurement lacks \"") + key + "\"");
    if (!std::isfinite(it->second)) bad_value(key, "must be finite");
    return it->second;
  }

  static std::size_t count_of(const std::map<std::string, double>& values, const char* key, std::size_t most) {
    const double value = value_of(values, key);  // compared as double: a cast of an out-of-range value is undefined
    if (!(value >= 0.0 && value <= static_cast<double>(most) && value == std::floor(value)))
      bad_value(key, "must be a whole number in [0, " + std::to_string(most) + "] (got " + std::to_string(value) + ")");
    return static_cast<std::size_t>(value);
  }

  // The stopped layout (see the top of this file): counts over "evaluated" < prompts, one bound.
  static HeadEffect stopped_from_values(HeadId id, const std::map<std::string, double>& values, std::size_t prompts) {
    if (count_of(values, "prompts", prompts) != prompts)
      bad_value("prompts", "must be the search's " + std::to_string(prompts));
    if (prompts == 0) bad_value("evaluated", "cannot appear in a search without prompts");
    HeadEffect e{id, prompts};
    e.evaluated = count_of(values, "evaluated", prompts - 1);
    e.correct = count_of(values, "correct", e.evaluated);
    e.fixed = count_of(values, "fixed", e.correct);
    e.broken = count_of(values, "broken", e.evaluated - e.correct);
    const bool at_most = values.contains("accuracy_gain_at_most");
    if (at_most == values.contains("accuracy_gain_at_least"))
      bad_value("evaluated", "needs exactly one of \"accuracy_gain_at_most\" and \"accuracy_gain_at_least\"");
    const char* bound = at_most ? "accuracy_gain_at_most" : "accuracy_gain_at_least";
    e.stop = at_most ? HeadStop::rejected : HeadStop::accepted;
    e.accuracy_gain = value_of(values, bound);
    if (std::fabs(e.accuracy_gain) > 1.0) bad_value(bound, "must be in [-1, 1]");
    return e;
  }

  [[noreturn]] static void bad_value(const std::string& key, const std::string& what) {
    throw FormatError("act: head measurement \"" + key + "\" " + what);
  }
};

// `calibrated[p]` and `baseline[p]` are outcomes of the same prompt.
inline HeadEffect compare_outcomes(HeadId id, std::span<const ExampleOutcome> baseline,
                                   std::span<const ExampleOutcome> calibrated) {
  if (baseline.size() != calibrated.size())
    throw std::invalid_argument("act: compare_outcomes needs one baseline outcome per prompt");
  const Tally base = tally(baseline), with = tally(calibrated);
  HeadEffect e{id,
               with.examples,
               with.correct,
               0,
               0,
               with.accuracy(),
               with.accuracy() - base.accuracy(),
               with.mean_margin(),
               with.mean_margin() - base.mean_margin()};
  for (std::size_t p = 0; p < baseline.size(); ++p) {
    e.fixed += !baseline[p].correct() && calibrated[p].correct() ? 1 : 0;
    e.broken += baseline[p].correct() && !calibrated[p].correct() ? 1 : 0;
  }
  return e;
}

}  // namespace act::eval
