#include <act/core/error.hpp>
#include <act/text/spm_tokenizer.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "test_vocabularies.hpp"

using act::text::SpmTokenizer;
using act::text::Vocabulary;
using Ids = std::vector<std::int32_t>;

namespace {

constexpr std::int32_t first_byte_token = 3;  // spm_vocab: <0x00> is id 3
constexpr std::int32_t byte_id(unsigned byte) { return first_byte_token + static_cast<std::int32_t>(byte); }

Ids spm_encode(const Vocabulary& vocab, std::string_view text, bool starts_segment = true) {
  Ids ids;
  SpmTokenizer(vocab).encode(text, starts_segment, ids);
  return ids;
}

// Ids of pieces by text, so expectations read as the pieces they are.
Ids pieces(const Vocabulary& vocab, std::initializer_list<std::string_view> texts) {
  Ids ids;
  for (const std::string_view text : texts) ids.push_back(act::testing::id_of(vocab, text));
  return ids;
}

}  // namespace

TEST_CASE("text.spm: the highest-scoring pair merges first", "[text]") {
  auto vocab = act::testing::spm_vocab({{"a", 0}, {"b", 0}, {"c", 0}, {"ab", -2}, {"bc", -1}});
  vocab.add_space_prefix = false;
  CHECK(spm_encode(vocab, "abc") == pieces(vocab, {"a", "bc"}));
  vocab.scores[static_cast<std::size_t>(act::testing::id_of(vocab, "ab"))] = -0.5f;
  CHECK(spm_encode(vocab, "abc") == pieces(vocab, {"ab", "c"}));
}

TEST_CASE("text.spm: equal scores merge leftmost first, and merges chain", "[text]") {
  auto vocab = act::testing::spm_vocab({{"a", 0}, {"aa", -1}, {"aaa", -3}, {"aaaa", -2}});
  vocab.add_space_prefix = false;
  CHECK(spm_encode(vocab, "aaa") == pieces(vocab, {"aaa"}));    // aa+a, then aa a -> aaa
  CHECK(spm_encode(vocab, "aaaa") == pieces(vocab, {"aaaa"}));  // aa aa -> aaaa outranks aaa
  CHECK(spm_encode(vocab, "aaaaa") == pieces(vocab, {"aaaa", "a"}));
}

TEST_CASE("text.spm: spaces become U+2581 and segments get a space prefix", "[text]") {
  const auto vocab = act::testing::spm_ab_vocab();
  CHECK(spm_encode(vocab, "a b") == pieces(vocab, {"\xE2\x96\x81"
                                                   "a",
                                                   "\xE2\x96\x81"
                                                   "b"}));
  CHECK(spm_encode(vocab, "a b", false) == pieces(vocab, {"a",
                                                          "\xE2\x96\x81"
                                                          "b"}));
  CHECK(spm_encode(vocab, " a") == pieces(vocab, {"\xE2\x96\x81",
                                                  "\xE2\x96\x81"
                                                  "a"}));
  CHECK(spm_encode(vocab, "") == pieces(vocab, {"\xE2\x96\x81"}));  // the Tokenizer skips empty text
  auto no_prefix = vocab;
  no_prefix.add_space_prefix = false;
  CHECK(spm_encode(no_prefix, "a b") == pieces(vocab, {"a",
                                                       "\xE2\x96\x81"
                                                       "b"}));
}

TEST_CASE("text.spm: characters without a piece fall back to byte tokens", "[text]") {
  const auto vocab = act::testing::spm_vocab({{"a", -1}, {"\xE2\x96\x81", -1}});
  CHECK(spm_encode(vocab, "a\xC3\xA9", false) == Ids{act::testing::id_of(vocab, "a"), byte_id(0xC3), byte_id(0xA9)});
  CHECK(spm_encode(vocab, "\xFF\xC3", false) == Ids{byte_id(0xFF), byte_id(0xC3)});
  CHECK(spm_encode(vocab, std::string_view("\0", 1), false) == Ids{byte_id(0)});
  // <0x41> is a byte token, not the piece "A": the byte is spelled through fallback.
  CHECK(spm_encode(vocab, "A", false) == Ids{byte_id('A')});
}

TEST_CASE("text.spm: without byte tokens an unknown character is one unknown token", "[text]") {
  const auto vocab = act::testing::spm_vocab({{"a", -1}, {"b", -1}}, /*byte_fallback=*/false);
  CHECK(spm_encode(vocab,
                   "a\xC3\xA9"
                   "b",
                   false) == Ids{act::testing::id_of(vocab, "a"), 0, act::testing::id_of(vocab, "b")});
  CHECK(spm_encode(vocab, "\xFF\xFE", false) == Ids{0, 0});
}

TEST_CASE("text.spm: only normal tokens are merge targets", "[text]") {
  auto vocab = act::testing::spm_vocab({{"x", -1}, {"y", -1}, {"xy", 0}});
  vocab.add_space_prefix = false;
  CHECK(spm_encode(vocab, "xy") == pieces(vocab, {"xy"}));
  vocab.types[static_cast<std::size_t>(act::testing::id_of(vocab, "xy"))] = act::text::TokenType::control;
  CHECK(spm_encode(vocab, "xy") == pieces(vocab, {"x", "y"}));
}

TEST_CASE("text.spm: vocabulary errors", "[text]") {
  SECTION("neither byte fallback nor an unknown token") {
    auto vocab = act::testing::spm_vocab({{"a", -1}}, false);
    vocab.unk = act::text::no_token;
    CHECK_THROWS_WITH(SpmTokenizer(vocab), Catch::Contains("unknown token"));
  }
  SECTION("a NaN score") {
    auto vocab = act::testing::spm_vocab({{"a", std::numeric_limits<float>::quiet_NaN()}});
    CHECK_THROWS_AS(SpmTokenizer(vocab), act::FormatError);
  }
}

TEST_CASE("text.spm: pieces decode U+2581 as a space", "[text]") {
  using act::text::decode_spm_piece;
  CHECK(decode_spm_piece("\xE2\x96\x81"
                         "a\xE2\x96\x81\xE2\x96\x81"
                         "b") == " a  b");
  CHECK(decode_spm_piece("plain") == "plain");
  CHECK(decode_spm_piece("\xE2\x96") == "\xE2\x96");  // a truncated ▁ is left alone
}

TEST_CASE("text.spm: long inputs encode without quadratic blow-up", "[text]") {
  auto vocab = act::testing::spm_vocab({{"a", -1}, {"aa", -2}, {"aaaa", -3}});
  vocab.add_space_prefix = false;
  const auto ids = spm_encode(vocab, std::string(200000, 'a'));
  CHECK(ids == Ids(50000, act::testing::id_of(vocab, "aaaa")));
}
