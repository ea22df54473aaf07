#pragma once
// What calibrating one head alone did on the calibration prompts, compared with the
// un-calibrated model: accuracy and mean margin of the right answer, their gains, and how many
// prompts it turned right (fixed) or wrong (broken). Stored as a HeadSet measurement.
#include <act/eval/harness/tally.hpp>
#include <act/heads/head_set.hpp>

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
    return {{"prompts", static_cast<double>(prompts)}, {"correct", static_cast<double>(correct)},
            {"fixed", static_cast<double>(fixed)},     {"broken", static_cast<double>(broken)},
            {"accuracy", accuracy},                    {"accuracy_gain", accuracy_gain},
            {"margin", margin},                        {"margin_gain", margin_gain}};
  }

  // Throws act::FormatError naming the missing value.
  static HeadEffect from_values(HeadId id, const std::map<std::string, double>& values) {
    const auto get = [&](const char* key) {
      const auto it = values.find(key);
      if (it == values.end()) throw FormatError(std::string("act: head measurement lacks \"") + key + "\"");
      return it->second;
    };
    const auto count = [&](const char* key) { return static_cast<std::size_t>(get(key)); };
    return {id,  count("prompts"), count("correct"), count("fixed"), count("broken"), get("accuracy"),
            get("accuracy_gain"), get("margin"),    get("margin_gain")};
  }

  HeadMeasurement measurement() const { return {id, values()}; }
};

// `calibrated[p]` and `baseline[p]` are outcomes of the same prompt.
inline HeadEffect compare_outcomes(HeadId id, std::span<const ExampleOutcome> baseline,
                                   std::span<const ExampleOutcome> calibrated) {
  if (baseline.size() != calibrated.size())
    throw std::invalid_argument("act: compare_outcomes needs one baseline outcome per prompt");
  const Tally base = tally(baseline), with = tally(calibrated);
  HeadEffect e{id, with.examples, with.correct, 0, 0, with.accuracy(), with.accuracy() - base.accuracy(),
               with.mean_margin(), with.mean_margin() - base.mean_margin()};
  for (std::size_t p = 0; p < baseline.size(); ++p) {
    e.fixed += !baseline[p].correct() && calibrated[p].correct() ? 1 : 0;
    e.broken += baseline[p].correct() && !calibrated[p].correct() ? 1 : 0;
  }
  return e;
}

}  // namespace act::eval
