// Exact ids against the independent tokenizers of tools/gen_tokenizer_golden.py, and round trips
// on the real vocabularies.
#include <act/io/gguf.hpp>
#include <act/text/bpe_tokenizer.hpp>
#include <act/text/tokenizer.hpp>
#include <act/text/utf8.hpp>
#include <act/text/vocabulary_gguf.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "test_paths.hpp"

using act::text::Tokenizer;
using Ids = std::vector<std::int32_t>;

namespace {

nlohmann::json load_golden(const char* file_name) {
  std::ifstream in(std::filesystem::path(ACT_SOURCE_DIR) / "tests" / "data" / file_name);
  REQUIRE(in);
  return nlohmann::json::parse(in);
}

std::string from_hex(std::string_view hex) {
  std::string bytes;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    bytes.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return bytes;
}

// What SPM decoding gives back for `text`: a U+2581 written in it comes back as a space.
std::string spm_round_trip(std::string_view text) {
  constexpr std::string_view lower_block = "\xE2\x96\x81";
  std::string expected;
  for (std::size_t i = 0; i < text.size();) {
    const bool block = text.substr(i).starts_with(lower_block);
    expected.push_back(block ? ' ' : text[i]);
    i += block ? lower_block.size() : 1;
  }
  return expected;
}

// What byte-level decoding gives back for `text`: the bytes whose stand-in is not in the
// vocabulary are dropped (SmolLM2 cannot spell 21 bytes).
class ByteLevelRoundTrip {
 public:
  explicit ByteLevelRoundTrip(const act::text::Vocabulary& vocab) {
    const std::unordered_set<std::string> tokens(vocab.tokens.begin(), vocab.tokens.end());
    for (unsigned byte = 0; byte < 256; ++byte) {
      spelled_[byte] =
          tokens.contains(act::text::encode_utf8(act::text::byte_stand_in(static_cast<std::uint8_t>(byte))));
    }
  }
  std::string operator()(std::string_view text) const {
    std::string expected;
    for (const char c : text) {
      if (spelled_[static_cast<unsigned char>(c)]) expected.push_back(c);
    }
    return expected;
  }
  std::size_t unspelled() const {
    return static_cast<std::size_t>(std::count(spelled_.begin(), spelled_.end(), false));
  }

 private:
  std::array<bool, 256> spelled_{};
};

// Random inputs: raw bytes, and splices of the golden texts (real words, special tokens cut in
// half or whole, multi-byte characters cut anywhere).
std::vector<std::string> random_inputs(const nlohmann::json& golden, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::string> texts;
  for (const auto& c : golden["cases"]) texts.push_back(c["text"].get<std::string>());
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<std::size_t> pick(0, texts.size() - 1);
  std::vector<std::string> inputs;
  for (std::size_t round = 0; round < 600; ++round) {
    std::string input;
    if (round % 2 == 0) {
      input.resize(round % 97);
      for (char& c : input) c = static_cast<char>(byte(rng));
    } else {
      for (int part = 0; part < 3; ++part) {
        const std::string& text = texts[pick(rng)];
        const std::size_t from = text.empty() ? 0 : rng() % text.size();
        input += text.substr(from, rng() % 24);
      }
    }
    inputs.push_back(std::move(input));
  }
  return inputs;
}

void check_pieces(const Tokenizer& tokenizer, const nlohmann::json& golden) {
  for (const auto& entry : golden["pieces"]) {
    const auto id = entry[0].get<std::int32_t>();
    INFO("token " << id);
    CHECK(tokenizer.token_text(id) == from_hex(entry[1].get<std::string>()));
  }
}

}  // namespace

TEST_CASE("text.golden: SmolLM2 encodes exactly as the reference tokenizer", "[smollm]") {
  const auto path = act::testing::smollm_path();
  REQUIRE(path);
  const act::io::GgufFile file = act::io::GgufFile::open(*path);
  const Tokenizer tokenizer = Tokenizer::from_gguf(file);
  const ByteLevelRoundTrip round_trip(act::text::from_gguf(file));
  const nlohmann::json golden = load_golden("tokenizer_golden_smollm.json");
  REQUIRE(golden["cases"].size() > 150);
  for (const auto& c : golden["cases"]) {
    const auto text = c["text"].get<std::string>();
    const auto expected = c["ids"].get<Ids>();
    INFO("text: " << text);
    CHECK(tokenizer.encode(text, false) == expected);
    CHECK(tokenizer.encode(text, true) == expected);  // SmolLM2 does not ask for BOS
    CHECK(tokenizer.decode(expected) == round_trip(text));
  }
}

