#pragma once
// The tokenizer description a GGUF file carries (tokenizer.ggml.*), as plain data. Build one by
// hand or with from_gguf (vocabulary_gguf.hpp); the Tokenizer validates it on construction.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "act/core/error.hpp"

namespace act::text {

// "No such token" for the optional special ids (GGUF writes it as 0xFFFFFFFF).
inline constexpr std::int32_t no_token = -1;

// tokenizer.ggml.model: "llama" (SentencePiece-style) or "gpt2" (byte-level BPE).
enum class VocabKind : std::uint8_t { spm, bpe };

// tokenizer.ggml.token_type; the values are SentencePiece's and llama.cpp's.
enum class TokenType : std::uint8_t {
  undefined = 0,
  normal = 1,
  unknown = 2,
  control = 3,
  user_defined = 4,
  unused = 5,
  byte = 6,
};

struct Vocabulary {
  VocabKind kind = VocabKind::bpe;
  std::string pre_tokenizer = "default";  // tokenizer.ggml.pre; BPE only
  std::vector<std::string> tokens;
  std::vector<float> scores;        // empty (all 0) or one per token; SPM merge priorities
  std::vector<TokenType> types;     // empty (all normal) or one per token
  std::vector<std::string> merges;  // BPE: "left right", highest priority first
  std::int32_t bos = no_token;
  std::int32_t eos = no_token;
  std::int32_t unk = no_token;  // SPM only: byte-level BPE drops what it cannot spell
  std::int32_t pad = no_token;
  bool add_bos = false;
  // SPM: prefix a space to the text (and to text after a special token), as SentencePiece's
  // dummy prefix does. Byte-level BPE ignores it, as llama.cpp does.
  bool add_space_prefix = false;

  std::size_t size() const noexcept { return tokens.size(); }
  TokenType type(std::int32_t id) const {
    return types.empty() ? TokenType::normal : types[static_cast<std::size_t>(id)];
  }
  float score(std::int32_t id) const { return scores.empty() ? 0.0f : scores[static_cast<std::size_t>(id)]; }
  bool contains(std::int32_t id) const noexcept { return id >= 0 && static_cast<std::size_t>(id) < tokens.size(); }
};

// Tokens written literally in the input (a chat template's <|im_start|>) that encode as
// themselves instead of being split: control, user-defined and unknown tokens, as llama.cpp
// matches them when parsing special tokens.
inline bool is_matched_literally(TokenType type) noexcept {
  return type == TokenType::control || type == TokenType::user_defined || type == TokenType::unknown;
}

// Byte tokens (TokenType::byte) spell one byte as <0xNN>, NN in upper-case hex.
inline std::string byte_token_text(std::uint8_t byte) {
  constexpr std::string_view hex = "0123456789ABCDEF";
  return std::string("<0x") + hex[byte >> 4] + hex[byte & 0xF] + '>';
}

// The byte a <0xNN> token stands for (either hex case); nullopt for other text.
inline std::optional<std::uint8_t> parse_byte_token(std::string_view text) {
  if (text.size() != 6 || !text.starts_with("<0x") || text.back() != '>') return std::nullopt;
  const auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  const int high = digit(text[3]);
  const int low = digit(text[4]);
  if (high < 0 || low < 0) return std::nullopt;
  return static_cast<std::uint8_t>(high * 16 + low);
}

// Throws FormatError when the per-token arrays disagree in size, a special id is out of range or
// add_bos has no BOS token to add.
inline void validate(const Vocabulary& vocab) {
  if (vocab.tokens.empty()) throw FormatError("vocabulary has no tokens");
  const auto check_size = [&vocab](std::size_t size, const char* what) {
    if (size != 0 && size != vocab.size()) {
      throw FormatError("vocabulary has " + std::to_string(vocab.size()) + " tokens but " + std::to_string(size) + " " +
                        what);
    }
  };
  check_size(vocab.scores.size(), "scores");
  check_size(vocab.types.size(), "token types");
  const auto check_id = [&vocab](std::int32_t id, const char* what) {
    if (id != no_token && !vocab.contains(id)) {
      throw FormatError(std::string(what) + " token id " + std::to_string(id) + " is outside the vocabulary of " +
                        std::to_string(vocab.size()));
    }
  };
  check_id(vocab.bos, "BOS");
  check_id(vocab.eos, "EOS");
  check_id(vocab.unk, "unknown");
  check_id(vocab.pad, "padding");
  if (vocab.add_bos && vocab.bos == no_token) {
    throw FormatError("vocabulary asks to add BOS but has no BOS token");
  }
}

}  // namespace act::text
