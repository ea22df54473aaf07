// Sink detectors and rescalers on hand-made statistics: strictness, keep rules, ties, gains formulas
// and the rows a rule refuses.
#include <act/policies/calibration.hpp>
#include <act/policies/registry.hpp>
#include <act/policies/scale_only.hpp>
#include <act/policies/top_k_columns.hpp>

#include <catch2/catch.hpp>

#include <limits>
#include <span>
#include <vector>

using namespace act;

namespace {

// Column j gets received[j] from seen_by[j] rows.
struct Stats {
  std::vector<float> received;
  std::vector<std::uint32_t> seen_by;
  ColumnStatsView view() const { return {received, std::span<const std::uint32_t>(seen_by)}; }
};

template <SinkDetector D>
SinkSet select(const D& detector, const Stats& stats) {
  SinkSet sinks{99};  // select() must clear what was there
  detector.select(stats.view(), sinks);
  return sinks;
}

}  // namespace

TEST_CASE("ColumnMeanThreshold: strictly above tau, over the rows that saw the column", "[policies]") {
  // means: 0.5, 0.1 (exactly tau in float: 0.5f / 5), 0.3, 0, 0.2 (unseen columns have mean 0)
  const Stats stats{{2.5f, 0.5f, 0.9f, 0.0f, 0.4f, 7.0f}, {5, 5, 3, 4, 2, 0}};
  REQUIRE(0.5f / 5.0f == 0.1f);
  CHECK(select(ColumnMeanThreshold(0.1f, KeepSink::none), stats) == SinkSet{0, 2, 4});
  CHECK(select(ColumnMeanThreshold(std::nextafter(0.1f, 0.0f), KeepSink::none), stats) == SinkSet{0, 1, 2, 4});
  CHECK(select(ColumnMeanThreshold(0.25f, KeepSink::none), stats) == SinkSet{0, 2});
  CHECK(select(ColumnMeanThreshold(10.0f, KeepSink::none), stats).empty());
}

TEST_CASE("keep rules drop the first candidate, token zero, or nothing", "[policies]") {
  const Stats with_zero{{0.9f, 0.0f, 0.6f, 0.5f}, {3, 3, 3, 3}};     // candidates 0, 2, 3 at tau 0.1
  const Stats without_zero{{0.0f, 0.0f, 0.6f, 0.5f}, {3, 3, 3, 3}};  // candidates 2, 3
  SECTION("first candidate (the reference), whatever its position") {
    CHECK(select(ColumnMeanThreshold(0.1f), with_zero) == SinkSet{2, 3});
    CHECK(select(ColumnMeanThreshold(0.1f), without_zero) == SinkSet{3});
  }
  SECTION("token zero only") {
    CHECK(select(ColumnMeanThreshold(0.1f, KeepSink::token_zero), with_zero) == SinkSet{2, 3});
    CHECK(select(ColumnMeanThreshold(0.1f, KeepSink::token_zero), without_zero) == SinkSet{2, 3});
  }
  SECTION("none") { CHECK(select(ColumnMeanThreshold(0.1f, KeepSink::none), with_zero) == SinkSet{0, 2, 3}); }
  SECTION("no candidates") { CHECK(select(ColumnMeanThreshold(0.9f), with_zero).empty()); }
}

TEST_CASE("ColumnMeanThreshold rejects a non-finite tau", "[policies]") {
  CHECK_THROWS_AS(ColumnMeanThreshold(std::numeric_limits<float>::quiet_NaN()), std::invalid_argument);
  CHECK_THROWS_AS(ColumnMeanThreshold(std::numeric_limits<float>::infinity()), std::invalid_argument);
}

TEST_CASE("TopKColumns: highest means, ties to the lower index, keep rules", "[policies]") {
  // means: 0.4, 0.2, 0.3, 0.2, 0.3, 0 (unseen), 0.1
  const Stats stats{{0.8f, 0.2f, 0.3f, 0.4f, 0.6f, 5.0f, 0.1f}, {2, 1, 1, 2, 2, 0, 1}};
  CHECK(select(TopKColumns(2), stats) == SinkSet{2, 4});     // token zero never a sink; 0.3 tie: both
  CHECK(select(TopKColumns(3), stats) == SinkSet{1, 2, 4});  // 0.2 tie between 1 and 3: lower index
  CHECK(select(TopKColumns(2, KeepSink::none), stats) == SinkSet{0, 2});
  // first_candidate: the top k + 1 are ranked and the lowest-indexed of them is kept.
  CHECK(select(TopKColumns(2, KeepSink::first_candidate), stats) == SinkSet{2, 4});
  CHECK(select(TopKColumns(10), stats) == SinkSet{1, 2, 3, 4, 6});  // only seen, positive columns
  CHECK(select(TopKColumns(0), stats).empty());
}

