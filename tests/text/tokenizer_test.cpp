#include <act/core/error.hpp>
#include <act/text/tokenizer.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "test_vocabularies.hpp"

using act::text::Tokenizer;
using act::text::TokenType;
using act::text::Vocabulary;
using Ids = std::vector<std::int32_t>;

namespace {

// Byte-level BPE with chat-template controls: "he"=256, "ll"=257, then controls from 258.
Vocabulary chat_vocab() {
  return act::testing::byte_level_vocab({{"h", "e"}, {"l", "l"}}, {"<|im_start|>", "<|im_end|>", "<|a", "<|ab|>"});
}
constexpr std::int32_t im_start = 258;
constexpr std::int32_t im_end = 259;
constexpr std::int32_t short_control = 260;  // <|a
constexpr std::int32_t long_control = 261;   // <|ab|>

std::string random_bytes(std::mt19937& rng, std::size_t size) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(byte(rng));
  return bytes;
}

}  // namespace

TEST_CASE("text.tokenizer: special tokens in the text encode as themselves", "[text]") {
  const Tokenizer tokenizer(chat_vocab());
  CHECK(tokenizer.encode("<|im_start|>hello<|im_end|>", false) == Ids{im_start, 256, 257, 'o', im_end});
  CHECK(tokenizer.encode("<|im_start|><|im_end|>", false) == Ids{im_start, im_end});
  CHECK(tokenizer.encode("x<|im_end|>\n", false) == Ids{'x', im_end, '\n'});
  // Incomplete special tokens are plain text.
  CHECK(tokenizer.encode("<|im_start|", false) == Ids{'<', '|', 'i', 'm', '_', 's', 't', 'a', 'r', 't', '|'});
}

TEST_CASE("text.tokenizer: special tokens can be read as plain text (user input)", "[text]") {
  const Tokenizer tokenizer(chat_vocab());
  using act::text::SpecialTokens;
  const Ids plain = tokenizer.encode("x<|im_end|>", false, SpecialTokens::as_text);
  CHECK(std::find(plain.begin(), plain.end(), im_end) == plain.end());  // the user cannot close a turn
  CHECK(tokenizer.decode(plain) == "x<|im_end|>");
  CHECK(tokenizer.encode("hello", false, SpecialTokens::as_text) == tokenizer.encode("hello", false));
  CHECK(tokenizer.encode("", false, SpecialTokens::as_text).empty());
}

TEST_CASE("text.tokenizer: the longest special token at a position wins", "[text]") {
  const Tokenizer tokenizer(chat_vocab());
  CHECK(tokenizer.encode("<|ab|>", false) == Ids{long_control});
  CHECK(tokenizer.encode("<|ax", false) == Ids{short_control, 'x'});
  CHECK(tokenizer.encode("<|ab|", false) == Ids{short_control, 'b', '|'});
}

TEST_CASE("text.tokenizer: user-defined tokens are matched but not special", "[text]") {
  auto vocab = chat_vocab();
  vocab.types[im_end] = TokenType::user_defined;
  const Tokenizer tokenizer(vocab);
  CHECK(tokenizer.encode("a<|im_end|>", false) == Ids{'a', im_end});
  CHECK(tokenizer.is_special(im_start));
  CHECK_FALSE(tokenizer.is_special(im_end));
  CHECK_FALSE(tokenizer.is_special('a'));
  CHECK_FALSE(tokenizer.is_special(-1));
  CHECK_FALSE(tokenizer.is_special(static_cast<std::int32_t>(tokenizer.size())));
}

TEST_CASE("text.tokenizer: BOS goes first only when asked and the vocabulary wants it", "[text]") {
  auto vocab = chat_vocab();
  vocab.bos = im_start;
  vocab.eos = im_end;
  SECTION("vocabulary without add_bos (SmolLM2)") {
    const Tokenizer tokenizer(vocab);
    CHECK(tokenizer.encode("hi", true) == Ids{'h', 'i'});
  }
  SECTION("vocabulary with add_bos") {
    vocab.add_bos = true;
    const Tokenizer tokenizer(vocab);
    CHECK(tokenizer.encode("hi", true) == Ids{im_start, 'h', 'i'});
    CHECK(tokenizer.encode("hi", false) == Ids{'h', 'i'});
    CHECK(tokenizer.encode("", true) == Ids{im_start});
  }
  const Tokenizer tokenizer(vocab);
  CHECK(tokenizer.bos() == im_start);
  CHECK(tokenizer.eos() == im_end);
  CHECK(tokenizer.size() == 262);
}

TEST_CASE("text.tokenizer: decode concatenates token bytes", "[text]") {
  const Tokenizer tokenizer(chat_vocab());
  CHECK(tokenizer.decode(Ids{im_start, 256, 257, 'o', im_end}) == "<|im_start|>hello<|im_end|>");
  CHECK(tokenizer.decode(Ids{}) == "");
  CHECK(tokenizer.token_text(256) == "he");
  CHECK(tokenizer.token_text(' ') == " ");      // Ġ
  CHECK(tokenizer.token_text(0xE6) == "\xE6");  // one byte of a multi-byte character
  CHECK(tokenizer.token_text(im_end) == "<|im_end|>");
}

TEST_CASE("text.tokenizer: ids outside the vocabulary are errors", "[text]") {
  const Tokenizer tokenizer(chat_vocab());
  const auto size = static_cast<std::int32_t>(tokenizer.size());
  CHECK_THROWS_AS(tokenizer.decode(Ids{'a', size}), act::Error);
  CHECK_THROWS_WITH(tokenizer.decode(Ids{-1}), Catch::Contains("token id -1"));
  CHECK_THROWS_AS(tokenizer.token_text(size), act::Error);
  CHECK_THROWS_AS(tokenizer.token_text(-5), act::Error);
}

