#pragma once
// Small hand-made vocabularies for the tokenizer tests, with ids easy to predict.
#include <act/text/bpe_tokenizer.hpp>
#include <act/text/spm_tokenizer.hpp>
#include <act/text/utf8.hpp>
#include <act/text/vocabulary.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace act::testing {

// The byte-level spelling of `bytes`: "a b" -> "aĠb".
inline std::string byte_level(std::string_view bytes) {
  std::string spelled;
  for (const char c : bytes) text::append_utf8(spelled, text::byte_stand_in(static_cast<std::uint8_t>(c)));
  return spelled;
}

// Byte-level BPE: ids 0..255 spell the bytes 0..255, then one token per merge (its result, in
// merge order), then `controls` as control tokens. Merges are written in plain bytes ("h e") and
// stored in the byte-level spelling.
inline text::Vocabulary byte_level_vocab(const std::vector<std::pair<std::string, std::string>>& merges,
                                         const std::vector<std::string>& controls = {}) {
  text::Vocabulary vocab;
  vocab.kind = text::VocabKind::bpe;
  vocab.pre_tokenizer = "gpt2";
  for (unsigned byte = 0; byte < 256; ++byte)
    vocab.tokens.push_back(byte_level(std::string(1, static_cast<char>(byte))));
  for (const auto& [left, right] : merges) {
    vocab.tokens.push_back(byte_level(left + right));
    vocab.merges.push_back(byte_level(left) + " " + byte_level(right));
  }
  vocab.types.assign(vocab.tokens.size(), text::TokenType::normal);
  for (const std::string& control : controls) {
    vocab.tokens.push_back(control);
    vocab.types.push_back(text::TokenType::control);
  }
  return vocab;
}

// SPM: 0 <unk>, 1 <s>, 2 </s>, then (with byte fallback) the 256 byte tokens <0x00>.. at ids
// 3..258, then the normal pieces with their scores. BOS is added and spaces are prefixed.
inline text::Vocabulary spm_vocab(const std::vector<std::pair<std::string, float>>& pieces, bool byte_fallback = true) {
  using text::TokenType;
  text::Vocabulary vocab;
  vocab.kind = text::VocabKind::spm;
  vocab.tokens = {"<unk>", "<s>", "</s>"};
  vocab.types = {TokenType::unknown, TokenType::control, TokenType::control};
  if (byte_fallback) {
    for (unsigned byte = 0; byte < 256; ++byte) {
      vocab.tokens.push_back(text::byte_token_text(static_cast<std::uint8_t>(byte)));
      vocab.types.push_back(TokenType::byte);
    }
  }
  vocab.scores.assign(vocab.tokens.size(), 0.0f);
  for (const auto& [piece, score] : pieces) {
    vocab.tokens.push_back(piece);
    vocab.types.push_back(TokenType::normal);
    vocab.scores.push_back(score);
  }
  vocab.unk = 0;
  vocab.bos = 1;
  vocab.eos = 2;
  vocab.add_bos = true;
  vocab.add_space_prefix = true;
  return vocab;
}

// The smallest SPM vocabulary with a space prefix: "▁", "a", "b", "▁a", "▁b".
inline text::Vocabulary spm_ab_vocab() {
  const std::string space = "\xE2\x96\x81";
  return spm_vocab({{space, -5}, {"a", -1}, {"b", -1}, {space + "a", 0}, {space + "b", 0}});
}

// Id of `piece` in a vocabulary built by spm_vocab or byte_level_vocab.
inline std::int32_t id_of(const text::Vocabulary& vocab, std::string_view piece) {
  for (std::size_t i = 0; i < vocab.tokens.size(); ++i) {
    if (vocab.tokens[i] == piece) return static_cast<std::int32_t>(i);
  }
  return text::no_token;
}

}  // namespace act::testing
