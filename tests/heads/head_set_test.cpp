#include <act/heads/head_set.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

namespace {

std::string head_file(const std::string& heads, const std::string& extra = "") {
  return R"({"format": "act-head-set", "version": 1, "model": "m", "beta": 0.4, "tau": 0.1, "heads": )" + heads +
         extra + "}";
}

std::string error_of(const std::string& text) {
  try {
    act::HeadSet::from_json_text(text, "heads.json");
  } catch (const act::FormatError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("head set keeps heads sorted and unique", "[heads]") {
  act::HeadSet set({{3, 5}, {2, 1}, {3, 5}, {2, 0}}, 0.4f, 0.1f);
  REQUIRE(set.size() == 3);
  CHECK(set.heads()[0] == act::HeadId{2, 0});
  CHECK(set.heads()[2] == act::HeadId{3, 5});
  CHECK(set.contains(2, 1));
  CHECK_FALSE(set.contains(1, 2));
  CHECK(set.layer_mask(3, 6) == std::vector<std::uint8_t>{0, 0, 0, 0, 0, 1});
  CHECK(set.layer_mask(7, 2) == std::vector<std::uint8_t>{0, 0});
  // Head 5 of layer 3 does not exist in a model of 5 heads: refused, not silently left out.
  CHECK_THROWS_AS(set.layer_mask(3, 5), act::FormatError);
  CHECK(set.layer_mask(2, 2) == std::vector<std::uint8_t>{1, 1});  // other layers' heads do not matter
}

TEST_CASE("head set round-trips through its JSON file", "[heads]") {
  act::HeadSet set({{4, 2}, {10, 0}}, 0.25f, 0.15f, "SmolLM2-135M-Instruct");
  set.measurements.push_back({{4, 2}, {{"accuracy_gain", 0.03}, {"margin_gain", -0.5}}});
  const auto path = std::filesystem::temp_directory_path() / "act_head_set_roundtrip.json";
  set.save(path);
  const act::HeadSet back = act::HeadSet::load(path);
  std::filesystem::remove(path);
  CHECK(back.heads() == set.heads());
  CHECK(back.model == "SmolLM2-135M-Instruct");
  CHECK(back.beta == 0.25f);
  CHECK(back.tau == 0.15f);
  REQUIRE(back.measurements.size() == 1);
  CHECK(back.measurements[0].id == act::HeadId{4, 2});
  CHECK(back.measurements[0].values.at("margin_gain") == -0.5);
  // Hyper-parameters are written as the short decimals people typed, not float noise.
  CHECK(set.to_json().dump().find("\"tau\":0.15") != std::string::npos);
}

TEST_CASE("malformed head files name the field or position", "[heads]") {
  CHECK_THAT(error_of("{\"format\": \"act-head-set\",\n  oops}"),
             Catch::Contains("heads.json") && Catch::Contains("line 2"));
  CHECK_THAT(error_of("[1, 2]"), Catch::Contains("top level must be a JSON object"));
  CHECK_THAT(error_of(R"({"format": "other", "version": 1})"), Catch::Contains("\"format\""));
  CHECK_THAT(error_of(R"({"format": "act-head-set", "version": 4})"), Catch::Contains("\"version\" must be 1, 2 or 3"));
  CHECK_THAT(error_of(head_file("[[1, 2], [3]]")), Catch::Contains("heads[1] must be [layer, head]"));
  CHECK_THAT(error_of(head_file("[[1, -2]]")), Catch::Contains("heads[0][1] must be a non-negative integer"));
  CHECK_THAT(error_of(head_file("[[1.5, 2]]")), Catch::Contains("heads[0][0]"));
  CHECK_THAT(error_of(head_file("{}")), Catch::Contains("\"heads\" must be an array"));
  CHECK_THAT(error_of(head_file("[]", R"(, "measurements": [{"layer": 1}])")), Catch::Contains("measurements[0]"));
  CHECK_THAT(error_of(head_file("[]", R"(, "measurements": [{"layer": 1, "head": 0, "values": {"x": "y"}}])")),
             Catch::Contains("measurements[0].values.x must be a number"));
  CHECK_THAT(error_of(R"({"format": "act-head-set", "version": 1, "tau": 0.1, "heads": []})"),
             Catch::Contains("missing field \"beta\""));
  CHECK_THAT(error_of(R"({"format": "act-head-set", "version": 1, "beta": "x", "tau": 0.1, "heads": []})"),
             Catch::Contains("\"beta\" must be a finite number"));
  // beta and tau are in [0, 1] in a file as on the command line.
  CHECK_THAT(error_of(R"({"format": "act-head-set", "version": 1, "beta": 0.4, "tau": 1.5, "heads": []})"),
             Catch::Contains("\"tau\" must be in [0, 1] (got 1.5)"));
  CHECK_THAT(error_of(R"({"format": "act-head-set", "version": 1, "beta": 0.4, "tau": -0.1, "heads": []})"),
             Catch::Contains("\"tau\" must be in [0, 1]"));
  CHECK_THAT(error_of(R"({"format": "act-head-set", "version": 1, "beta": 2, "tau": 0.1, "heads": []})"),
             Catch::Contains("\"beta\" must be in [0, 1]"));
  CHECK(error_of(R"({"format": "act-head-set", "version": 1, "beta": 1, "tau": 0, "heads": []})") == "no error");
  // Files that would mean one thing to one reader and another to the next: refused, not "last wins".
  CHECK_THAT(error_of(head_file("[]", R"(, "beta": 0.9)")), Catch::Contains("key \"beta\" appears twice"));
  CHECK_THAT(
      error_of(head_file("[[1, 2]]", R"(, "measurements": [{"layer": 1, "layer": 2, "head": 0, "values": {}}])")),
      Catch::Contains("key \"layer\" appears twice"));
  CHECK(error_of(head_file(
            "[]",
            R"(, "measurements": [{"layer": 1, "head": 0, "values": {}}, {"layer": 2, "head": 0, "values": {}}])")) ==
        "no error");  // the same keys in two objects are not repeats
  CHECK_THAT(error_of(head_file("[[1, 2], [0, 3], [1, 2]]")), Catch::Contains("heads[2]: head [1, 2] is listed twice"));
  CHECK_THAT(error_of(head_file("[]", R"(, "detector": "top-k:2", "rescaler": "scale-only:0.5")")),
             Catch::Contains("version 1 has no \"detector\""));
}

TEST_CASE("a head set that does not fit the model is rejected", "[heads]") {
  act::HeadSet set({{29, 8}}, 0.4f, 0.1f);
  CHECK_NOTHROW(set.check_fits(30, 9));
  CHECK_THROWS_AS(set.check_fits(29, 9), act::FormatError);
  CHECK_THROWS_AS(set.check_fits(30, 8), act::FormatError);
}

TEST_CASE("a missing head file is a clear error", "[heads]") {
  CHECK_THROWS_WITH(act::HeadSet::load("/nonexistent/heads.json"), Catch::Contains("cannot open head set file"));
}

TEST_CASE("head set files must be regular files of bounded size", "[heads]") {
  CHECK_THROWS_WITH(act::HeadSet::load("/dev/zero"), Catch::Contains("not a regular file"));
  const auto path = std::filesystem::temp_directory_path() / "act_head_set_too_big.json";
  std::filesystem::remove(path);
  { std::ofstream(path) << head_file("[]"); }
  std::filesystem::resize_file(path, act::HeadSet::max_file_bytes + 1);
  CHECK_THROWS_WITH(act::HeadSet::load(path), Catch::Contains("more than the"));
  std::filesystem::remove(path);
}

TEST_CASE("saving a head set over a device is refused and leaves it alone", "[heads]") {
  // save() is write_file_atomically (tested in core/files_test.cpp): never an in-place truncation.
  CHECK_THROWS_WITH(act::HeadSet({{1, 0}}, 0.4f, 0.1f).save("/dev/full"), Catch::Contains("not a regular file"));
}

TEST_CASE("head set records the policy it was searched with", "[heads][policy]") {
  act::HeadSet set({{4, 2}}, 0.4f, 0.1f, "m");
  set.set_calibration({act::parse_detector("top-k:2"), act::parse_rescaler("scale-only:0.5")});
  const nlohmann::json json = set.to_json();
  CHECK(json["version"] == 2);  // a version-1 reader refuses it instead of running the paper's rule
  CHECK(json["detector"] == "top-k:2:token0");
  CHECK(json["rescaler"] == "scale-only:0.5");
  const act::HeadSet back = act::HeadSet::from_json_text(json.dump());
  REQUIRE(back.policy.has_value());
  CHECK(back.calibration().text() == "top-k:2:token0 + scale-only:0.5");

  // The paper's pair is recorded as beta and tau: the file stays version 1.
  set.set_calibration(act::AnyCalibration::paper(0.3f, 0.2f));
  CHECK_FALSE(set.policy.has_value());
  CHECK(set.to_json()["version"] == 1);
  CHECK(set.to_json().contains("detector") == false);
  CHECK(set.calibration().text() == "column-mean:0.2:first + redistribute:0.3");
}

TEST_CASE("old head files keep meaning the paper's policy", "[heads][policy]") {
  const act::HeadSet old = act::HeadSet::from_json_text(head_file("[[1, 2]]"));
  CHECK_FALSE(old.policy.has_value());
  CHECK(old.calibration().is_paper());
  CHECK(old.calibration().text() == "column-mean:0.1:first + redistribute:0.4");
}

TEST_CASE("a bad recorded policy is a format error naming it", "[heads][policy]") {
  const auto v2 = [](const std::string& fields) {
    return R"({"format": "act-head-set", "version": 2, "beta": 0.4, "tau": 0.1, "heads": [])" + fields + "}";
  };
  CHECK_THAT(error_of(v2("")), Catch::Contains("version 2 needs the fields"));
  CHECK_THAT(error_of(v2(R"(, "detector": "top-k:2")")), Catch::Contains("\"rescaler\" must be a policy's text"));
  CHECK_THAT(error_of(v2(R"(, "detector": "top-q:2", "rescaler": "scale-only:1")")),
             Catch::Contains("unknown detector 'top-q:2'"));
  CHECK_THAT(error_of(v2(R"(, "detector": "top-k:0", "rescaler": "scale-only:1")")),
             Catch::Contains("K must be a whole number >= 1"));
  CHECK_THAT(error_of(v2(R"(, "detector": 3, "rescaler": "scale-only:1")")), Catch::Contains("\"detector\""));
}

TEST_CASE("a factor per head round-trips as version 3", "[heads][policy][factors]") {
  act::HeadSet set({{4, 2}}, 0.4f, 0.1f, "m");
  set.add({3, 1}, 0.25f);
  set.add({5, 0}, 1.5f);
  set.set_calibration(act::AnyCalibration::initial_token_scaling(0.5f));
  const nlohmann::json json = set.to_json();
  CHECK(json["version"] == 3);  // older readers refuse [layer, head, factor]
  CHECK(json["heads"] == nlohmann::json::parse("[[3, 1, 0.25], [4, 2], [5, 0, 1.5]]"));
  const act::HeadSet back = act::HeadSet::from_json_text(json.dump());
  CHECK(back.heads() == set.heads());
  CHECK(back.factors() == set.factors());
  CHECK(back.factor({4, 2}) == std::nullopt);  // the rescaler's own 0.5
  CHECK(back.factor({3, 1}) == 0.25f);
  CHECK(back.calibration().text() == "initial-token + scale-only:0.5");

  // Without factors the same set stays version 2, and old files read as before, without factors.
  const act::HeadSet plain({{4, 2}}, 0.4f, 0.1f, "m");
  CHECK(plain.to_json()["version"] == 1);
  CHECK(act::HeadSet::from_json_text(head_file("[[1, 2]]")).factors().empty());
}

TEST_CASE("a factor per head needs version 3 and a scale-only rescaler", "[heads][policy][factors]") {
  const auto file = [](int version, const std::string& rescaler, const std::string& heads) {
    return R"({"format": "act-head-set", "version": )" + std::to_string(version) +
           R"(, "beta": 0.4, "tau": 0.1, "detector": "initial-token", "rescaler": ")" + rescaler + R"(", "heads": )" +
           heads + "}";
  };
  CHECK(error_of(file(3, "scale-only:0.5", "[[1, 2, 0.75], [1, 3]]")) == "no error");
  CHECK_THAT(error_of(file(2, "scale-only:0.5", "[[1, 2, 0.75]]")),
             Catch::Contains("heads[0]: a factor per head needs version 3 and a \"scale-only\" rescaler"));
  CHECK_THAT(error_of(file(3, "redistribute:0.5", "[[1, 2, 0.75]]")), Catch::Contains("needs version 3"));
  CHECK_THAT(error_of(head_file("[[1, 2, 0.75]]")), Catch::Contains("needs version 3"));
  for (const char* bad : {"-1", "\"x\"", "1e300", "null"})
    CHECK_THAT(error_of(file(3, "scale-only:0.5", std::string("[[1, 2, ") + bad + "]]")),
               Catch::Contains("heads[0][2] (the factor) must be a finite number >= 0"));
  CHECK_THAT(error_of(file(3, "scale-only:0.5", "[[1, 2, 0.5, 1]]")),
             Catch::Contains("must be [layer, head] or [layer, head, factor]"));
  CHECK_THAT(error_of(file(3, "scale-only:0.5", "[[2, 3, 0.5], [2, 3, 0.7]]")), Catch::Contains("listed twice"));
  CHECK_THAT(error_of(R"({"format": "act-head-set", "version": 3, "beta": 0.4, "tau": 0.1, "heads": []})"),
             Catch::Contains("version 3 needs the fields"));

  act::HeadSet set;
  CHECK_THROWS_AS(set.add({1, 2}, -0.5f), std::invalid_argument);
  set.add({1, 2}, 0.5f);
  CHECK_THROWS_WITH(set.to_json(), Catch::Contains("needs a scale-only rescaler"));  // the paper's: no meaning
}
