// The head search's early stop (include/act/eval/search/early_stop.hpp) without a model: on
// random outcomes, a stopped head's decision is what the full comparison selects, and its record
// survives a checkpoint and refuses rules it does not decide.
#include <act/eval/search/early_stop.hpp>
#include <act/eval/search/search_checkpoint.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <random>

using namespace act::eval;
using act::HeadId;

namespace {

// `prompts` outcomes, each right with probability `p_right`, with a random margin.
std::vector<ExampleOutcome> random_outcomes(std::mt19937_64& rng, std::size_t prompts, double p_right) {
  std::bernoulli_distribution right(p_right);
  std::uniform_real_distribution<double> margin(0.0, 3.0);
  std::vector<ExampleOutcome> out(prompts);
  for (auto& o : out) {
    const bool is_right = right(rng);
    o.label = 0;
    o.predicted = is_right ? 0u : 1u;
    o.margin = is_right ? margin(rng) : -margin(rng);
  }
  return out;
}

// A head that flips each baseline outcome with probability `flip`.
std::vector<ExampleOutcome> perturbed(std::mt19937_64& rng, std::vector<ExampleOutcome> base, double flip) {
  std::bernoulli_distribution flips(flip);
  for (auto& o : base)
    if (flips(rng)) {
      o.predicted = o.correct() ? 1u : 0u;
      o.margin = -o.margin;
    }
  return base;
}

// Runs the stopping rule over `with` as the search does (rounds of next_round() prompts in
// early_stop_order) and returns the head's record.
HeadEffect run_stopping(const std::vector<ExampleOutcome>& base, const std::vector<ExampleOutcome>& with,
                        const EarlyStop& rule) {
  const auto order = early_stop_order(base);
  StoppingHead track(base, rule);
  while (!track.finished() && track.decision() == HeadStop::none) {
    const std::size_t from = track.evaluated(), count = track.next_round();
    for (std::size_t i = from; i < from + count; ++i) track.add(base[order[i]], with[order[i]]);
  }
  return track.finished() ? compare_outcomes({2, 0}, base, with) : track.stopped({2, 0});
}

}  // namespace

TEST_CASE("early stop: wrong answers first, then right ones from the smallest margin", "[eval][search]") {
  std::vector<ExampleOutcome> base(4);
  base[0] = {"a", 0, 0u, {}, 2.0};
  base[1] = {"b", 0, 1u, {}, -1.0};
  base[2] = {"c", 0, 0u, {}, 0.5};
  base[3] = {"d", 0, 1u, {}, -3.0};
  CHECK(early_stop_order(base) == std::vector<std::size_t>{1, 3, 2, 0});
}

TEST_CASE("early stop: selects exactly what the full comparison selects", "[eval][search]") {
  std::mt19937_64 rng(7);
  std::size_t stopped = 0, trials = 0;
  for (double min_gain : {-0.05, 0.0, 0.01, 0.03}) {
    for (std::size_t top_k : {std::size_t{0}, std::size_t{3}}) {
      const SelectionRule rule{SelectBy::accuracy, top_k, min_gain};
      const EarlyStop stop = *early_stop_for(rule);
      for (int t = 0; t < 200; ++t, ++trials) {
        const auto base = random_outcomes(rng, 64, 0.45);
        const auto with = perturbed(rng, base, 0.02 * (t % 5));
        const HeadEffect full = compare_outcomes({2, 0}, base, with);
        const HeadEffect quick = run_stopping(base, with, stop);
        INFO("min_gain " << min_gain << " top_k " << top_k << " trial " << t);
        const bool selected = full.accuracy_gain > min_gain;
        REQUIRE((quick.complete() ? quick.accuracy_gain > min_gain : quick.stop == HeadStop::accepted) == selected);
        if (quick.complete()) {
          CHECK(quick.values() == full.values());
          continue;
        }
        ++stopped;
        CHECK(quick.evaluated < 64);
        // The recorded bound holds for the true gain, and the counts are a part of the full ones.
        CHECK((quick.stop == HeadStop::rejected ? full.accuracy_gain <= quick.accuracy_gain
                                                : full.accuracy_gain >= quick.accuracy_gain));
        CHECK((quick.fixed <= full.fixed && quick.broken <= full.broken));
        CHECK((top_k == 0 || quick.stop == HeadStop::rejected));  // a top-k ranks heads: none accepted unmeasured
      }
    }
  }
  CHECK(stopped > trials / 2);  // the rule does stop most heads here
}

TEST_CASE("early stop: no rule for the margin; thresholds no count can pass decide at once", "[eval][search]") {
  CHECK_FALSE(early_stop_for({SelectBy::margin, 0, 0.0}).has_value());
  std::mt19937_64 rng(3);
  const auto base = random_outcomes(rng, 10, 0.5);
  const StoppingHead never(base, {1.0, true});  // no accuracy can gain more than 1
  CHECK(never.decision() == HeadStop::rejected);
  CHECK(never.stopped({4, 1}).evaluated == 0);
  const StoppingHead always(base, {-1.0, true});
  CHECK(always.decision() == HeadStop::accepted);
  CHECK(StoppingHead(base, {-1.0, false}).decision() == HeadStop::none);  // with top-k, measured fully
}

TEST_CASE("early stop: a stopped head survives a checkpoint and decides only its rules", "[eval][checkpoint]") {
  std::mt19937_64 rng(11);
  const auto base = random_outcomes(rng, 40, 0.4);
  const HeadEffect rejected = run_stopping(base, base, {0.05, true});  // changes nothing: cannot gain 0.05
  REQUIRE(rejected.stop == HeadStop::rejected);
  CHECK(rejected.values().at("evaluated") == static_cast<double>(rejected.evaluated));
  CHECK_FALSE(rejected.values().contains("margin_gain"));  // not measured, so not written

  const auto path = std::filesystem::temp_directory_path() / "act_checkpoint_stopped.jsonl";
  std::filesystem::remove(path);
  SearchCheckpoint(path, {{"prompts", 40}}).append(std::vector<HeadEffect>{rejected});
  const HeadEffect back = SearchCheckpoint(path, {{"prompts", 40}}).done().at(rejected.id);
  CHECK(back.values() == rejected.values());
  CHECK(back.stop == HeadStop::rejected);
  std::filesystem::remove(path);

  CHECK(selected_heads({back}, {SelectBy::accuracy, 0, 0.05}).empty());
  CHECK(selected_heads({back}, {SelectBy::accuracy, 2, 0.2}).empty());  // a higher bar is decided too
  CHECK_THROWS_WITH(selected_heads({back}, {SelectBy::accuracy, 0, -0.5}), Catch::Contains("does not decide"));
  CHECK_THROWS_WITH(selected_heads({back}, {SelectBy::margin, 0, 0.0}), Catch::Contains("early-stopped"));

  auto values = rejected.values();
  values["evaluated"] = 40;  // a stopped head ran fewer prompts than the search has
  CHECK_THROWS_WITH(HeadEffect::from_values(rejected.id, values, 40), Catch::Contains("\"evaluated\""));
  values = rejected.values();
  values["accuracy_gain_at_least"] = 0.0;
  CHECK_THROWS_WITH(HeadEffect::from_values(rejected.id, values, 40), Catch::Contains("exactly one of"));
  values = rejected.values();
  values["correct"] = static_cast<double>(rejected.evaluated + 1);
  CHECK_THROWS_WITH(HeadEffect::from_values(rejected.id, values, 40), Catch::Contains("\"correct\""));
}