TEST_CASE("text.golden: SmolLM2 token texts and specials", "[smollm]") {
  const auto path = act::testing::smollm_path();
  REQUIRE(path);
  const Tokenizer tokenizer = Tokenizer::from_gguf(act::io::GgufFile::open(*path));
  check_pieces(tokenizer, load_golden("tokenizer_golden_smollm.json"));
  CHECK(tokenizer.size() == 49152);
  CHECK(tokenizer.bos() == 1);
  CHECK(tokenizer.eos() == 2);
  CHECK(tokenizer.token_text(1) == "<|im_start|>");
  CHECK(tokenizer.token_text(2) == "<|im_end|>");
  std::size_t specials = 0;
  for (std::int32_t id = 0; id < static_cast<std::int32_t>(tokenizer.size()); ++id) {
    specials += tokenizer.is_special(id) ? 1 : 0;
  }
  CHECK(specials == 17);
}

TEST_CASE("text.golden: SmolLM2 round-trips random bytes it can spell", "[smollm]") {
  const auto path = act::testing::smollm_path();
  REQUIRE(path);
  const act::io::GgufFile file = act::io::GgufFile::open(*path);
  const Tokenizer tokenizer = Tokenizer::from_gguf(file);
  const ByteLevelRoundTrip round_trip(act::text::from_gguf(file));
  REQUIRE(round_trip.unspelled() == 21);
  for (const std::string& input : random_inputs(load_golden("tokenizer_golden_smollm.json"), 17)) {
    REQUIRE(tokenizer.decode(tokenizer.encode(input, false)) == round_trip(input));
  }
}

TEST_CASE("text.golden: stories260K encodes exactly as the reference tokenizer", "[shared]") {
  const auto path = act::testing::stories_path();
  REQUIRE(path);
  const Tokenizer tokenizer = Tokenizer::from_gguf(act::io::GgufFile::open(*path));
  const nlohmann::json golden = load_golden("tokenizer_golden_stories.json");
  REQUIRE(golden["cases"].size() > 90);
  for (const auto& c : golden["cases"]) {
    const auto text = c["text"].get<std::string>();
    const auto expected = c["ids"].get<Ids>();
    INFO("text: " << text);
    CHECK(tokenizer.encode(text, false) == expected);
    CHECK(tokenizer.encode(text, true) == c["ids_with_bos"].get<Ids>());
    CHECK(tokenizer.decode(expected) == spm_round_trip(text));
    CHECK(tokenizer.decode(c["ids_with_bos"].get<Ids>()) == "<s>" + spm_round_trip(text));
  }
}

TEST_CASE("text.golden: stories260K token texts and specials", "[shared]") {
  const auto path = act::testing::stories_path();
  REQUIRE(path);
  const Tokenizer tokenizer = Tokenizer::from_gguf(act::io::GgufFile::open(*path));
  check_pieces(tokenizer, load_golden("tokenizer_golden_stories.json"));
  CHECK(tokenizer.size() == 512);
  CHECK(tokenizer.is_special(0));
  CHECK(tokenizer.is_special(1));
  CHECK(tokenizer.is_special(2));
  CHECK_FALSE(tokenizer.is_special(3));
}

TEST_CASE("text.golden: stories260K round-trips random bytes through byte fallback", "[shared]") {
  const auto path = act::testing::stories_path();
  REQUIRE(path);
  const Tokenizer tokenizer = Tokenizer::from_gguf(act::io::GgufFile::open(*path));
  for (const std::string& input : random_inputs(load_golden("tokenizer_golden_stories.json"), 19)) {
    REQUIRE(tokenizer.decode(tokenizer.encode(input, false)) == spm_round_trip(input));
  }
}
