#pragma once
// Reads a Vocabulary from a GGUF file's tokenizer.ggml.* metadata. Absent optional keys take the
// defaults llama.cpp uses for the model kind: SPM ("llama") adds BOS and a space prefix and has
// BOS 1, EOS 2, UNK 0; byte-level BPE ("gpt2") adds neither and has no default special ids.
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "act/core/error.hpp"
#include "act/io/gguf.hpp"
#include "act/text/vocabulary.hpp"

namespace act::text {

namespace detail {

inline constexpr std::uint64_t gguf_no_token = 0xFFFFFFFF;

inline VocabKind vocab_kind_from_gguf(const io::GgufFile& file) {
  constexpr std::string_view key = "tokenizer.ggml.model";
  if (!file.has(key)) {
    throw FormatError(file.name() + ": no tokenizer metadata (" + std::string(key) + ")");
  }
  const std::string model = file.get_string(key);
  if (model == "llama") return VocabKind::spm;
  if (model == "gpt2") return VocabKind::bpe;
  throw UnsupportedError(file.name() + ": tokenizer model '" + model + "' is not supported (supported: llama, gpt2)");
}

inline std::int32_t special_id_from_gguf(const io::GgufFile& file, std::string_view key, std::int32_t fallback) {
  const std::optional<std::uint64_t> id = file.find_uint(key);
  if (!id) return fallback;
  if (*id == gguf_no_token) return no_token;
  if (*id > static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max())) {
    throw FormatError(file.name() + ": " + std::string(key) + " = " + std::to_string(*id) + " is not a token id");
  }
  return static_cast<std::int32_t>(*id);
}

inline std::vector<TokenType> token_types_from_gguf(const io::GgufFile& file) {
  constexpr std::string_view key = "tokenizer.ggml.token_type";
  std::vector<TokenType> types;
  if (!file.has(key)) return types;
  for (const std::int32_t value : file.get_int_array(key)) {
    if (value < 0 || value > static_cast<std::int32_t>(TokenType::byte)) {
      throw FormatError(file.name() + ": " + std::string(key) + " holds unknown type " + std::to_string(value));
    }
    types.push_back(static_cast<TokenType>(value));
  }
  return types;
}

}  // namespace detail

// Throws FormatError for missing or inconsistent metadata (naming the key) and UnsupportedError
// for a tokenizer model other than llama and gpt2.
inline Vocabulary from_gguf(const io::GgufFile& file) {
  Vocabulary vocab;
  vocab.kind = detail::vocab_kind_from_gguf(file);
  const bool spm = vocab.kind == VocabKind::spm;
  vocab.tokens = file.get_string_array("tokenizer.ggml.tokens");
  if (file.has("tokenizer.ggml.scores")) {
    vocab.scores = file.get_float_array("tokenizer.ggml.scores");
  }
  vocab.types = detail::token_types_from_gguf(file);
  if (!spm) vocab.merges = file.get_string_array("tokenizer.ggml.merges");
  vocab.pre_tokenizer = file.find_string("tokenizer.ggml.pre").value_or("default");
  vocab.bos = detail::special_id_from_gguf(file, "tokenizer.ggml.bos_token_id", spm ? 1 : no_token);
  vocab.eos = detail::special_id_from_gguf(file, "tokenizer.ggml.eos_token_id", spm ? 2 : no_token);
  vocab.unk = detail::special_id_from_gguf(file, "tokenizer.ggml.unknown_token_id", spm ? 0 : no_token);
  vocab.pad = detail::special_id_from_gguf(file, "tokenizer.ggml.padding_token_id", no_token);
  vocab.add_bos = file.find_bool("tokenizer.ggml.add_bos_token").value_or(spm);
  vocab.add_space_prefix = file.find_bool("tokenizer.ggml.add_space_prefix").value_or(spm);
  try {
    validate(vocab);
  } catch (const FormatError& e) {
    throw FormatError(file.name() + ": " + e.what());
  }
  return vocab;
}

}  // namespace act::text
