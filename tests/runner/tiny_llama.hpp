#pragma once
// A complete llama GGUF small enough to build in memory: one layer of width 32, 4 query heads over
// 2 KV heads, SwiGLU width 64, a SentencePiece vocabulary with byte fallback and random weights.
// The runner tests break it one way at a time; the fuzz seeds start from it.
#include <act/io/ggml_types.hpp>
#include <act/text/vocabulary.hpp>

#include "../io/gguf_builder.hpp"
#include "../text/test_vocabularies.hpp"

#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace act::testing {

// Writes `vocab` as the tokenizer.ggml.* metadata from_gguf (vocabulary_gguf.hpp) reads back.
inline void add_vocabulary(GgufBuilder& b, const text::Vocabulary& vocab) {
  std::vector<std::uint64_t> types, scores;
  for (const text::TokenType type : vocab.types) types.push_back(static_cast<std::uint64_t>(type));
  for (const float score : vocab.scores) scores.push_back(std::bit_cast<std::uint32_t>(score));
  b.string("tokenizer.ggml.model", vocab.kind == text::VocabKind::spm ? "llama" : "gpt2");
  b.string_array("tokenizer.ggml.tokens", vocab.tokens);
  if (!types.empty()) b.scalar_array("tokenizer.ggml.token_type", value_type::i32, 4, types);
  if (!scores.empty()) b.scalar_array("tokenizer.ggml.scores", value_type::f32, 4, scores);
  if (vocab.kind == text::VocabKind::bpe) {
    b.string_array("tokenizer.ggml.merges", vocab.merges).string("tokenizer.ggml.pre", vocab.pre_tokenizer);
  }
  for (const auto& [key, id] : {std::pair{"bos", vocab.bos}, {"eos", vocab.eos}, {"unknown", vocab.unk}}) {
    if (id != text::no_token) b.u32(std::string("tokenizer.ggml.") + key + "_token_id", static_cast<std::uint32_t>(id));
  }
  b.scalar("tokenizer.ggml.add_bos_token", value_type::boolean, std::uint8_t{vocab.add_bos});
  b.scalar("tokenizer.ggml.add_space_prefix", value_type::boolean, std::uint8_t{vocab.add_space_prefix});
}

struct TinyLlama {
  static constexpr std::uint32_t width = 32, heads = 4, kv_heads = 2, ffn_width = 64, context = 64;

  std::string architecture = "llama";
  // ggml type id of every matrix (norms stay F32). F32 (0) holds small random values; a block
  // type holds random bytes, so its scales may decode to NaN or inf.
  std::uint32_t matrix_type = 0;
  // F32 only: a NaN in the last row of token_embd, which doubles as the output matrix, so the
  // logit of the last token is NaN (as a corrupt output.weight row would make it).
  bool nan_logit = false;
  // A tensor of a second layer while block_count says 1 (a damaged or hand-edited header).
  bool extra_block = false;

  static text::Vocabulary vocabulary() {
    return spm_vocab({{"\xE2\x96\x81", -1.0f},
                      {"\xE2\x96\x81the", -2.0f},
                      {"\xE2\x96\x81"
                       "a",
                       -3.0f},
                      {"\xE2\x96\x81"
                       "cat",
                       -4.0f},
                      {"Once", -5.0f},
                      {"\xE2\x96\x81upon", -6.0f},
                      {"\xE2\x96\x81time", -7.0f},
                      {"e", -8.0f},
                      {"t", -9.0f}});
  }

  Bytes build() const {
    const text::Vocabulary vocab = vocabulary();
    GgufBuilder b;
    b.string("general.architecture", architecture).string("general.name", "tiny-llama");
    for (const auto& [key, value] : {std::pair{"block_count", 1u},
                                     {"embedding_length", width},
                                     {"feed_forward_length", ffn_width},
                                     {"attention.head_count", heads},
                                     {"attention.head_count_kv", kv_heads},
                                     {"context_length", context}})
      b.u32(architecture + "." + key, value);
    b.f32(architecture + ".attention.layer_norm_rms_epsilon", 1e-5f);
    add_vocabulary(b, vocab);
    std::mt19937 rng(7);
    const auto matrix = [&](const char* name, std::uint64_t rows, std::uint64_t cols) {
      Bytes data = random_data(matrix_type, rows * cols, rng);
      if (nan_logit && std::string_view(name) == "token_embd.weight") {
        const float nan = std::numeric_limits<float>::quiet_NaN();
        std::memcpy(data.data() + (rows - 1) * cols * sizeof(float), &nan, sizeof nan);
      }
      b.tensor({name, matrix_type, {cols, rows}, std::move(data), std::nullopt});
    };
    const auto norm = [&](const char* name) { b.tensor({name, 0, {width}, random_data(0, width, rng), std::nullopt}); };
    const std::uint64_t kv_width = kv_heads * width / heads;
    matrix("token_embd.weight", vocab.size(), width);
    norm("output_norm.weight");
    norm("blk.0.attn_norm.weight");
    matrix("blk.0.attn_q.weight", width, width);
    matrix("blk.0.attn_k.weight", kv_width, width);
    matrix("blk.0.attn_v.weight", kv_width, width);
    matrix("blk.0.attn_output.weight", width, width);
    norm("blk.0.ffn_norm.weight");
    matrix("blk.0.ffn_gate.weight", ffn_width, width);
    matrix("blk.0.ffn_up.weight", ffn_width, width);
    matrix("blk.0.ffn_down.weight", width, ffn_width);
    if (extra_block) norm("blk.1.attn_norm.weight");
    return b.build();
  }

 private:
  static Bytes random_data(std::uint32_t type_id, std::uint64_t elements, std::mt19937& rng) {
    Bytes data;
    if (type_id == 0) {
      std::uniform_real_distribution<float> value(-0.2f, 0.2f);
      for (std::uint64_t i = 0; i < elements; ++i) put_f32(data, value(rng));
      return data;
    }
    const io::GgmlTypeTraits traits = io::type_traits(static_cast<io::GgmlType>(type_id));
    data.resize(elements / traits.block_size * traits.block_bytes);
    for (std::byte& byte : data) byte = static_cast<std::byte>(rng() & 0xFF);
    return data;
  }
};

}  // namespace act::testing