TEST_CASE("text.tokenizer: byte-level BPE round-trips random bytes", "[text]") {
  const Tokenizer tokenizer(chat_vocab());
  std::mt19937 rng(3);
  for (std::size_t round = 0; round < 400; ++round) {
    std::string text = random_bytes(rng, round % 64);
    if (round % 4 == 0) text.insert(text.size() / 2, "<|im_end|>");
    REQUIRE(tokenizer.decode(tokenizer.encode(text, true)) == text);
  }
}

TEST_CASE("text.tokenizer: SPM adds a space prefix per segment and decode removes it", "[text]") {
  const Vocabulary vocab = act::testing::spm_ab_vocab();
  const Tokenizer tokenizer(vocab);
  const auto id = [&vocab](std::string_view piece) { return act::testing::id_of(vocab, piece); };
  CHECK(tokenizer.encode("a b", false) == Ids{id("\xE2\x96\x81"
                                                 "a"),
                                              id("\xE2\x96\x81"
                                                 "b")});
  CHECK(tokenizer.encode("a b", true) == Ids{1,
                                             id("\xE2\x96\x81"
                                                "a"),
                                             id("\xE2\x96\x81"
                                                "b")});
  CHECK(tokenizer.encode("", true) == Ids{1});
  CHECK(tokenizer.encode("", false) == Ids{});
  // After a special token the text starts a new segment, with its own prefix.
  CHECK(tokenizer.encode("a<s>b", false) == Ids{id("\xE2\x96\x81"
                                                   "a"),
                                                1,
                                                id("\xE2\x96\x81"
                                                   "b")});
  CHECK(tokenizer.decode(Ids{id("\xE2\x96\x81"
                                "a"),
                             1,
                             id("\xE2\x96\x81"
                                "b")}) == "a<s>b");
  CHECK(tokenizer.decode(Ids{1, id("\xE2\x96\x81"
                                   "a")}) == "<s>a");
  CHECK(tokenizer.decode(tokenizer.encode(" a  b ", false)) == " a  b ");
  // token_text keeps the space: streaming shows what follows earlier tokens.
  CHECK(tokenizer.token_text(id("\xE2\x96\x81"
                                "a")) == " a");
  CHECK(tokenizer.token_text(3 + 0xC3) == "\xC3");
  CHECK(tokenizer.token_text(0) == "<unk>");
  CHECK(tokenizer.is_special(0));
  CHECK(tokenizer.is_special(1));
  CHECK_FALSE(tokenizer.is_special(3));  // byte tokens are text
}

TEST_CASE("text.tokenizer: SPM with byte fallback round-trips random bytes", "[text]") {
  const Tokenizer tokenizer(act::testing::spm_vocab({{"\xE2\x96\x81", -5},
                                                     {"a", -1},
                                                     {"\xE2\x96\x81"
                                                      "a",
                                                      0}}));
  std::mt19937 rng(5);
  for (std::size_t round = 0; round < 400; ++round) {
    std::string text = random_bytes(rng, round % 64);
    if (round % 3 == 0) text.insert(text.size() / 3, round % 2 ? " a " : "</s>");
    REQUIRE(tokenizer.decode(tokenizer.encode(text, false)) == text);
  }
  // The one exception: a U+2581 in the input is indistinguishable from an encoded space.
  CHECK(tokenizer.decode(tokenizer.encode("x\xE2\x96\x81y", false)) == "x y");
}

TEST_CASE("text.tokenizer: inconsistent vocabularies are FormatErrors", "[text]") {
  auto vocab = chat_vocab();
  SECTION("per-token arrays of the wrong size") {
    vocab.scores.assign(3, 0.0f);
    CHECK_THROWS_WITH(Tokenizer(vocab), Catch::Contains("262 tokens but 3 scores"));
  }
  SECTION("special ids outside the vocabulary") {
    vocab.eos = 262;
    CHECK_THROWS_WITH(Tokenizer(vocab), Catch::Contains("EOS token id 262"));
  }
  SECTION("add_bos without a BOS token") {
    vocab.add_bos = true;
    CHECK_THROWS_WITH(Tokenizer(vocab), Catch::Contains("BOS"));
  }
  SECTION("a byte token not spelled <0xNN>") {
    vocab.types['a'] = TokenType::byte;
    CHECK_THROWS_WITH(Tokenizer(vocab), Catch::Contains("not <0xNN>"));
  }
  SECTION("no tokens") {
    vocab = Vocabulary{};
    CHECK_THROWS_WITH(Tokenizer(vocab), Catch::Contains("no tokens"));
  }
}

TEST_CASE("text.tokenizer: byte token spelling", "[text]") {
  using act::text::byte_token_text;
  using act::text::parse_byte_token;
  CHECK(byte_token_text(0x0A) == "<0x0A>");
  CHECK(byte_token_text(0xFF) == "<0xFF>");
  CHECK(parse_byte_token("<0x0A>") == std::uint8_t{0x0A});
  CHECK(parse_byte_token("<0xab>") == std::uint8_t{0xAB});
  CHECK_FALSE(parse_byte_token("<0x0G>").has_value());
  CHECK_FALSE(parse_byte_token("<0x0A").has_value());
  CHECK_FALSE(parse_byte_token("0x0A>>").has_value());
}
