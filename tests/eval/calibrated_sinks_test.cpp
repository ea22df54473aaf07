// Which sinks ACT moves: maps calibrated in double precision with any policy, the summary of a head
// set's calibrated sinks, and the SVG figures (labels, marks, colour scale, escaped token text).
#include <act/eval/inspect/calibrated_sinks.hpp>
#include <act/eval/inspect/svg_figures.hpp>

#include <catch2/catch.hpp>

#include "stories_model.hpp"
#include "toy_map.hpp"

#include <algorithm>

using namespace act::eval;

namespace {

using act::testing::toy_map;

double row_sum(const AttentionMap& map, std::size_t i) {
  double sum = 0.0;
  for (std::size_t j = 0; j < map.n; ++j) sum += map.at(i, j);
  return sum;
}

// Stands in for a PNG encoder: the SVG only embeds its bytes.
std::string fake_png(const RgbImage& image) {
  return "PNG " + std::to_string(image.width) + "x" + std::to_string(image.height);
}

std::size_t occurrences(const std::string& text, const std::string& part) {
  std::size_t count = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++count;
  return count;
}

}  // namespace

TEST_CASE("calibrate_map: the paper's rule on a hand-made map", "[eval][calibrated]") {
  AttentionMap map = toy_map();
  calibrate_map(map, act::AnyCalibration::paper(0.4f, 0.1f));
  CHECK(map.sinks == act::SinkSet{1, 2});
  CHECK(map.calibrated_rows == std::vector<std::uint8_t>{0, 1, 1, 1});  // row 0 sees no sink
  CHECK(map.at(0, 0) == 1.0f);
  // Row 1: m = 0.3 -> 0.12; the freed 0.18 goes to column 0 (0.7 -> 0.88).
  CHECK(map.at(1, 1) == Approx(0.12));
  CHECK(map.at(1, 0) == Approx(0.88));
  for (std::size_t i = 0; i < map.n; ++i) CHECK(row_sum(map, i) == Approx(1.0));
  const SinkMass mass = sink_mass(toy_map(), map);
  CHECK(mass.rows == 3);
  CHECK(mass.before == Approx(0.3 + 0.6 + 0.62));
  CHECK(mass.after == Approx(0.4 * (0.3 + 0.6 + 0.62)));
}

TEST_CASE("calibrate_map: initial-token scaling", "[eval][calibrated]") {
  AttentionMap map = toy_map();
  calibrate_map(map, act::AnyCalibration::initial_token_scaling(2.0f));
  CHECK(map.sinks == act::SinkSet{0});
  CHECK(map.at(0, 0) == Approx(1.0));  // a row that is all sink stays all sink
  CHECK(map.at(1, 0) == Approx(1.4 / 1.7));
  CHECK(map.at(1, 1) == Approx(0.3 / 1.7));
  for (std::size_t i = 0; i < map.n; ++i) CHECK(row_sum(map, i) == Approx(1.0));
}

TEST_CASE("calibrated sink summary counts tokens, positions, rows and masses", "[eval][calibrated]") {
  const act::HeadSet heads({{0, 1}}, 0.4f, 0.1f);
  const std::vector<std::vector<AttentionMap>> before = {{toy_map(), toy_map()}};
  auto after = before;
  calibrate_map(after[0][1], heads.calibration());
  CalibratedSinkSummary summary(heads);
  const std::vector<std::string> tokens = {"<s>", " the", ":", " x"};
  summary.add(before, after, tokens);
  summary.add(before, after, tokens);
  CHECK(summary.pairs() == 2);
  CHECK(summary.share_of_pairs_with_sinks() == 1.0);
  CHECK(summary.share_of_rows_calibrated() == Approx(0.75));
  CHECK(summary.mean_sink_mass_before() == Approx((0.3 + 0.6 + 0.62) / 3));
  CHECK(summary.mean_sink_mass_after() == Approx(0.4 * (0.3 + 0.6 + 0.62) / 3));
  const auto top = summary.top_tokens(5, true);
  REQUIRE(top.size() == 2);
  CHECK(top[0].count == 2);
  CHECK(top[0].interior == 2);
  const nlohmann::json doc = summary.to_json();
  CHECK(doc["policy"] == "column-mean:0.1:first + redistribute:0.4");
  CHECK(doc["calibrated_sink_tokens"].size() == 2);
}

