#include <act/core/error.hpp>
#include <act/text/bpe_tokenizer.hpp>

#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "test_vocabularies.hpp"

using act::text::BpeTokenizer;
using act::text::pre_tokenize;
using act::text::PreTokenizer;
using Words = std::vector<std::string_view>;

namespace {

std::vector<std::int32_t> bpe_encode(const act::text::Vocabulary& vocab, std::string_view text) {
  std::vector<std::int32_t> ids;
  BpeTokenizer(vocab).encode(text, ids);
  return ids;
}

}  // namespace

TEST_CASE("text.bpe: the byte-level alphabet is GPT-2's", "[text]") {
  using act::text::byte_stand_in;
  using act::text::stand_in_byte;
  CHECK(byte_stand_in('A') == U'A');
  CHECK(byte_stand_in('!') == U'!');
  CHECK(byte_stand_in('~') == U'~');
  CHECK(byte_stand_in(0xA1) == 0xA1);
  CHECK(byte_stand_in(0xFF) == 0xFF);
  CHECK(byte_stand_in(0) == 0x100);
  CHECK(byte_stand_in(' ') == 0x120);   // Ġ
  CHECK(byte_stand_in('\n') == 0x10A);  // Ċ
  CHECK(byte_stand_in(0x7F) == 0x121);
  CHECK(byte_stand_in(0xA0) == 0x142);
  CHECK(byte_stand_in(0xAD) == 0x143);
  for (unsigned byte = 0; byte < 256; ++byte) {
    REQUIRE(stand_in_byte(byte_stand_in(static_cast<std::uint8_t>(byte))) == byte);
  }
  CHECK_FALSE(stand_in_byte(0x144).has_value());
  CHECK_FALSE(stand_in_byte(0x20).has_value());  // space has a stand-in (Ġ), so it is not one
  CHECK_FALSE(stand_in_byte(0x2581).has_value());
}

TEST_CASE("text.bpe: byte-level tokens decode to bytes", "[text]") {
  using act::text::decode_byte_level;
  CHECK(decode_byte_level("Hello") == "Hello");
  CHECK(decode_byte_level("\xC4\xA0world") == " world");                   // Ġworld
  CHECK(decode_byte_level("\xC4\x8A\xC4\x8A") == "\n\n");                  // ĊĊ
  CHECK(decode_byte_level("\xC3\xA3\xC4\xA3\xC2\xAE") == "\xE3\x81\xAE");  // ãģ®: bytes of の
  CHECK(decode_byte_level("\xE2\x96\x81") == "\xE2\x96\x81");              // outside the alphabet: kept
  CHECK(decode_byte_level("\xFF") == "\xFF");                              // invalid UTF-8: kept
}

TEST_CASE("text.bpe: gpt2 pre-tokenizer follows the GPT-2 split regex", "[text]") {
  const auto split = [](std::string_view text) { return pre_tokenize(PreTokenizer::gpt2, text); };
  CHECK(split("") == Words{});
  CHECK(split("Hello world") == Words{"Hello", " world"});
  CHECK(split("Hello, world!") == Words{"Hello", ",", " world", "!"});
  CHECK(split("I'm here, they'll go; we've been") ==
        Words{"I", "'m", " here", ",", " they", "'ll", " go", ";", " we", "'ve", " been"});
  CHECK(split("don't") == Words{"don", "'t"});
  CHECK(split("DON'T 'S") == Words{"DON", "'", "T", " '", "S"});  // contractions are lower case
  CHECK(split("''s 'x") == Words{"''", "s", " '", "x"});
  CHECK(split("abc123 456") == Words{"abc", "123", " 456"});
  CHECK(split(" !!? ..") == Words{" !!?", " .."});
  CHECK(split("a  b") == Words{"a", " ", " b"});
  CHECK(split("a   b") == Words{"a", "  ", " b"});
  CHECK(split("a \tb") == Words{"a", " ", "\t", "b"});
  CHECK(split("a\tb") == Words{"a", "\t", "b"});
  CHECK(split("a\n\nb") == Words{"a", "\n", "\n", "b"});
  CHECK(split("x   ") == Words{"x", "   "});
  CHECK(split("   ") == Words{"   "});
  CHECK(split(" ") == Words{" "});
  CHECK(split("a\xC2\xA0"
              "b") == Words{"a", "\xC2\xA0", "b"});  // NBSP is \s but not " ?"
  CHECK(split("\xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x99\x82!") ==
        Words{"\xE6\x97\xA5\xE6\x9C\xAC", " \xF0\x9F\x99\x82!"});  // 日本 🙂!
  CHECK(split("ab\xFF\xFE"
              "cd") == Words{"ab", "\xFF\xFE", "cd"});  // invalid bytes: other
}

