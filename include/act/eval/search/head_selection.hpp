#pragma once
// From per-head measurements to a head set. A head is selected when calibrating it alone improved
// the chosen measure by more than `min_gain` (accuracy, or the margin of the right answer, which
// also moves when no prediction flips); the best `top_k` of them are kept (0: all). The head set
// records every searched head's measurements, selected or not.
#include <act/eval/search/head_effect.hpp>

#include <algorithm>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace act::eval {

enum class SelectBy { accuracy, margin };

inline SelectBy parse_select_by(std::string_view name) {
  if (name == "accuracy") return SelectBy::accuracy;
  if (name == "margin") return SelectBy::margin;
  throw Error("act: unknown selection rule '" + std::string(name) + "' (known: accuracy, margin)");
}

struct SelectionRule {
  SelectBy by = SelectBy::accuracy;
  std::size_t top_k = 0;  // 0: every head that passes
  double min_gain = 0.0;  // a head must gain strictly more
};

inline double gain_of(const HeadEffect& e, SelectBy by) {
  return by == SelectBy::accuracy ? e.accuracy_gain : e.margin_gain;
}

// Best first: the chosen gain, then the other one, then (layer, head).
inline std::vector<HeadEffect> rank_heads(std::vector<HeadEffect> heads, SelectBy by) {
  const SelectBy other = by == SelectBy::accuracy ? SelectBy::margin : SelectBy::accuracy;
  std::stable_sort(heads.begin(), heads.end(), [&](const HeadEffect& a, const HeadEffect& b) {
    return std::make_tuple(-gain_of(a, by), -gain_of(a, other), a.id) <
           std::make_tuple(-gain_of(b, by), -gain_of(b, other), b.id);
  });
  return heads;
}

// A head stopped early (early_stop.hpp) knows only a bound on its accuracy gain: enough for a rule
// that the bound decides (a rejected head's upper bound at or below min_gain; an accepted head's
// lower bound above it, when no top-k ranks the passing heads). Throws act::Error otherwise.
inline void check_decided(const HeadEffect& e, const SelectionRule& rule) {
  if (e.complete()) return;
  const bool decided = rule.by == SelectBy::accuracy &&
                       (e.stop == HeadStop::rejected ? e.accuracy_gain <= rule.min_gain
                                                     : rule.top_k == 0 && e.accuracy_gain > rule.min_gain);
  if (!decided)
    throw Error("act: head " + std::to_string(e.id.layer) + ":" + std::to_string(e.id.head) + " was run on " +
                std::to_string(e.evaluated) + " of " + std::to_string(e.prompts) +
                " prompts (an early-stopped search), which does not decide this selection rule; search again "
                "without the early stop");
}

inline std::vector<HeadId> selected_heads(const std::vector<HeadEffect>& heads, const SelectionRule& rule) {
  for (const HeadEffect& e : heads) check_decided(e, rule);
  std::vector<HeadId> out;
  for (const HeadEffect& e : rank_heads(heads, rule.by)) {
    if (rule.top_k != 0 && out.size() == rule.top_k) break;
    if (gain_of(e, rule.by) > rule.min_gain) out.push_back(e.id);
  }
  return out;
}

inline HeadSet make_head_set(const std::vector<HeadEffect>& heads, const SelectionRule& rule,
                             const AnyCalibration& calibration, std::string model_name) {
  HeadSet set(selected_heads(heads, rule), 0.4f, 0.1f, std::move(model_name));
  set.set_calibration(calibration);
  for (const HeadEffect& e : heads) set.measurements.push_back(e.measurement());
  return set;
}

}  // namespace act::eval
