#include <act/eval/harness/harness.hpp>
#include <act/eval/search/head_factors.hpp>
#include <act/eval/search/head_partition.hpp>
#include <act/eval/search/head_screening.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

#include "stories_model.hpp"

using namespace act::eval;

namespace {

// A few calib rows of a classification and a multiple-choice task, scored with the tiny model's tokenizer.
std::vector<ScoringPlan> calibration_plans(const act::model::LlamaModel& m) {
  const auto data = *act::testing::shared_dir() / "data";
  std::vector<ScoringPlan> plans;
  const auto add = [&](std::string_view name, Protocol protocol, std::size_t count) {
    const Task& task = find_task(name);
    auto rows = load_examples(task, split_path(data, task, "calib"));
    rows.resize(count);
    for (auto& plan : make_plans(m, task, protocol, rows, {})) plans.push_back(std::move(plan));
  };
  add("sst5", Protocol::label, 4);  // the tiny vocabulary cannot tell sst2's label words apart
  add("copa", Protocol::loglik_norm, 2);
  return plans;
}

void require_same(const SearchResult& a, const SearchResult& b) {
  CHECK(a.baseline.correct == b.baseline.correct);
  CHECK(a.baseline.margin_sum == b.baseline.margin_sum);
  REQUIRE(a.heads.size() == b.heads.size());
  for (std::size_t i = 0; i < a.heads.size(); ++i) {
    INFO("head (" << a.heads[i].id.layer << ", " << a.heads[i].id.head << ")");
    CHECK(a.heads[i].id == b.heads[i].id);
    CHECK(a.heads[i].values() == b.heads[i].values());  // bit-identical, not approximately equal
  }
}

SearchOptions quiet(WorkSplit split, int threads) {
  SearchOptions o;
  o.split = split;
  o.threads = threads;
  o.model_sha256 = "stories260K";
  return o;
}

// The factor searches' policy and grid: initial-token scaling, scaled down and up.
const std::vector<float> factor_grid = {0.25f, 4.0f};
SearchOptions initial_token_options() {
  SearchOptions o = quiet(WorkSplit::prompts, 2);
  o.calibration = {act::InitialToken{}, act::ScaleOnly{1.0f}};
  return o;
}

}  // namespace

TEST_CASE("head search: candidates skip layers 0, 1 and the last by default", "[eval][search]") {
  SearchOptions o;
  const auto heads = candidate_heads(6, 2, o);
  CHECK(heads == std::vector<act::HeadId>{{2, 0}, {2, 1}, {3, 0}, {3, 1}, {4, 0}, {4, 1}});
  o.excluded_layers = std::vector<std::uint32_t>{};
  CHECK(candidate_heads(6, 2, o).size() == 12);
  o.only = {{3, 1}, {0, 0}};
  CHECK(candidate_heads(6, 2, o) == std::vector<act::HeadId>{{0, 0}, {3, 1}});
}

TEST_CASE("head search: sharing the prefix gives exactly the naive loop's measurements", "[eval][search][shared]") {
  const auto* m = act::testing::stories_model();
  if (m == nullptr) return;
  const auto plans = calibration_plans(*m);
  const SearchResult naive = search_heads_naive(*m, plans, quiet(WorkSplit::model, 1));
  REQUIRE(naive.heads.size() == (m->config().layers - 3) * m->config().heads);
  const SearchResult shared = search_heads(*m, plans, quiet(WorkSplit::model, 1));
  require_same(naive, shared);
  require_same(naive, search_heads(*m, plans, quiet(WorkSplit::prompts, 2)));
  require_same(naive, search_heads(*m, plans, quiet(WorkSplit::heads, 2)));

  // The measurements are real: the baseline matches a plain evaluation and some head moves the margin.
  CHECK(naive.baseline.correct == tally(evaluate_plans(*m, plans, {}, WorkSplit::model, 1)).correct);
  CHECK(std::any_of(naive.heads.begin(), naive.heads.end(), [](const HeadEffect& e) { return e.margin_gain != 0.0; }));
  // A head's measurement is what evaluating with that head alone gives.
  const HeadEffect& some = naive.heads[naive.heads.size() / 2];
  const auto with_head =
      evaluate_plans(*m, plans, single_head(some.id, quiet(WorkSplit::model, 1)), WorkSplit::model, 1);
  CHECK(tally(with_head).margin_sum / static_cast<double>(plans.size()) == some.margin);
}

