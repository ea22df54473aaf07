#include <act/eval/search/head_selection.hpp>
#include <act/eval/search/search_checkpoint.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>

using namespace act::eval;
using act::HeadId;

namespace {

HeadEffect effect(std::uint32_t layer, std::uint32_t head, double accuracy_gain, double margin_gain) {
  HeadEffect e;
  e.id = {layer, head};
  e.prompts = 100;
  e.accuracy = 0.5 + accuracy_gain;
  e.accuracy_gain = accuracy_gain;
  e.margin_gain = margin_gain;
  e.correct = static_cast<std::size_t>(e.accuracy * 100.0 + 0.5);
  const long net = std::lround(accuracy_gain * 100.0);  // fixed - broken, as a search counts them
  e.fixed = static_cast<std::size_t>(std::max(net, 0L));
  e.broken = static_cast<std::size_t>(std::max(-net, 0L));
  return e;
}

std::filesystem::path fresh_path(const char* name) {
  const auto path = std::filesystem::temp_directory_path() / name;
  std::filesystem::remove(path);
  return path;
}

}  // namespace

TEST_CASE("compare_outcomes: gains, fixed and broken against the baseline", "[eval][search]") {
  std::vector<ExampleOutcome> base(3), with(3);
  base[0] = {"a", 0, 0u, {}, 1.0};   // right -> right
  base[1] = {"b", 0, 1u, {}, -1.0};  // wrong -> right
  base[2] = {"c", 1, 1u, {}, 0.5};   // right -> wrong
  with[0] = {"a", 0, 0u, {}, 2.0};
  with[1] = {"b", 0, 0u, {}, 0.5};
  with[2] = {"c", 1, 0u, {}, -0.5};
  const HeadEffect e = compare_outcomes({4, 2}, base, with);
  CHECK(e.prompts == 3);
  CHECK(e.correct == 2);
  CHECK(e.fixed == 1);
  CHECK(e.broken == 1);
  CHECK(e.accuracy_gain == Approx(0.0));
  CHECK(e.margin == Approx(2.0 / 3.0));
  CHECK(e.margin_gain == Approx(2.0 / 3.0 - 0.5 / 3.0));
  CHECK(HeadEffect::from_values(e.id, e.values(), 3).margin_gain == e.margin_gain);
  CHECK_THROWS_WITH(HeadEffect::from_values(e.id, {{"prompts", 3.0}}, 3), Catch::Contains("lacks \"correct\""));
}

TEST_CASE("selection: accuracy gain, margin gain, top-k", "[eval][selection]") {
  const std::vector<HeadEffect> heads = {effect(2, 0, 0.02, -0.1), effect(2, 1, 0.00, 0.30), effect(3, 0, 0.05, 0.10),
                                         effect(3, 1, 0.02, 0.20), effect(4, 0, -0.01, 0.05)};
  SelectionRule by_accuracy{SelectBy::accuracy, 0, 0.0};
  // Ties on accuracy gain are broken by margin gain: (3,1) before (2,0).
  CHECK(selected_heads(heads, by_accuracy) == std::vector<HeadId>{{3, 0}, {3, 1}, {2, 0}});
  by_accuracy.top_k = 2;
  CHECK(selected_heads(heads, by_accuracy) == std::vector<HeadId>{{3, 0}, {3, 1}});
  by_accuracy = {SelectBy::accuracy, 0, 0.03};
  CHECK(selected_heads(heads, by_accuracy) == std::vector<HeadId>{{3, 0}});
  const SelectionRule by_margin{SelectBy::margin, 0, 0.0};
  CHECK(selected_heads(heads, by_margin) == std::vector<HeadId>{{2, 1}, {3, 1}, {3, 0}, {4, 0}});
  CHECK(selected_heads(heads, {SelectBy::margin, 1, 0.0}) == std::vector<HeadId>{{2, 1}});
  CHECK(selected_heads({effect(2, 0, 0.0, 0.0)}, by_accuracy).empty());  // no gain, no head
  CHECK(parse_select_by("margin") == SelectBy::margin);
  CHECK_THROWS_WITH(parse_select_by("best"), Catch::Contains("unknown selection rule 'best'"));
}