TEST_CASE("text.bpe: smollm pre-tokenizer isolates every number character first", "[text]") {
  const auto split = [](std::string_view text) { return pre_tokenize(PreTokenizer::smollm, text); };
  CHECK(split("abc123") == Words{"abc", "1", "2", "3"});
  CHECK(split("a 2024 b") == Words{"a", " ", "2", "0", "2", "4", " b"});
  CHECK(split("x  7") == Words{"x", "  ", "7"});  // the run before a digit ends its piece
  CHECK(split("3.14") == Words{"3", ".", "1", "4"});
  CHECK(split("\xC2\xBD\xE2\x85\xAB") == Words{"\xC2\xBD", "\xE2\x85\xAB"});  // ½Ⅻ: No, Nl
  CHECK(split("I'm fine") == Words{"I", "'m", " fine"});
}

TEST_CASE("text.bpe: pre-tokenizer words cover random bytes exactly", "[text]") {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> byte(0, 255);
  for (const PreTokenizer kind : {PreTokenizer::gpt2, PreTokenizer::smollm}) {
    for (int round = 0; round < 300; ++round) {
      std::string bytes(static_cast<std::size_t>(round % 50), '\0');
      for (char& c : bytes) c = static_cast<char>(round % 2 ? byte(rng) : byte(rng) % 128);
      std::string joined;
      for (const std::string_view word : pre_tokenize(kind, bytes)) {
        REQUIRE_FALSE(word.empty());
        joined += word;
      }
      REQUIRE(joined == bytes);
    }
  }
}

TEST_CASE("text.bpe: pre-tokenizer names", "[text]") {
  using act::text::pre_tokenizer_from_name;
  CHECK(pre_tokenizer_from_name("gpt2") == PreTokenizer::gpt2);
  CHECK(pre_tokenizer_from_name("default") == PreTokenizer::gpt2);
  CHECK(pre_tokenizer_from_name("smollm") == PreTokenizer::smollm);
  CHECK_THROWS_AS(pre_tokenizer_from_name("llama3"), act::UnsupportedError);
  CHECK_THROWS_WITH(pre_tokenizer_from_name("qwen2"), Catch::Contains("qwen2"));
}

TEST_CASE("text.bpe: merges apply lowest rank first", "[text]") {
  const auto vocab = act::testing::byte_level_vocab({{"h", "e"}, {"l", "l"}, {"he", "ll"}});
  CHECK(bpe_encode(vocab, "hello") == std::vector<std::int32_t>{258, 'o'});
  CHECK(bpe_encode(vocab, "hell") == std::vector<std::int32_t>{258});
  CHECK(bpe_encode(vocab, "help") == std::vector<std::int32_t>{256, 'l', 'p'});
  CHECK(bpe_encode(vocab, "") == std::vector<std::int32_t>{});

  const auto ab_first = act::testing::byte_level_vocab({{"a", "b"}, {"b", "c"}});
  CHECK(bpe_encode(ab_first, "abc") == std::vector<std::int32_t>{256, 'c'});
  const auto bc_first = act::testing::byte_level_vocab({{"b", "c"}, {"a", "b"}});
  CHECK(bpe_encode(bc_first, "abc") == std::vector<std::int32_t>{'a', 256});
}