TEST_CASE("head search: an interrupted search resumes from its checkpoint", "[eval][search][checkpoint][shared]") {
  const auto* m = act::testing::stories_model();
  if (m == nullptr) return;
  const auto plans = calibration_plans(*m);
  const auto path = std::filesystem::temp_directory_path() / "act_search_resume.jsonl";
  std::filesystem::remove(path);
  SearchOptions options = quiet(WorkSplit::prompts, 2);
  options.checkpoint = path;
  const SearchResult full = search_heads(*m, plans, options);
  CHECK(full.resumed == 0);

  // Keep the header and the first layer only, as if the search had stopped there mid-write.
  std::ifstream in(path);
  std::string line, kept;
  for (std::size_t i = 0; i < 1 + m->config().heads && std::getline(in, line); ++i) kept += line + "\n";
  in.close();
  { std::ofstream(path, std::ios::trunc) << kept << R"({"layer": 3, "he)"; }
  const SearchResult resumed = search_heads(*m, plans, options);
  CHECK(resumed.resumed == m->config().heads);
  require_same(full, resumed);

  const SearchResult again = search_heads(*m, plans, options);  // nothing left to do
  CHECK(again.resumed == full.heads.size());
  require_same(full, again);

  // Lines that parse but do not belong to this search's model or baseline are refused.
  std::string whole;
  {
    std::ifstream all(path);
    whole.assign(std::istreambuf_iterator<char>(all), {});
  }
  HeadEffect outside = full.heads.front();
  outside.id = {static_cast<std::uint32_t>(m->config().layers), 0};
  { std::ofstream(path, std::ios::app) << effect_row(outside).dump() << "\n"; }
  CHECK_THROWS_WITH(search_heads(*m, plans, options), Catch::Contains("is outside the model"));
  HeadEffect shifted = full.heads.back();  // its margin gain moved by 1e300, as in a damaged file
  shifted.margin_gain += 1e300;
  const std::string last = effect_row(full.heads.back()).dump();
  REQUIRE(whole.find(last) != std::string::npos);
  { std::ofstream(path, std::ios::trunc) << whole.replace(whole.find(last), last.size(), effect_row(shifted).dump()); }
  CHECK_THROWS_WITH(search_heads(*m, plans, options), Catch::Contains("do not match this search's baseline"));
  { std::ofstream(path, std::ios::trunc) << whole; }

  options.calibration = act::AnyCalibration::paper(0.5f);  // another search may not reuse it
  CHECK_THROWS_WITH(search_heads(*m, plans, options), Catch::Contains("different search"));
  options.calibration = act::AnyCalibration::paper();  // nor the same search in other arithmetic
  options.arithmetic = "matmul bf16";
  CHECK_THROWS_WITH(search_heads(*m, plans, options), Catch::Contains("different search"));
  std::filesystem::remove(path);
}

