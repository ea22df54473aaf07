#pragma once
// What calibrating one head alone did on the calibration prompts, compared with the
// un-calibrated model: accuracy and mean margin of the right answer, their gains, and how many
// prompts it turned right (fixed) or wrong (broken). Stored as a HeadSet measurement.
#include <act/eval/harness/tally.hpp>
#include <act/heads/head_set.hpp>

#include <cmath>
#include <map>
#include <span>
#include <stdexcept>
#include <string>

namespace act::eval {

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

  std::map<std::string, double> values() const {
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
  // finite. Throws act::FormatError naming the value.
  static HeadEffect from_values(HeadId id, const std::map<std::string, double>& values, std::size_t prompts) {
    const auto get = [&](const char* key) {
      const auto it = values.find(key);
      if (it == values.end()) throw FormatError(std::string("act: head measurement lacks \"") + key + "\"");
      if (!std::isfinite(it->second)) bad_value(key, "must be finite");
      return it->second;
    };
    const auto count = [&](const char* key, std::size_t most) {
      const double value = get(key);  // compared as double: a cast of an out-of-range value is undefined
      if (!(value >= 0.0 && value <= static_cast<double>(most) && value == std::floor(value)))
        bad_value(key,
                  "must be a whole number in [0, " + std::to_string(most) + "] (got " + std::to_string(value) + ")");
      return static_cast<std::size_t>(value);
    };
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
    return e;
  }

  HeadMeasurement measurement() const { return {id, values()}; }

 private:
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