TEST_CASE("Redistribute: sinks x beta, the freed mass to the rest in proportion", "[policies]") {
  const Redistribute rule(0.4f);
  const auto gains = rule.gains(0.5f, 0.5f);
  REQUIRE(gains);
  CHECK(gains->sink == 0.4f);
  CHECK(gains->rest == Approx(1.0 + 0.6 * 0.5 / 0.5));
  // The row still sums to one: beta m + rest r = 1 when m + r = 1.
  for (float m : {0.0f, 0.1f, 0.7f, 0.99f}) {
    const auto g = rule.gains(m, 1.0f - m);
    REQUIRE(g);
    CHECK(g->sink * m + g->rest * (1.0f - m) == Approx(1.0).epsilon(1e-6));
  }
  SECTION("no rest mass to give to: the row is refused") {
    CHECK_FALSE(rule.gains(1.0f, 0.0f));
    CHECK_FALSE(rule.gains(1.0f, 1e-6f));  // at the floor: refused (strict)
    CHECK(rule.gains(0.9f, 2e-6f));
    CHECK_FALSE(Redistribute(0.4f, 0.0f).gains(1.0f, 0.0f));
    CHECK(Redistribute(0.4f, 0.0f).gains(1.0f, 1e-30f));
  }
  SECTION("bad parameters") {
    CHECK_THROWS_AS(Redistribute(1.5f), std::invalid_argument);
    CHECK_THROWS_AS(Redistribute(-0.1f), std::invalid_argument);
    CHECK_THROWS_AS(Redistribute(0.4f, -1.0f), std::invalid_argument);
    CHECK_THROWS_AS(Redistribute(std::numeric_limits<float>::quiet_NaN()), std::invalid_argument);
  }
}

TEST_CASE("ScaleOnly: sinks x beta, then the whole row renormalised", "[policies]") {
  const ScaleOnly rule(0.5f);
  const auto gains = rule.gains(0.4f, 0.6f);
  REQUIRE(gains);
  CHECK(gains->sink == Approx(0.5 / 0.8));
  CHECK(gains->rest == Approx(1.0 / 0.8));
  CHECK(gains->sink * 0.4f + gains->rest * 0.6f == Approx(1.0));
  CHECK_FALSE(ScaleOnly(0.0f).gains(1.0f, 0.0f));  // nothing left to renormalise
  CHECK(ScaleOnly(0.0f).gains(0.5f, 0.5f)->sink == 0.0f);
  CHECK_THROWS_AS(ScaleOnly(-1.0f), std::invalid_argument);
  CHECK_THROWS_AS(ScaleOnly(std::numeric_limits<float>::infinity()), std::invalid_argument);
  CHECK_THROWS_AS(ScaleOnly(0.4f, -1.0f), std::invalid_argument);
}

// Issue 15: with beta = 0 a tiny but non-zero rest mass gave 1 / total = inf and NaN weights.
TEST_CASE("ScaleOnly refuses rows whose renormalising mass is below its minimum", "[policies]") {
  CHECK_FALSE(ScaleOnly(0.0f).gains(1.0f, 1e-45f));
  CHECK_FALSE(ScaleOnly(0.0f).gains(1.0f, 1e-6f));  // strictly above the minimum, as Redistribute
  const auto kept = ScaleOnly(0.0f).gains(1.0f, 2e-6f);
  REQUIRE(kept);
  CHECK(std::isfinite(kept->rest));
  CHECK(ScaleOnly(0.0f, 0.0f).gains(1.0f, 1e-30f).has_value());
}

TEST_CASE("Identity and NoSinks change nothing and let kernels skip passes", "[policies]") {
  const auto identity = Identity{}.gains(0.7f, 0.3f);
  REQUIRE(identity);
  CHECK(identity->sink == 1.0f);
  CHECK(identity->rest == 1.0f);
  const Stats stats{{5.0f, 5.0f}, {1, 1}};
  CHECK(select(NoSinks{}, stats).empty());

  STATIC_REQUIRE(IdentityRescaler<Identity>);
  STATIC_REQUIRE_FALSE(IdentityRescaler<Redistribute>);
  STATIC_REQUIRE(NeverDetects<NoSinks>);
  STATIC_REQUIRE_FALSE(NeverDetects<ColumnMeanThreshold>);
  STATIC_REQUIRE_FALSE(needs_statistics<NoCalibration>);
  STATIC_REQUIRE_FALSE(needs_correction<NoCalibration>);
  STATIC_REQUIRE(needs_statistics<Calibration<ColumnMeanThreshold, Identity>>);
  STATIC_REQUIRE_FALSE(needs_correction<Calibration<ColumnMeanThreshold, Identity>>);
  STATIC_REQUIRE(needs_correction<Calibration<TopKColumns, ScaleOnly>>);
}