TEST_CASE("head search: the early stop selects the full search's heads", "[eval][search][shared]") {
  const auto* m = act::testing::stories_model();
  if (m == nullptr) return;
  const auto plans = calibration_plans(*m);
  const SearchResult full = search_heads(*m, plans, quiet(WorkSplit::prompts, 2));
  std::size_t stopped = 0;
  for (const SelectionRule rule :
       {SelectionRule{SelectBy::accuracy, 0, 0.0}, SelectionRule{SelectBy::accuracy, 0, -0.2},
        SelectionRule{SelectBy::accuracy, 2, -0.2}}) {
    INFO("min_gain " << rule.min_gain << " top_k " << rule.top_k);
    SearchOptions options = quiet(WorkSplit::prompts, 2);
    options.early_stop = early_stop_for(rule);
    const SearchResult quick = search_heads(*m, plans, options);
    // The same set; its ranked order may differ, as accepted heads rank by their gain's lower bound.
    auto chosen = selected_heads(quick.heads, rule), expected = selected_heads(full.heads, rule);
    std::sort(chosen.begin(), chosen.end());
    std::sort(expected.begin(), expected.end());
    CHECK(chosen == expected);
    REQUIRE(quick.heads.size() == full.heads.size());
    for (std::size_t i = 0; i < quick.heads.size(); ++i) {
      stopped += quick.heads[i].complete() ? 0 : 1;
      if (quick.heads[i].complete()) CHECK(quick.heads[i].values() == full.heads[i].values());
    }
    // Which prompts a head ran depends on counts only, not on how threads share the work.
    options.split = WorkSplit::model;
    options.threads = 1;
    const SearchResult serial = search_heads(*m, plans, options);
    for (std::size_t i = 0; i < quick.heads.size(); ++i) CHECK(serial.heads[i].values() == quick.heads[i].values());
  }
  CHECK(stopped > 0);
}

TEST_CASE("head search: shares searched apart merge into the whole search", "[eval][search][shared]") {
  const auto* m = act::testing::stories_model();
  if (m == nullptr) return;
  const auto plans = calibration_plans(*m);
  SearchOptions options = quiet(WorkSplit::prompts, 2);
  options.early_stop = EarlyStop{0.0, true};
  const SearchResult whole = search_heads(*m, plans, options);
  const auto candidates = candidate_heads(m->config().layers, m->config().heads, options);
  std::vector<std::string> texts;
  SearchResult first;
  for (std::size_t rank = 0; rank < 3; ++rank) {
    SearchOptions share = options;
    share.only = heads_for_rank(candidates, rank, 3);
    CHECK(share.only.size() >= candidates.size() / 3);
    const SearchResult part = search_heads(*m, plans, share);
    if (rank == 0) first = part;
    texts.push_back(share_text(part));
  }
  const SearchResult merged = merge_shares(first, texts, plans.size());
  require_same(whole, merged);

  // A rank that measured a head twice, saw another baseline or sent garbage is reported.
  auto twice = texts;
  twice[1] = texts[0];
  CHECK_THROWS_WITH(merge_shares(first, twice, plans.size()), Catch::Contains("was measured by ranks 0 and 1"));
  SearchResult other = first;
  other.baseline.correct += 1;
  CHECK_THROWS_WITH(merge_shares(first, {share_text(other)}, plans.size()), Catch::Contains("another baseline"));
  CHECK_THROWS_WITH(merge_shares(first, {"{\"heads\": 3"}, plans.size()), Catch::Contains("rank 0 sent a malformed"));
  CHECK(rank_checkpoint("a/ck.jsonl", 1, 4) == "a/ck.jsonl.rank1-of-4");
  CHECK_THROWS_WITH(heads_for_rank(candidates, 3, 3), Catch::Contains("rank < ranks"));
}

