#include <act/core/error.hpp>
#include <act/io/gguf.hpp>
#include <act/text/tokenizer.hpp>
#include <act/text/vocabulary_gguf.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <bit>
#include <string>
#include <vector>

#include "../io/gguf_builder.hpp"
#include "test_paths.hpp"
#include "test_vocabularies.hpp"

using act::io::GgufFile;
using act::testing::GgufBuilder;
using act::text::from_gguf;
using act::text::no_token;
using act::text::TokenType;
using act::text::VocabKind;
using act::text::Vocabulary;
namespace value_type = act::testing::value_type;

namespace {

GgufFile parse(const GgufBuilder& builder) { return GgufFile::parse(builder.build(), "test.gguf"); }

std::vector<std::uint64_t> type_ids(const Vocabulary& vocab) {
  std::vector<std::uint64_t> ids;
  for (const TokenType type : vocab.types) ids.push_back(static_cast<std::uint64_t>(type));
  return ids;
}

std::vector<std::uint64_t> score_bits(const Vocabulary& vocab) {
  std::vector<std::uint64_t> bits;
  for (const float score : vocab.scores) bits.push_back(std::bit_cast<std::uint32_t>(score));
  return bits;
}

// A byte-level vocabulary written the way convert_hf_to_gguf writes SmolLM2's.
GgufBuilder gpt2_gguf(const Vocabulary& vocab) {
  GgufBuilder builder;
  builder.string("tokenizer.ggml.model", "gpt2")
      .string("tokenizer.ggml.pre", "smollm")
      .string_array("tokenizer.ggml.tokens", vocab.tokens)
      .scalar_array("tokenizer.ggml.token_type", value_type::i32, 4, type_ids(vocab))
      .string_array("tokenizer.ggml.merges", vocab.merges)
      .u32("tokenizer.ggml.bos_token_id", 258)
      .u32("tokenizer.ggml.eos_token_id", 259)
      .u32("tokenizer.ggml.unknown_token_id", 258)
      .u32("tokenizer.ggml.padding_token_id", 259)
      .scalar("tokenizer.ggml.add_bos_token", value_type::boolean, std::uint8_t{0})
      .scalar("tokenizer.ggml.add_space_prefix", value_type::boolean, std::uint8_t{0});
  return builder;
}

// A llama vocabulary with only the arrays, as llama2.c's converter writes stories260K.
GgufBuilder llama_gguf(const Vocabulary& vocab) {
  GgufBuilder builder;
  builder.string("tokenizer.ggml.model", "llama")
      .string_array("tokenizer.ggml.tokens", vocab.tokens)
      .scalar_array("tokenizer.ggml.scores", value_type::f32, 4, score_bits(vocab))
      .scalar_array("tokenizer.ggml.token_type", value_type::i32, 4, type_ids(vocab));
  return builder;
}

Vocabulary small_byte_level() {
  return act::testing::byte_level_vocab({{"h", "e"}, {"he", "l"}}, {"<|start|>", "<|end|>"});
}

}  // namespace

TEST_CASE("text.gguf: a byte-level vocabulary is read with its special ids and flags", "[text]") {
  const Vocabulary expected = small_byte_level();
  const Vocabulary vocab = from_gguf(parse(gpt2_gguf(expected)));
  CHECK(vocab.kind == VocabKind::bpe);
  CHECK(vocab.pre_tokenizer == "smollm");
  CHECK(vocab.tokens == expected.tokens);
  CHECK(vocab.types == expected.types);
  CHECK(vocab.merges == expected.merges);
  CHECK(vocab.scores.empty());
  CHECK(vocab.bos == 258);
  CHECK(vocab.eos == 259);
  CHECK(vocab.unk == 258);
  CHECK(vocab.pad == 259);
  CHECK_FALSE(vocab.add_bos);
  CHECK_FALSE(vocab.add_space_prefix);

  const auto tokenizer = act::text::Tokenizer::from_gguf(parse(gpt2_gguf(expected)));
  CHECK(tokenizer.encode("<|start|>help", true) == std::vector<std::int32_t>{258, 257, 'p'});
}

TEST_CASE("text.gguf: absent optional keys take llama.cpp's defaults", "[text]") {
  SECTION("llama") {
    const Vocabulary expected = act::testing::spm_vocab({{"a", -1.5f}});
    const Vocabulary vocab = from_gguf(parse(llama_gguf(expected)));
    CHECK(vocab.kind == VocabKind::spm);
    CHECK(vocab.scores == expected.scores);
    CHECK(vocab.merges.empty());
    CHECK(vocab.bos == 1);
    CHECK(vocab.eos == 2);
    CHECK(vocab.unk == 0);
    CHECK(vocab.pad == no_token);
    CHECK(vocab.add_bos);
    CHECK(vocab.add_space_prefix);
  }
  SECTION("gpt2") {
    Vocabulary bare = small_byte_level();
    GgufBuilder builder;
    builder.string("tokenizer.ggml.model", "gpt2")
        .string_array("tokenizer.ggml.tokens", bare.tokens)
        .string_array("tokenizer.ggml.merges", bare.merges);
    const Vocabulary vocab = from_gguf(parse(builder));
    CHECK(vocab.pre_tokenizer == "default");
    CHECK(vocab.types.empty());
    CHECK(vocab.bos == no_token);
    CHECK(vocab.eos == no_token);
    CHECK(vocab.unk == no_token);
    CHECK_FALSE(vocab.add_bos);
    CHECK_FALSE(vocab.add_space_prefix);
  }
}