TEST_CASE("paper_calibration is the reference's setting", "[policies]") {
  const auto paper = paper_calibration();
  CHECK(paper.detector.tau == 0.1f);
  CHECK(paper.detector.keep == KeepSink::first_candidate);
  CHECK(paper.rescaler.beta == 0.4f);
  const auto chat = paper_calibration(0.4f, 0.15f);
  CHECK(chat.detector.tau == 0.15f);
}

TEST_CASE("initial-token detector selects column 0 whatever its mean", "[policies][initial-token]") {
  CHECK(select(InitialToken{}, {{0.01f, 5.0f, 0.9f}, {3, 3, 3}}) == SinkSet{0});
  CHECK(select(InitialToken{}, {{0.0f, 1.0f}, {0, 1}}).empty());  // no query saw it (cannot happen in causal prefill)
  CHECK(select(InitialToken{}, {{}, {}}).empty());
}

TEST_CASE("initial-token scaling: token 0 times the factor, the row renormalised", "[policies][initial-token]") {
  const auto scaling = AnyCalibration::initial_token_scaling(2.0f);
  const auto rescaler = std::get<ScaleOnly>(scaling.rescaler);
  // Row: token 0 has m = 0.3, the rest r = 0.7. After: 0.6 / 1.3 and 0.7 / 1.3.
  const auto gains = rescaler.gains(0.3f, 0.7f);
  REQUIRE(gains.has_value());
  CHECK(gains->sink * 0.3f == Approx(0.6 / 1.3));
  CHECK(gains->rest * 0.7f == Approx(0.7 / 1.3));
  CHECK(scaling.text() == "initial-token + scale-only:2");
}

TEST_CASE("policy text parses to the policy and back", "[policies][registry]") {
  const char* const texts[] = {"column-mean:0.1:first", "column-mean:0.25:token0", "column-mean:0:none",
                               "top-k:3:token0",        "top-k:1:first",           "initial-token"};
  for (const char* text : texts) CHECK(policy_text(parse_detector(text)) == text);
  CHECK(policy_text(parse_detector("column-mean:0.1")) == "column-mean:0.1:first");  // the paper's keep rule
  CHECK(policy_text(parse_detector("top-k:2")) == "top-k:2:token0");
  CHECK(std::get<ColumnMeanThreshold>(parse_detector("column-mean:0.15:token0")).keep == KeepSink::token_zero);
  CHECK(std::get<TopKColumns>(parse_detector("top-k:3")).k == 3);
  for (const char* text : {"redistribute:0.4", "scale-only:0.5", "scale-only:3"})
    CHECK(policy_text(parse_rescaler(text)) == text);
  CHECK(AnyCalibration{}.is_paper());
  CHECK_FALSE(AnyCalibration::initial_token_scaling(0.5f).is_paper());
  CHECK_FALSE((AnyCalibration{parse_detector("column-mean:0.1:token0"), Redistribute{0.4f}}.is_paper()));
}

TEST_CASE("bad policy text is one line naming the policy and what is wrong", "[policies][registry]") {
  const std::pair<const char*, const char*> detectors[] = {
      {"", "unknown detector '' (known: column-mean:TAU[:first|token0|none], top-k:K"},
      {"column", "unknown detector 'column'"},
      {"column-mean", "'column-mean:TAU[:first|token0|none]': takes 1 to 2 arguments (got 0)"},
      {"column-mean:abc", "TAU must be a finite number in [0, 1] (got 'abc')"},
      {"column-mean:nan", "TAU must be a finite number"},
      {"column-mean:1.5", "TAU must be a finite number in [0, 1]"},
      {"column-mean:0.1:last", "the kept sink must be first, token0 or none (got 'last')"},
      {"column-mean:0.1:first:x", "takes 1 to 2 arguments (got 3)"},
      {"top-k:0", "K must be a whole number >= 1 (got '0')"},
      {"top-k:-2", "K must be a whole number >= 1"},
      {"top-k:2.5", "K must be a whole number >= 1"},
      {"initial-token:3", "takes no arguments (got 1)"},
  };
  for (const auto& [text, message] : detectors) {
    CAPTURE(text);
    CHECK_THROWS_WITH(parse_detector(text), Catch::Contains(message));
  }
  CHECK_THROWS_WITH(parse_rescaler("redistribute:1.5"), Catch::Contains("BETA must be a finite number in [0, 1]"));
  CHECK_THROWS_WITH(parse_rescaler("scale-only:-1"), Catch::Contains("BETA must be a finite number"));
  CHECK_THROWS_WITH(parse_rescaler("scale-only:inf"), Catch::Contains("BETA must be a finite number"));
  CHECK_THROWS_WITH(parse_rescaler("keep"),
                    Catch::Contains("unknown rescaler 'keep' (known: redistribute:BETA, scale-only:BETA)"));
  CHECK_THROWS_AS(parse_rescaler("redistribute"), std::invalid_argument);
}