TEST_CASE("head search: screening keeps the best heads and measures them exactly", "[eval][search][shared]") {
  const auto* m = act::testing::stories_model();
  if (m == nullptr) return;
  const auto plans = calibration_plans(*m);
  const SearchOptions options = quiet(WorkSplit::prompts, 2);
  const SearchResult exact = search_heads(*m, plans, options);
  const ScreenedSearch screened = screened_search(*m, plans, options, {3, 5});
  CHECK(screened.screen.heads.size() == exact.heads.size());
  CHECK(screened.screen.baseline.examples == 3);
  REQUIRE(screened.final.heads.size() == 5);
  // The survivors are the best five on the screening prompts...
  const auto ranked = rank_heads(screened.screen.heads, SelectBy::margin);
  for (std::size_t i = 0; i < 5; ++i)
    CHECK(std::any_of(screened.final.heads.begin(), screened.final.heads.end(),
                      [&](const HeadEffect& e) { return e.id == ranked[i].id; }));
  // ...and their final measurements are the exact search's.
  for (const HeadEffect& e : screened.final.heads) {
    const auto same =
        std::find_if(exact.heads.begin(), exact.heads.end(), [&](const HeadEffect& x) { return x.id == e.id; });
    REQUIRE(same != exact.heads.end());
    CHECK(same->values() == e.values());
  }
  CHECK_THROWS_WITH(screened_search(*m, plans, options, {0, 5}), Catch::Contains("between 1 and"));
  CHECK_THROWS_WITH(screened_search(*m, plans, options, {3, 0}), Catch::Contains("keep at least one head"));
}

TEST_CASE("factor search: each head keeps its best factor", "[eval][search][factors]") {
  // Two heads, three factors: head (2, 0) gains most with 0.5, head (2, 1) never beats the baseline
  // in accuracy and ties 0.25 with 1 on it, so the margin decides (1); on a full tie the first factor.
  const auto effect = [](std::uint32_t head, double accuracy_gain, double margin_gain) {
    HeadEffect e;
    e.id = {2, head};
    e.accuracy_gain = accuracy_gain;
    e.margin_gain = margin_gain;
    return e;
  };
  std::vector<FactorSearch> searches(3);
  searches[0] = {0.25f, {{}, {effect(0, 0.01, 0.0), effect(1, -0.02, 0.1)}, 0, 0.0}};
  searches[1] = {0.5f, {{}, {effect(0, 0.03, -0.1), effect(1, -0.05, 0.9)}, 0, 0.0}};
  searches[2] = {1.0f, {{}, {effect(0, 0.03, -0.2), effect(1, -0.02, 0.2)}, 0, 0.0}};
  const auto best = best_factors(searches, SelectBy::accuracy);
  REQUIRE(best.size() == 2);
  CHECK(best[0].factor == 0.5f);
  CHECK(best[1].factor == 1.0f);
  const act::HeadSet set = make_factor_head_set(best, {SelectBy::accuracy, 0, 0.0},
                                                act::AnyCalibration::initial_token_scaling(1.0f), 0.25f, "m");
  CHECK(set.heads() == std::vector<act::HeadId>{{2, 0}});  // (2, 1) does not beat the baseline
  CHECK(set.factor({2, 0}) == 0.5f);
  CHECK(set.calibration().text() == "initial-token + scale-only:0.25");
  REQUIRE(set.measurements.size() == 2);
  CHECK(set.measurements[1].values.at("factor") == 1.0);
  CHECK(best_factors(searches, SelectBy::margin)[1].factor == 0.5f);
}