TEST_CASE("text.gguf: the 0xFFFFFFFF id means no token", "[text]") {
  const Vocabulary vocab =
      from_gguf(parse(llama_gguf(act::testing::spm_vocab({})).u32("tokenizer.ggml.padding_token_id", 0xFFFFFFFF)));
  CHECK(vocab.pad == no_token);
}

TEST_CASE("text.gguf: missing or inconsistent metadata is a clear error", "[text]") {
  const Vocabulary vocab = small_byte_level();
  SECTION("no tokenizer at all") {
    GgufBuilder builder;
    builder.string("general.architecture", "llama");
    CHECK_THROWS_AS(from_gguf(parse(builder)), act::FormatError);
    CHECK_THROWS_WITH(from_gguf(parse(builder)), Catch::Contains("tokenizer.ggml.model"));
  }
  SECTION("an unsupported tokenizer model") {
    GgufBuilder builder;
    builder.string("tokenizer.ggml.model", "bert").string_array("tokenizer.ggml.tokens", {"a"});
    CHECK_THROWS_AS(from_gguf(parse(builder)), act::UnsupportedError);
    CHECK_THROWS_WITH(from_gguf(parse(builder)), Catch::Contains("'bert'"));
  }
  SECTION("no tokens") {
    GgufBuilder builder;
    builder.string("tokenizer.ggml.model", "llama");
    CHECK_THROWS_WITH(from_gguf(parse(builder)), Catch::Contains("tokenizer.ggml.tokens"));
  }
  SECTION("byte-level BPE without merges") {
    GgufBuilder builder;
    builder.string("tokenizer.ggml.model", "gpt2").string_array("tokenizer.ggml.tokens", vocab.tokens);
    CHECK_THROWS_WITH(from_gguf(parse(builder)), Catch::Contains("tokenizer.ggml.merges"));
  }
  SECTION("an unknown token type") {
    GgufBuilder builder;
    builder.string("tokenizer.ggml.model", "llama")
        .string_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>"})
        .scalar_array("tokenizer.ggml.token_type", value_type::i32, 4, {2, 3, 9});
    CHECK_THROWS_WITH(from_gguf(parse(builder)), Catch::Contains("unknown type 9"));
  }
  SECTION("a special id outside the vocabulary") {
    GgufBuilder builder = llama_gguf(act::testing::spm_vocab({}));
    builder.u32("tokenizer.ggml.bos_token_id", 600);
    CHECK_THROWS_WITH(from_gguf(parse(builder)), Catch::Contains("test.gguf") && Catch::Contains("BOS token id 600"));
  }
  SECTION("scores that do not match the tokens") {
    GgufBuilder builder;
    builder.string("tokenizer.ggml.model", "llama")
        .string_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>"})
        .scalar_array("tokenizer.ggml.scores", value_type::f32, 4, {0, 0});
    CHECK_THROWS_WITH(from_gguf(parse(builder)), Catch::Contains("3 tokens but 2 scores"));
  }
  SECTION("a merge naming an unknown token") {
    Vocabulary broken = vocab;
    broken.merges.push_back("he zz");
    CHECK_THROWS_WITH(act::text::Tokenizer::from_gguf(parse(gpt2_gguf(broken))), Catch::Contains("unknown token 'zz'"));
  }
  SECTION("an unsupported pre-tokenizer") {
    GgufBuilder builder;
    builder.string("tokenizer.ggml.model", "gpt2")
        .string("tokenizer.ggml.pre", "qwen2")
        .string_array("tokenizer.ggml.tokens", vocab.tokens)
        .string_array("tokenizer.ggml.merges", vocab.merges);
    CHECK_THROWS_AS(act::text::Tokenizer::from_gguf(parse(builder)), act::UnsupportedError);
  }
}

TEST_CASE("text.gguf: stories260K vocabulary metadata", "[shared]") {
  const auto path = act::testing::stories_path();
  REQUIRE(path);
  const Vocabulary vocab = from_gguf(GgufFile::open(*path));
  CHECK(vocab.kind == VocabKind::spm);
  CHECK(vocab.size() == 512);
  CHECK(vocab.scores.size() == 512);
  CHECK(vocab.types.size() == 512);
  CHECK(vocab.bos == 1);
  CHECK(vocab.eos == 2);
  CHECK(vocab.unk == 0);
  CHECK(vocab.pad == no_token);  // stored as 0xFFFFFFFF
  CHECK(vocab.add_bos);
  CHECK(vocab.add_space_prefix);
  CHECK(std::count(vocab.types.begin(), vocab.types.end(), TokenType::byte) == 256);
}

TEST_CASE("text.gguf: SmolLM2 vocabulary metadata", "[smollm]") {
  const auto path = act::testing::smollm_path();
  REQUIRE(path);
  const Vocabulary vocab = from_gguf(GgufFile::open(*path));
  CHECK(vocab.kind == VocabKind::bpe);
  CHECK(vocab.pre_tokenizer == "smollm");
  CHECK(vocab.size() == 49152);
  CHECK(vocab.merges.size() == 48900);
  CHECK(vocab.bos == 1);
  CHECK(vocab.eos == 2);
  CHECK(vocab.unk == 0);
  CHECK(vocab.pad == 2);
  CHECK_FALSE(vocab.add_bos);
  CHECK_FALSE(vocab.add_space_prefix);
  CHECK(std::count(vocab.types.begin(), vocab.types.end(), TokenType::control) == 17);
}