TEST_CASE("selection: the head set records every head's measurements", "[eval][selection]") {
  const std::vector<HeadEffect> heads = {effect(2, 0, 0.02, 0.1), effect(2, 1, -0.02, -0.3)};
  const act::HeadSet set = make_head_set(heads, {}, act::AnyCalibration::paper(), "tiny");
  CHECK(set.heads() == std::vector<HeadId>{{2, 0}});
  REQUIRE(set.measurements.size() == 2);
  CHECK(set.measurements[1].id == HeadId{2, 1});
  CHECK(set.measurements[1].values.at("accuracy_gain") == -0.02);
  const act::HeadSet back = act::HeadSet::from_json_text(set.to_json().dump());
  CHECK(back.measurements[0].values == set.measurements[0].values);
  CHECK(back.model == "tiny");
}

TEST_CASE("checkpoint: heads survive reopening, other searches are refused", "[eval][checkpoint]") {
  const auto path = fresh_path("act_checkpoint_test.jsonl");
  const nlohmann::json search = {{"prompts", 100}, {"beta", 0.4}};
  {
    SearchCheckpoint cp(path, search);
    CHECK(cp.done().empty());
    const std::vector<HeadEffect> layer2 = {effect(2, 0, 0.01, 0.123456789012345), effect(2, 1, -0.02, 0.0)};
    cp.append(layer2);
  }
  {
    SearchCheckpoint cp(path, search);
    REQUIRE(cp.done().size() == 2);
    CHECK(cp.done().at({2, 0}).margin_gain == 0.123456789012345);  // bit-exact round trip
    cp.append(std::vector<HeadEffect>{effect(3, 0, 0.0, 0.0)});
  }
  CHECK(SearchCheckpoint(path, search).done().size() == 3);
  CHECK_THROWS_WITH(SearchCheckpoint(path, {{"prompts", 5}, {"beta", 0.4}}),
                    Catch::Contains("was written for a different search"));
  std::filesystem::remove(path);
}

TEST_CASE("checkpoint: a torn last line is dropped, a bad middle line is an error", "[eval][checkpoint]") {
  const auto path = fresh_path("act_checkpoint_torn.jsonl");
  const nlohmann::json search = {{"prompts", 100}};
  SearchCheckpoint(path, search).append(std::vector<HeadEffect>{effect(2, 0, 0.0, 0.0)});
  { std::ofstream(path, std::ios::app) << R"({"layer": 2, "head": 1, "val)"; }
  {
    SearchCheckpoint cp(path, search);
    CHECK(cp.done().size() == 1);
    cp.append(std::vector<HeadEffect>{effect(2, 1, 0.0, 0.0)});
  }
  CHECK(SearchCheckpoint(path, search).done().size() == 2);

  {
    std::ofstream(path, std::ios::app) << "{oops}\n"
                                       << R"({"layer": 3, "head": 0, "values": {}})"
                                       << "\n";
  }
  CHECK_THROWS_WITH(SearchCheckpoint(path, search), Catch::Contains("act_checkpoint_torn.jsonl:4: invalid JSON"));
  std::filesystem::remove(path);

  { std::ofstream(path) << "{\"something\": \"else\"}\n"; }
  CHECK_THROWS_WITH(SearchCheckpoint(path, search), Catch::Contains("is not a head search checkpoint"));
  std::filesystem::remove(path);
}

