#pragma once
// A cheaper head search in two stages: every candidate on the first `screen_prompts` prompts, then
// only the `keep` best of them (by margin gain, the graded measure, which a few prompts estimate
// better than accuracy) on all prompts. The second stage is the exact search restricted to the
// survivors, so their measurements equal the full search's; what screening can lose is a good
// head ranked low on the small sample. Cost: screen_prompts/prompts of the full search plus
// keep/candidates of it.
#include <act/eval/search/head_search.hpp>
#include <act/eval/search/head_selection.hpp>

namespace act::eval {

struct ScreeningOptions {
  std::size_t screen_prompts = 32;
  std::size_t keep = 48;
};

struct ScreenedSearch {
  SearchResult screen;  // every candidate, on the screening prompts
  SearchResult final;   // the survivors, on all prompts
};

// options.checkpoint (if any) holds the final stage, which is compatible with a full search on
// the same prompts; the screening stage uses "<checkpoint>.screen".
inline ScreenedSearch screened_search(const model::LlamaModel& m, std::span<const ScoringPlan> plans,
                                      const SearchOptions& options, const ScreeningOptions& screening) {
  if (screening.screen_prompts == 0 || screening.screen_prompts > plans.size())
    throw Error("act: screening needs between 1 and " + std::to_string(plans.size()) + " prompts (got " +
                std::to_string(screening.screen_prompts) + ")");
  if (screening.keep == 0) throw Error("act: screening must keep at least one head");
  SearchOptions first = options;
  first.early_stop.reset();  // the survivors are ranked by margin gain, which the stop does not measure
  if (options.checkpoint) first.checkpoint = options.checkpoint->string() + ".screen";
  ScreenedSearch out;
  out.screen = search_heads(m, plans.first(screening.screen_prompts), first);
  SearchOptions second = options;
  second.only.clear();
  for (const HeadEffect& e : rank_heads(out.screen.heads, SelectBy::margin)) {
    if (second.only.size() == screening.keep) break;
    second.only.push_back(e.id);
  }
  out.final = search_heads(m, plans, second);
  return out;
}

}  // namespace act::eval
