#include <act/eval/inspect/heatmap.hpp>
#include <act/eval/inspect/sink_stats.hpp>

#include <catch2/catch.hpp>

#include "stories_model.hpp"
#include "toy_map.hpp"

using namespace act::eval;

namespace {

using act::testing::toy_map;

HeadSinkReport report(std::uint32_t layer, std::uint32_t head, std::vector<SinkColumn> candidates) {
  return {{layer, head}, std::move(candidates), {}};
}

}  // namespace

TEST_CASE("sinks: column means and marks of a map", "[eval][sinks]") {
  const AttentionMap map = toy_map();
  CHECK(map.column_mean(0) == Approx(0.6));
  CHECK(map.column_mean(2) == Approx(0.55));
  CHECK(map.column_mean(3) == Approx(0.08));
  const SinkMarks marks = sink_marks(map, 0.1f);
  CHECK(marks.kept == std::vector<std::uint32_t>{0});
  CHECK(marks.calibrated == std::vector<std::uint32_t>{1, 2});  // column 1: (0.3+0.1+0.02)/3 = 0.14
}

TEST_CASE("sinks: the heatmap marks sink columns and masks the future", "[eval][sinks][png]") {
  const AttentionMap map = toy_map();
  const RgbImage image = heatmap(map, sink_marks(map, 0.1f), 2);
  CHECK(image.width == 8);
  CHECK(image.height == 8 + 4 + 1);
  CHECK(image.get(0, 0) == detail::kept_colour);                  // column 0, strip
  CHECK(image.get(2, 1) == detail::calibrated_colour);            // column 1
  CHECK(image.get(6, 3) == detail::strip_colour);                 // column 3 is no sink
  CHECK(image.get(7, 4) == detail::masked_colour);                // row 0 cannot see column 3
  CHECK(image.get(0, 4) == detail::log_colour(1.0f));             // A[0][0] = 1: the top of the scale
  CHECK(detail::log_colour(1e-6f) == detail::log_colour(1e-4f));  // clamped at the bottom
  CHECK(detail::log_colour(0.0f) == detail::log_colour(1e-4f));
  const RgbImage grid =
      overview({{map, map}, {map, map}, {map, map}}, std::vector(3, std::vector(2, sink_marks(map, 0.1f))), 10);
  CHECK(grid.width == 2 * 14 + 4);
  CHECK(grid.height == 3 * 17 + 4);
}

TEST_CASE("sinks: printable token text", "[eval][sinks]") {
  CHECK(printable("a\nb\tc") == "a\\nb\\tc");
  CHECK(printable("\x01") == "\\x01");
  CHECK(printable("caf\xc3\xa9") == "caf\xc3\xa9");  // valid UTF-8 stays
  CHECK(printable("\xc3") == "\\xc3");               // a cut character does not
}

TEST_CASE("sinks: the summary separates initial, interior and final sinks", "[eval][sinks]") {
  SinkSummary summary(2, 2, 0.1f);
  // Prompt of 5 tokens: head (0,0) has an interior '.' sink, (0,1) only the initial one, (1,0) the
  // last token, (1,1) two interior sinks.
  summary.add({report(0, 0, {{0, 0.5f, "<s>"}, {2, 0.2f, "."}}), report(0, 1, {{0, 0.9f, "<s>"}}),
               report(1, 0, {{4, 0.3f, "x"}}), report(1, 1, {{1, 0.2f, "\\n"}, {3, 0.2f, "."}})},
              5);
  summary.add({report(0, 0, {}), report(0, 1, {}), report(1, 0, {}), report(1, 1, {{2, 0.4f, "."}})}, 5);
  CHECK(summary.prompts() == 2);
  CHECK(summary.share_with_interior() == Approx(3.0 / 8.0));
  CHECK(summary.share_with_final() == Approx(1.0 / 8.0));
  CHECK(summary.head_share(1, 1) == 1.0);
  CHECK(summary.head_share(0, 0) == 0.5);
  CHECK(summary.head_share(0, 1) == 0.0);
  const auto top = summary.top_tokens(5);
  REQUIRE(top.size() == 2);
  CHECK(top[0] == std::pair<std::string, std::size_t>{".", 3});
  CHECK(top[1] == std::pair<std::string, std::size_t>{"\\n", 1});
  const auto doc = summary.to_json(1);
  CHECK(doc["top_interior_sink_tokens"].size() == 1);
  CHECK(doc["interior_sink_share_by_layer_and_head"][1][1] == 1.0);
}

TEST_CASE("sinks: maps recomputed from Q and K agree with the model's own statistics", "[eval][sinks][shared]") {
  const auto* model = act::testing::stories_model();
  if (model == nullptr) return;
  const auto& m = *model;
  const auto tokens = m.tokenizer().encode("Once upon a time, there was a little cat. It liked to play.", true);
  const auto maps = attention_maps(m, tokens);
  const auto observed = m.observe_sinks(tokens, 0.1f);
  REQUIRE(maps.size() == m.config().layers);
  REQUIRE(observed.size() == m.config().layers * m.config().heads);
  for (const auto& head : observed) {
    const AttentionMap& map = maps[head.id.layer][head.id.head];
    for (std::size_t i = 0; i < map.n; ++i) {
      double row = 0.0;
      for (std::size_t j = 0; j < map.n; ++j) row += map.at(i, j);
      REQUIRE(row == Approx(1.0).epsilon(1e-5));
    }
    for (std::size_t j = 0; j < map.n; ++j) REQUIRE(map.column_mean(j) == Approx(head.column_means[j]).margin(1e-5));
    const SinkMarks marks = sink_marks(map, 0.1f);
    CHECK(marks.calibrated == head.sinks);
  }
  const auto reports = describe_sinks(observed, tokens, m.tokenizer(), 0.1f);
  REQUIRE(reports.size() == observed.size());
  const auto& first = reports.front();
  for (const auto& s : first.candidates) {
    CHECK(s.mean > 0.1f);
    CHECK(s.token == printable(m.tokenizer().token_text(tokens[s.column])));
  }
}

TEST_CASE("sinks: attention maps are refused past their memory budget", "[eval][sinks]") {
  act::model::LlamaConfig smollm;
  smollm.layers = 30;
  smollm.heads = 9;
  // 512 MiB / (30 * 9 heads * 4 bytes) = 705.2^2 cells per head.
  CHECK(max_attention_map_tokens(smollm) == 705);
  CHECK_NOTHROW(check_attention_map_size(smollm, 705));
  CHECK_THROWS_WITH(check_attention_map_size(smollm, 706), Catch::Contains("limited to 705 tokens"));
}