TEST_CASE("checkpoint: every value read back is checked against the search", "[eval][checkpoint]") {
  // effect() measures 100 prompts; each case edits one value of a valid line.
  const HeadEffect valid = effect(2, 0, 0.01, 0.5);
  const auto error_with = [&](const char* key, double value, std::size_t prompts = 100) {
    auto values = valid.values();
    values[key] = value;
    try {
      HeadEffect::from_values(valid.id, values, prompts);
    } catch (const act::FormatError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(error_with("margin", 0.25) == "no error");
  CHECK_THAT(error_with("correct", -5), Catch::Contains("\"correct\" must be a whole number in [0, 100]"));
  CHECK_THAT(error_with("correct", 1e300), Catch::Contains("\"correct\""));
  CHECK_THAT(error_with("correct", 50.5), Catch::Contains("\"correct\""));
  CHECK_THAT(error_with("fixed", 52), Catch::Contains("\"fixed\" must be a whole number in [0, 51]"));
  CHECK_THAT(error_with("broken", 50), Catch::Contains("\"broken\" must be a whole number in [0, 49]"));
  CHECK_THAT(error_with("prompts", 99), Catch::Contains("\"prompts\" must be the search's 100"));
  CHECK_THAT(error_with("prompts", 100, 4), Catch::Contains("\"prompts\""));
  CHECK_THAT(error_with("accuracy", 0.9), Catch::Contains("\"accuracy\" must be correct / prompts"));
  CHECK_THAT(error_with("accuracy_gain", 3.0), Catch::Contains("\"accuracy_gain\""));
  // A gain the counts do not give (a corrupted or hand-edited line) would decide the selection.
  CHECK_THAT(error_with("accuracy_gain", 0.5), Catch::Contains("\"accuracy_gain\" must be (fixed - broken) / prompts"));
  CHECK_THAT(error_with("fixed", 3), Catch::Contains("(fixed - broken) / prompts"));
  CHECK_THAT(error_with("margin_gain", std::numeric_limits<double>::infinity()), Catch::Contains("must be finite"));

  // Through the file: the line is named.
  const auto path = fresh_path("act_checkpoint_values.jsonl");
  const nlohmann::json search = {{"prompts", 100}};
  SearchCheckpoint(path, search).append(std::vector<HeadEffect>{valid});
  {
    std::ofstream(path, std::ios::app) << R"({"layer": 2, "head": 1, "values": {"prompts": 100, "correct": -5}})"
                                       << "\n";
  }
  CHECK_THROWS_WITH(SearchCheckpoint(path, search),
                    Catch::Contains("act_checkpoint_values.jsonl:3") && Catch::Contains("\"correct\""));
  std::filesystem::remove(path);
}

TEST_CASE("checkpoint: a head written twice, or an unknown version, is refused", "[eval][checkpoint]") {
  const auto path = fresh_path("act_checkpoint_twice.jsonl");
  const nlohmann::json search = {{"prompts", 100}};
  SearchCheckpoint(path, search).append(std::vector<HeadEffect>{effect(2, 0, 0.01, 0.5), effect(2, 1, 0.0, 0.0)});
  { std::ofstream(path, std::ios::app) << effect_row(effect(2, 0, 0.02, 0.5)).dump() << "\n"; }
  CHECK_THROWS_WITH(SearchCheckpoint(path, search),
                    Catch::Contains("act_checkpoint_twice.jsonl:4") && Catch::Contains("head [2, 0] appears twice"));
  std::filesystem::remove(path);
  {
    std::ofstream(path)
        << nlohmann::json{{"format", "act-head-search-checkpoint"}, {"version", 2}, {"search", search}}.dump() << "\n";
  }
  CHECK_THROWS_WITH(SearchCheckpoint(path, search), Catch::Contains("checkpoint version must be 1"));
  {
    std::ofstream(path) << nlohmann::json{{"format", "act-head-search-checkpoint"}, {"search", search}}.dump() << "\n";
  }
  CHECK_THROWS_WITH(SearchCheckpoint(path, search), Catch::Contains("checkpoint version must be 1"));
  std::filesystem::remove(path);
}

TEST_CASE("checkpoint: creation is exclusive, a second opener resumes the first's file", "[eval][checkpoint]") {
  const auto path = fresh_path("act_checkpoint_exclusive.jsonl");
  const nlohmann::json search = {{"prompts", 100}};
  SearchCheckpoint first(path, search);
  SearchCheckpoint second(path, search);  // sees the file the first created: no second header
  first.append(std::vector<HeadEffect>{effect(2, 0, 0.0, 0.0)});
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(std::count(text.begin(), text.end(), '\n') == 2);
  CHECK(SearchCheckpoint(path, search).done().size() == 1);
  std::filesystem::remove(path);
}
