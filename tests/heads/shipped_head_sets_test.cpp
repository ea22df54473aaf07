// The head sets shipped in data/heads/ (and data/heads/policies/) must read cleanly and say what
// data/heads/README.md says: SmolLM2-135M-Instruct's 243 candidates (layers 2..28 of 30, 9 heads each)
// all measured, and exactly the heads whose full-search accuracy gain exceeds 0.01 selected. A head
// an early-stopped search left (its "evaluated" below "prompts") is selected exactly when the lower
// bound of its gain exceeds 0.01, and otherwise its upper bound must be at most 0.01. The paper's policy sets (the top
// folder) have beta 0.4 and tau 0.1.
#include <act/heads/head_set.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace {

constexpr std::uint32_t layers = 30, heads_per_layer = 9;
constexpr double min_gain = 0.01, full_search_prompts = 128;

bool is_candidate(act::HeadId id) { return id.layer >= 2 && id.layer < layers - 1 && id.head < heads_per_layer; }

// The files data/heads/README.md names (`NAME.json`, relative to data/heads/).
std::set<std::string> documented_files(const std::filesystem::path& folder) {
  std::ifstream in(folder / "README.md");
  std::stringstream text;
  text << in.rdbuf();
  const std::string readme = text.str();
  const std::regex name("`([A-Za-z0-9_./-]+\\.json)`");
  std::set<std::string> out;
  for (auto it = std::sregex_iterator(readme.begin(), readme.end(), name); it != std::sregex_iterator(); ++it)
    out.insert((*it)[1].str());
  return out;
}

}  // namespace

TEST_CASE("heads: the shipped SmolLM2 head sets follow their documented search", "[heads]") {
  const std::filesystem::path folder = std::filesystem::path(ACT_SOURCE_DIR) / "data" / "heads";
  std::set<std::string> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(folder)) {
    if (entry.path().extension() != ".json") continue;
    files.insert(entry.path().lexically_relative(folder).generic_string());
    CAPTURE(entry.path().filename().string());
    const act::HeadSet set = act::HeadSet::load(entry.path());
    if (entry.path().parent_path() == folder) {
      CHECK(set.beta == 0.4f);
      CHECK(set.tau == 0.1f);
    }
    CHECK(set.size() > 0);
    CHECK(set.measurements.size() == 243);

    std::set<act::HeadId> measured, expected;
    for (const act::HeadMeasurement& m : set.measurements) {
      CHECK(is_candidate(m.id));
      measured.insert(m.id);
      if (m.values.contains("evaluated")) {  // stopped once the rest could not change the decision
        CHECK(m.values.at("evaluated") < m.values.at("prompts"));
        if (m.values.contains("accuracy_gain_at_most"))
          CHECK(m.values.at("accuracy_gain_at_most") <= min_gain);
        else if (m.values.at("accuracy_gain_at_least") > min_gain)
          expected.insert(m.id);
        continue;
      }
      const bool full = m.values.at("prompts") == full_search_prompts;
      if (full && m.values.at("accuracy_gain") > min_gain) expected.insert(m.id);
    }
    CHECK(measured.size() == 243);  // no head measured twice
    const std::set<act::HeadId> selected(set.heads().begin(), set.heads().end());
    CHECK(selected == expected);
  }
  CHECK(files.size() >= 3);
  CHECK(files == documented_files(folder));  // every shipped file documented, every documented file shipped
}