TEST_CASE("text.bpe: equal ranks merge leftmost first", "[text]") {
  const auto vocab = act::testing::byte_level_vocab({{"a", "a"}, {"aa", "a"}});
  CHECK(bpe_encode(vocab, "aaa") == std::vector<std::int32_t>{257});        // aa+a
  CHECK(bpe_encode(vocab, "aaaa") == std::vector<std::int32_t>{256, 256});  // not a+aa+a
  CHECK(bpe_encode(vocab, "aaaaa") == std::vector<std::int32_t>{256, 257});
}

TEST_CASE("text.bpe: merges never cross word boundaries", "[text]") {
  const auto vocab = act::testing::byte_level_vocab({{"a", " "}, {" ", "b"}});
  // "a b" pre-tokenizes to "a", " b": the "a " merge (rank 0) is never seen.
  CHECK(bpe_encode(vocab, "a b") == std::vector<std::int32_t>{'a', 257});
}

TEST_CASE("text.bpe: bytes the vocabulary cannot spell are dropped before merging", "[text]") {
  auto vocab = act::testing::byte_level_vocab({{"!", "!"}});
  vocab.tokens[0x04] = "<unk>";  // no token spells byte 0x04 any more
  vocab.types[0x04] = act::text::TokenType::unknown;
  vocab.unk = 0x04;
  // As HF tokenizers do: the neighbours then merge ("!\x04!" is one pre-tokenizer word).
  CHECK(bpe_encode(vocab, "!\x04!") == std::vector<std::int32_t>{256});
  CHECK(bpe_encode(vocab, "a\x04") == std::vector<std::int32_t>{'a'});
  CHECK(bpe_encode(vocab, "\x04\x04") == std::vector<std::int32_t>{});
}

TEST_CASE("text.bpe: a malformed merge list is a FormatError naming the merge", "[text]") {
  auto vocab = act::testing::byte_level_vocab({{"a", "b"}});
  SECTION("a merge naming an unknown token") {
    vocab.merges.push_back("ab zz");
    CHECK_THROWS_WITH(BpeTokenizer(vocab), Catch::Contains("merge 1 'ab zz'") && Catch::Contains("unknown token 'zz'"));
  }
  SECTION("a merge whose result is not a token") {
    vocab.merges.push_back("b a");
    CHECK_THROWS_WITH(BpeTokenizer(vocab), Catch::Contains("unknown token 'ba'"));
  }
  SECTION("a merge that is not two tokens") {
    vocab.merges.push_back("ab");
    CHECK_THROWS_WITH(BpeTokenizer(vocab), Catch::Contains("not two tokens"));
    vocab.merges.back() = "a ";
    CHECK_THROWS_AS(BpeTokenizer(vocab), act::FormatError);
  }
  SECTION("no merges at all") {
    vocab.merges.clear();
    CHECK_THROWS_WITH(BpeTokenizer(vocab), Catch::Contains("no merges"));
  }
  SECTION("an unknown pre-tokenizer") {
    vocab.pre_tokenizer = "deepseek-llm";
    CHECK_THROWS_AS(BpeTokenizer(vocab), act::UnsupportedError);
  }
}

TEST_CASE("text.bpe: long inputs encode without quadratic blow-up", "[text]") {
  const auto vocab = act::testing::byte_level_vocab({{"a", "a"}, {"aa", "aa"}, {" ", " "}});
  const std::string letters(200000, 'a');  // one pre-tokenizer word
  const auto ids = bpe_encode(vocab, letters);
  CHECK(ids == std::vector<std::int32_t>(50000, 257));
  const std::string spaces(200000, ' ');
  CHECK(bpe_encode(vocab, spaces) == std::vector<std::int32_t>(100000, 258));
}
