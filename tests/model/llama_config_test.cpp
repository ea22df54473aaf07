#include <act/model/llama_config.hpp>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "../io/gguf_builder.hpp"

using act::model::LlamaConfig;
using act::testing::GgufBuilder;

namespace {

LlamaConfig valid_config() {
  LlamaConfig c;
  c.layers = 2;
  c.dim = 64;
  c.ffn_dim = 172;
  c.heads = 8;
  c.kv_heads = 4;
  c.rope_dim = 8;
  c.context_length = 128;
  c.vocab_size = 512;
  return c;
}

// The llama.* keys of valid_config(), so a test can change or drop one.
GgufBuilder llama_metadata(std::string_view architecture = "llama", std::string_view skip = "") {
  GgufBuilder b;
  b.string("general.architecture", architecture);
  const std::pair<const char*, std::uint32_t> sizes[] = {
      {"llama.block_count", 2},          {"llama.embedding_length", 64}, {"llama.feed_forward_length", 172},
      {"llama.attention.head_count", 8}, {"llama.context_length", 128},  {"llama.vocab_size", 512}};
  for (const auto& [key, value] : sizes)
    if (skip != key) b.u32(key, value);
  if (skip != "llama.attention.layer_norm_rms_epsilon") b.f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  return b;
}

LlamaConfig parse(const GgufBuilder& builder) {
  return LlamaConfig::from_gguf(act::io::GgufFile::parse(builder.build(), "test.gguf"));
}

}  // namespace

TEST_CASE("LlamaConfig accepts a valid configuration and derives head sizes", "[model][config]") {
  const LlamaConfig c = valid_config();
  REQUIRE_NOTHROW(c.validate());
  CHECK(c.head_dim() == 8);
  CHECK(c.kv_dim() == 32);
}

TEST_CASE("LlamaConfig::validate names the offending hyper-parameter", "[model][config]") {
  struct Case {
    const char* what;
    void (*spoil)(LlamaConfig&);
    const char* message;
  };
  const Case cases[] = {
      {"zero layers", [](LlamaConfig& c) { c.layers = 0; }, "block_count = 0"},
      {"heads do not divide the width", [](LlamaConfig& c) { c.heads = 7; }, "not a multiple of head_count 7"},
      {"kv heads do not divide the heads", [](LlamaConfig& c) { c.kv_heads = 3; }, "head_count_kv 3"},
      {"more kv heads than heads", [](LlamaConfig& c) { c.kv_heads = 16; }, "head_count_kv = 16"},
      {"odd rope dimension", [](LlamaConfig& c) { c.rope_dim = 7; }, "rope.dimension_count 7"},
      {"rope dimension above the head size", [](LlamaConfig& c) { c.rope_dim = 16; }, "rope.dimension_count 16"},
      {"absurd vocabulary", [](LlamaConfig& c) { c.vocab_size = std::size_t{1} << 40; }, "vocab_size"},
      {"non-positive epsilon", [](LlamaConfig& c) { c.rms_epsilon = 0.0f; }, "layer_norm_rms_epsilon"},
      {"rope base not above 1", [](LlamaConfig& c) { c.rope_base = 1.0f; }, "freq_base"},
  };
  for (const Case& bad : cases) {
    LlamaConfig c = valid_config();
    bad.spoil(c);
    CAPTURE(bad.what);
    CHECK_THROWS_AS(c.validate(), act::FormatError);
    CHECK_THROWS_WITH(c.validate("m.gguf"),
                      Catch::Matchers::Contains("m.gguf") && Catch::Matchers::Contains(bad.message));
  }
}

TEST_CASE("LlamaConfig::from_gguf reads llama keys with documented defaults", "[model][config]") {
  const LlamaConfig c = parse(llama_metadata());
  CHECK(c.layers == 2);
  CHECK(c.dim == 64);
  CHECK(c.ffn_dim == 172);
  CHECK(c.heads == 8);
  CHECK(c.kv_heads == 8);  // head_count_kv absent: no grouping
  CHECK(c.rope_dim == 8);  // rope.dimension_count absent: the whole head
  CHECK(c.rope_base == 10000.0f);
  CHECK(c.vocab_size == 512);
  CHECK(c.rms_epsilon == 1e-5f);

  GgufBuilder b = llama_metadata("llama", "llama.vocab_size");
  b.u32("llama.attention.head_count_kv", 2).f32("llama.rope.freq_base", 100000.0f);
  b.string_array("tokenizer.ggml.tokens", {"a", "b", "c"});
  const LlamaConfig d = parse(b);
  CHECK(d.kv_heads == 2);
  CHECK(d.rope_base == 100000.0f);
  CHECK(d.vocab_size == 3);  // from the tokenizer when llama.vocab_size is absent
}

TEST_CASE("LlamaConfig::from_gguf rejects other architectures and missing or invalid keys", "[model][config]") {
  using Catch::Matchers::Contains;
  CHECK_THROWS_AS(parse(llama_metadata("gpt2")), act::UnsupportedError);
  CHECK_THROWS_WITH(parse(llama_metadata("gpt2")), Contains("'gpt2' is not supported"));
  CHECK_THROWS_AS(parse(GgufBuilder{}), act::UnsupportedError);  // no architecture at all
  CHECK_THROWS_WITH(parse(llama_metadata("llama", "llama.block_count")), Contains("llama.block_count"));
  CHECK_THROWS_AS(parse(llama_metadata("llama", "llama.attention.layer_norm_rms_epsilon")), act::FormatError);
  GgufBuilder bad = llama_metadata();
  bad.u32("llama.attention.head_count_kv", 3);
  CHECK_THROWS_WITH(parse(bad), Contains("test.gguf") && Contains("head_count_kv 3"));
}

TEST_CASE("LlamaConfig::from_gguf rejects a vocabulary size the tokenizer disagrees with", "[model][config]") {
  using Catch::Matchers::Contains;
  GgufBuilder matching = llama_metadata();
  matching.string_array("tokenizer.ggml.tokens", std::vector<std::string>(512, "t"));
  CHECK(parse(matching).vocab_size == 512);

  GgufBuilder short_tokenizer = llama_metadata();
  short_tokenizer.string_array("tokenizer.ggml.tokens", {"a", "b", "c"});
  CHECK_THROWS_AS(parse(short_tokenizer), act::FormatError);
  CHECK_THROWS_WITH(parse(short_tokenizer), Contains("vocab_size is 512") && Contains("has 3 entries"));
}
