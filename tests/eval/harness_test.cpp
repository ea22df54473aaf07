#include <act/eval/harness/harness.hpp>
#include <act/eval/harness/result_file.hpp>

#include <catch2/catch.hpp>

#include "stories_model.hpp"

using namespace act::eval;

namespace {

std::vector<Example> rows_of(const Task& task, const char* split, std::size_t count) {
  auto rows = load_examples(task, split_path(*act::testing::shared_dir() / "data", task, split));
  rows.resize(std::min(rows.size(), count));
  return rows;
}

EvalOptions quiet_options() {
  EvalOptions o;
  o.threads = 2;
  return o;
}

}  // namespace

TEST_CASE("harness: loglik and loglik-norm from one pass equal separate runs", "[eval][harness][shared]") {
  const auto* m = act::testing::stories_model();
  if (m == nullptr) return;
  const Task& copa = find_task("copa");
  const auto rows = rows_of(copa, "dev", 6);
  const auto both = evaluate_task(*m, copa, {Protocol::loglik_norm, Protocol::loglik}, rows, {}, {}, quiet_options());
  REQUIRE(both.size() == 2);
  CHECK(both[0].protocol == Protocol::loglik_norm);
  for (const auto& r : both) {
    const auto alone = evaluate_task(*m, copa, {r.protocol}, rows, {}, {}, quiet_options());
    REQUIRE(alone[0].runs.size() == 1);
    CHECK(alone[0].runs[0].tally.correct == r.runs[0].tally.correct);
    CHECK(alone[0].runs[0].tally.margin_sum == r.runs[0].tally.margin_sum);
  }
  // Different rules really were applied: per-token means are the sums divided by the token counts.
  CHECK(both[0].runs[0].outcomes[0].scores != both[1].runs[0].outcomes[0].scores);
  CHECK(both[0].runs[0].tally.examples == 6);
}

TEST_CASE("harness: k-shot runs once per seed and reports the mean", "[eval][harness][shared]") {
  const auto* m = act::testing::stories_model();
  if (m == nullptr) return;
  const Task& sst5 = find_task("sst5");
  const auto rows = rows_of(sst5, "dev", 4);
  const auto pool = rows_of(sst5, "calib", 30);
  EvalOptions options = quiet_options();
  options.shots = 2;
  options.seeds = {1, 2, 3};
  const auto result = evaluate_task(*m, sst5, {Protocol::label}, rows, pool, {}, options).at(0);
  REQUIRE(result.runs.size() == 3);
  CHECK(result.runs[1].seed == 2);
  double sum = 0.0;
  for (const auto& run : result.runs) sum += run.tally.accuracy();
  CHECK(result.accuracy() == Approx(sum / 3.0));
  // The demonstrations differ between seeds, so the scores do.
  CHECK(result.runs[0].outcomes[0].scores != result.runs[1].outcomes[0].scores);

  const auto zero = evaluate_task(*m, sst5, {Protocol::label}, rows, pool, {}, quiet_options()).at(0);
  REQUIRE(zero.runs.size() == 1);
  CHECK(zero.runs[0].seed == 0);

  const auto doc = task_result_json(result, true);
  CHECK(doc["seeds"] == nlohmann::json::array({1, 2, 3}));
  CHECK(doc["rows"] == 4);
  CHECK(doc["runs"][0]["examples"].size() == 4);
  CHECK(task_result_json(zero, false)["seeds"].empty());
}

TEST_CASE("harness: ACT heads change the scores, the work split does not", "[eval][harness][shared]") {
  const auto* m = act::testing::stories_model();
  if (m == nullptr) return;
  const Task& sst5 = find_task("sst5");
  const auto plans = make_plans(*m, sst5, Protocol::label, rows_of(sst5, "dev", 4), {});
  const act::model::ActSettings act(act::HeadSet({{2, 0}, {2, 3}, {3, 1}}, 0.4f, 0.1f), 0.4f, 0.1f);
  const auto plain = evaluate_plans(*m, plans, {}, WorkSplit::prompts, 2);
  const auto calibrated = evaluate_plans(*m, plans, act, WorkSplit::prompts, 2);
  const auto one_thread = evaluate_plans(*m, plans, act, WorkSplit::prompts, 1);
  bool changed = false;
  for (std::size_t i = 0; i < plans.size(); ++i) {
    changed = changed || plain[i].scores != calibrated[i].scores;
    CHECK(calibrated[i].scores == one_thread[i].scores);
  }
  CHECK(changed);
}