TEST_CASE("figures: labels, marks, colour scale and escaped text", "[eval][figures]") {
  const act::HeadSet heads({{1, 0}}, 0.4f, 0.1f);
  const std::vector<std::vector<AttentionMap>> before(2, std::vector<AttentionMap>(3, toy_map()));
  auto after = before;
  calibrate_map(after[1][0], heads.calibration());
  const std::string overview = overview_svg(before, after, heads, "model <tiny> & co", fake_png);
  CHECK(occurrences(overview, "<svg ") == 1);
  CHECK(occurrences(overview, "</svg>") == 1);
  CHECK(overview.find("model &lt;tiny&gt; &amp; co") != std::string::npos);
  for (const char* label : {">L0<", ">L1<", ">H0<", ">H2<", "attention weight (log scale)", ">0.001<"})
    CHECK(overview.find(label) != std::string::npos);
  CHECK(occurrences(overview, "<image ") == 6);
  CHECK(occurrences(overview, "stroke=\"#d00\"") == 1);  // the one calibrated head is outlined

  const std::vector<std::string> labels = {token_label("<s>", 0), token_label(" the", 1), token_label(":", 2),
                                           token_label(" a very long token indeed", 3)};
  CHECK(labels[1] == "1 \u00b7the");
  CHECK(labels[3] == "3 \u00b7a\u00b7very\u00b7long\u2026");
  const std::string head = head_svg(before[1][0], after[1][0], {1, 0}, labels, heads.calibration().text(), fake_png);
  CHECK(occurrences(head, "<image ") == 2);        // before and after side by side
  CHECK(occurrences(head, ">0 &lt;s&gt;<") == 3);  // the first token on both axes: queries once, keys under each map
  CHECK(head.find("3 of 4 rows calibrated") != std::string::npos);
  CHECK(head.find("Layer 1, head 0") != std::string::npos);

  const std::string chart = sink_chart_svg({{"\\n", 7, 0, 7, 0}, {" the", 3, 0, 2, 1}}, "title", 20);
  CHECK(chart.find("'\\n'") != std::string::npos);
  CHECK(chart.find("7 (interior 7, last 0)") != std::string::npos);
  CHECK(chart.find("over 20 (prompt, head) pairs") != std::string::npos);
}

TEST_CASE("calibrated maps of a real model: rows sum to one, other heads follow the forward pass",
          "[eval][calibrated][shared]") {
  const auto* model = act::testing::stories_model();
  if (model == nullptr) return;
  const auto& m = *model;
  const auto tokens = m.tokenizer().encode("Once upon a time, there was a little cat. It liked to play.", true);
  const act::model::ActSettings none(act::HeadSet({}, 0.4f, 0.1f), act::AnyCalibration::paper());
  const auto plain = attention_maps(m, tokens), still_plain = attention_maps(m, tokens, none);
  CHECK(plain[2][1].weights == still_plain[2][1].weights);
  for (const char* detector : {"column-mean:0.1", "top-k:2", "initial-token"}) {
    CAPTURE(detector);
    const act::model::ActSettings act(act::HeadSet({{2, 1}}, 0.4f, 0.1f),
                                      {act::parse_detector(detector), act::parse_rescaler("scale-only:0.5")});
    const auto after = attention_maps(m, tokens, act);
    CHECK(after[0][0].weights == plain[0][0].weights);  // layers before the calibrated one are untouched
    CHECK_FALSE(after[2][1].sinks.empty());
    for (std::size_t i = 0; i < tokens.size(); ++i) CHECK(row_sum(after[2][1], i) == Approx(1.0).epsilon(1e-5));
  }
}
