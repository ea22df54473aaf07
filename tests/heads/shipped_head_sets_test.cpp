// The head sets shipped in data/heads/ must read cleanly and say what data/heads/README.md says:
// SmolLM2-135M-Instruct's 243 candidates (layers 2..28 of 30, 9 heads each) all measured, beta 0.4,
// tau 0.1, and exactly the heads whose full-search accuracy gain exceeds 0.01 selected.
#include <act/heads/head_set.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <set>

namespace {

constexpr std::uint32_t layers = 30, heads_per_layer = 9;
constexpr double min_gain = 0.01, full_search_prompts = 128;

bool is_candidate(act::HeadId id) { return id.layer >= 2 && id.layer < layers - 1 && id.head < heads_per_layer; }

}  // namespace

TEST_CASE("heads: the shipped SmolLM2 head sets follow their documented search", "[heads]") {
  const std::filesystem::path folder = std::filesystem::path(ACT_SOURCE_DIR) / "data" / "heads";
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    if (entry.path().extension() != ".json") continue;
    ++files;
    CAPTURE(entry.path().filename().string());
    const act::HeadSet set = act::HeadSet::load(entry.path());
    CHECK(set.beta == 0.4f);
    CHECK(set.tau == 0.1f);
    CHECK(set.size() > 0);
    CHECK(set.measurements.size() == 243);

    std::set<act::HeadId> measured, expected;
    for (const act::HeadMeasurement& m : set.measurements) {
      CHECK(is_candidate(m.id));
      measured.insert(m.id);
      const bool full = m.values.at("prompts") == full_search_prompts;
      if (full && m.values.at("accuracy_gain") > min_gain) expected.insert(m.id);
    }
    CHECK(measured.size() == 243);  // no head measured twice
    const std::set<act::HeadId> selected(set.heads().begin(), set.heads().end());
    CHECK(selected == expected);
  }
  CHECK(files == 3);
}
