#pragma once
// A factor per head (issue 13's initial-token scaling "by a factor per head"): the per-head search
// is run once for each factor of a small grid, the rescaler being scale-only with that factor, and
// each head keeps the factor under which calibrating it alone did best on the calibration prompts.
// A head is selected as make_head_set does (its best gain must beat min_gain; top_k best), and the
// head set records the chosen factor per head (head_set.hpp, version 3). The search engine itself
// is untouched: this is one search per factor and a choice over their measurements.
// With an early stop, each factor's search only rejects (early_stop.hpp): a head that may pass
// runs every prompt, so the factors under which it passes are compared on full measurements, and
// a rejected factor (its gain's upper bound at or below min_gain) never beats one that passes.
#include <act/eval/search/head_search.hpp>
#include <act/eval/search/head_selection.hpp>
#include <act/policies/policy_text.hpp>

#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

namespace act::eval {

struct FactorSearch {
  float factor = 1.0f;
  SearchResult result;
};

// One head's best factor and what calibrating it with that factor did.
struct FactorEffect {
  HeadEffect effect;
  float factor = 1.0f;
};

// `base` with a scale-only rescaler of beta `factor` (its detector kept).
inline AnyCalibration with_factor(const AnyCalibration& base, float factor) {
  return {base.detector, ScaleOnly{factor}};
}

// Runs `search(plans, options)` (search_heads or a compatible engine) once per factor. With a
// checkpoint, each factor gets its own file, PATH.factor-F, since a checkpoint belongs to one policy.
// An early stop in `options` is made rejection-only (see the top of this file).
// Throws std::invalid_argument for an empty grid.
template <class Search>
std::vector<FactorSearch> search_factors(std::span<const float> factors, const SearchOptions& options,
                                         Search&& search) {
  if (factors.empty()) throw std::invalid_argument("act: a factor search needs at least one factor");
  std::vector<FactorSearch> out;
  for (const float factor : factors) {
    SearchOptions one = options;
    one.calibration = with_factor(options.calibration, factor);
    if (one.early_stop) one.early_stop->accept = false;
    if (options.checkpoint) one.checkpoint = options.checkpoint->string() + ".factor-" + float_text(factor);
    out.push_back({factor, search(one)});
  }
  return out;
}

// Per head (by (layer, head)), the factor with the largest gain by `by`, then by the other gain;
// on a tie the factor given first. Every search must have measured the same heads.
inline std::vector<FactorEffect> best_factors(std::span<const FactorSearch> searches, SelectBy by) {
  const SelectBy other = by == SelectBy::accuracy ? SelectBy::margin : SelectBy::accuracy;
  std::map<HeadId, FactorEffect> best;
  for (const FactorSearch& s : searches) {
    for (const HeadEffect& e : s.result.heads) {
      const auto [at, added] = best.try_emplace(e.id, FactorEffect{e, s.factor});
      const HeadEffect& kept = at->second.effect;
      if (!added &&
          std::make_tuple(gain_of(e, by), gain_of(e, other)) > std::make_tuple(gain_of(kept, by), gain_of(kept, other)))
        at->second = {e, s.factor};
    }
  }
  std::vector<FactorEffect> out;
  for (auto& [id, effect] : best) out.push_back(std::move(effect));
  return out;
}

// The head set: the heads `rule` selects among the best effects, each with its factor; every
// searched head's measurement of its best factor, with that factor as "factor". The set's own
// rescaler is scale-only with the first factor of the grid (every selected head carries its own).
inline HeadSet make_factor_head_set(const std::vector<FactorEffect>& best, const SelectionRule& rule,
                                    const AnyCalibration& base, float first_factor, std::string model_name) {
  std::vector<HeadEffect> effects;
  std::map<HeadId, float> factor_of;
  for (const FactorEffect& f : best) {
    effects.push_back(f.effect);
    factor_of[f.effect.id] = f.factor;
  }
  HeadSet set({}, 0.4f, 0.1f, std::move(model_name));
  set.set_calibration(with_factor(base, first_factor));
  for (const HeadId& id : selected_heads(effects, rule)) set.add(id, factor_of.at(id));
  for (const FactorEffect& f : best) {
    HeadMeasurement m = f.effect.measurement();
    m.values["factor"] = act::detail::shortest_decimal(f.factor);
    set.measurements.push_back(std::move(m));
  }
  return set;
}

}  // namespace act::eval