TEST_CASE("factor search: on the model, the chosen factor is the best and the model applies it",
          "[eval][search][factors][shared]") {
  const auto* m = act::testing::stories_model();
  if (m == nullptr) return;
  const auto plans = calibration_plans(*m);
  SearchOptions options = initial_token_options();
  const auto searches =
      search_factors(factor_grid, options, [&](const SearchOptions& one) { return search_heads(*m, plans, one); });
  REQUIRE(searches.size() == 2);
  // Each factor's search is the plain search with that factor.
  options.calibration = act::AnyCalibration::initial_token_scaling(4.0f);
  require_same(searches[1].result, search_heads(*m, plans, options));

  const auto best = best_factors(searches, SelectBy::margin);
  REQUIRE(best.size() == searches[0].result.heads.size());
  for (std::size_t h = 0; h < best.size(); ++h) {
    const double low = searches[0].result.heads[h].margin_gain, high = searches[1].result.heads[h].margin_gain;
    if (high != low) CHECK(best[h].factor == (high > low ? 4.0f : 0.25f));  // a tie goes to the accuracy gain
    CHECK(best[h].effect.margin_gain == std::max(low, high));
  }
  const act::HeadSet set =
      make_factor_head_set(best, {SelectBy::margin, 2, -1.0}, options.calibration, 0.25f, m->name());
  REQUIRE(set.size() == 2);
  // The model calibrates a head with its recorded factor: evaluating the set's best head alone
  // gives the margin the search measured for it.
  const act::HeadSet back = act::HeadSet::from_json_text(set.to_json().dump());
  const auto top = rank_heads(
                       [&] {
                         std::vector<HeadEffect> effects;
                         for (const auto& f : best) effects.push_back(f.effect);
                         return effects;
                       }(),
                       SelectBy::margin)
                       .front();
  act::HeadSet alone;
  alone.add(top.id, *back.factor(top.id));
  alone.set_calibration(back.calibration());
  const auto outcomes = evaluate_plans(*m, plans, act::model::ActSettings::from_head_set(alone), WorkSplit::model, 1);
  CHECK(tally(outcomes).margin_sum / static_cast<double>(plans.size()) == top.margin);
}

TEST_CASE("factor search: the early stop chooses the full search's heads and factors",
          "[eval][search][factors][shared]") {
  const auto* m = act::testing::stories_model();
  if (m == nullptr) return;
  const auto plans = calibration_plans(*m);
  SearchOptions options = initial_token_options();
  const auto search = [&](const SearchOptions& one) { return search_heads(*m, plans, one); };
  const auto full = best_factors(search_factors(factor_grid, options, search), SelectBy::accuracy);
  std::size_t stopped = 0;
  for (const SelectionRule rule :
       {SelectionRule{SelectBy::accuracy, 0, -0.2}, SelectionRule{SelectBy::accuracy, 2, -0.2},
        SelectionRule{SelectBy::accuracy, 0, 0.0}}) {
    INFO("min_gain " << rule.min_gain << " top_k " << rule.top_k);
    SearchOptions stopping = options;
    stopping.early_stop = early_stop_for(rule);
    const auto quick = best_factors(search_factors(factor_grid, stopping, search), SelectBy::accuracy);
    const act::HeadSet expected = make_factor_head_set(full, rule, options.calibration, 0.25f, "m");
    const act::HeadSet chosen = make_factor_head_set(quick, rule, options.calibration, 0.25f, "m");
    CHECK(chosen.heads() == expected.heads());
    CHECK(chosen.factors() == expected.factors());
    REQUIRE(quick.size() == full.size());
    for (std::size_t h = 0; h < quick.size(); ++h) {
      // Only rejection stops a head, so every head the rule may keep was measured in full.
      stopped += quick[h].effect.complete() ? 0 : 1;
      CHECK((quick[h].effect.complete() || quick[h].effect.stop == HeadStop::rejected));
      if (quick[h].effect.accuracy_gain > rule.min_gain) CHECK(quick[h].effect.values() == full[h].effect.values());
    }
  }
  CHECK(stopped > 0);
}

TEST_CASE("controls: random heads are distinct, sorted and seeded", "[eval][search]") {
  const auto candidates = candidate_heads(30, 9, default_excluded_layers(30));
  CHECK(candidates.size() == 243);
  const auto a = random_heads(candidates, 12, 1);
  CHECK(a.size() == 12);
  CHECK(std::is_sorted(a.begin(), a.end()));
  CHECK(std::adjacent_find(a.begin(), a.end()) == a.end());
  CHECK(a == random_heads(candidates, 12, 1));
  CHECK(a != random_heads(candidates, 12, 2));
  for (const auto& id : a) CHECK((id.layer >= 2 && id.layer <= 28));
  CHECK(random_heads(candidates, 243, 5) == candidates);
  CHECK_THROWS_WITH(random_heads(candidates, 244, 1), Catch::Contains("cannot draw 244 distinct items from 243"));
}
