#pragma once
// Tokenizer built from a GGUF file's vocabulary: SentencePiece-style (llama) or byte-level BPE
// (gpt2), chosen by the vocabulary's kind.
//
// Special tokens: control, user-defined and unknown tokens written in the text (a chat template's
// <|im_start|>, SPM's <s>) encode as themselves, found left to right before any other processing;
// where two start at one position the longer wins (HF tokenizers' rule; llama.cpp carves longer
// tokens out first, which differs only for special tokens overlapping each other). Their text is
// what they decode to.
//
// Round trip: decode(encode(s, false)) == s for every byte string, except that byte-level BPE
// drops the bytes its vocabulary cannot spell (see bpe_tokenizer.hpp), and SPM turns a "▁" written
// in the input into a space and, without byte tokens, spells unknown characters as <unk>.
// encode and decode are const and keep no state between calls, so one Tokenizer can serve
// several threads.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "act/core/error.hpp"
#include "act/io/gguf.hpp"
#include "act/text/bpe_tokenizer.hpp"
#include "act/text/spm_tokenizer.hpp"
#include "act/text/vocabulary.hpp"
#include "act/text/vocabulary_gguf.hpp"

namespace act::text {

namespace detail {

// A piece of the input: plain text, or one special token written in it.
struct Fragment {
  std::string_view text;
  std::int32_t special = no_token;
};

class SpecialTokenSplitter {
 public:
  explicit SpecialTokenSplitter(const Vocabulary& vocab) {
    for (std::size_t i = 0; i < vocab.size(); ++i) {
      const auto id = static_cast<std::int32_t>(i);
      const std::string& text = vocab.tokens[i];
      if (text.empty() || !is_matched_literally(vocab.type(id))) continue;
      by_first_byte_[static_cast<unsigned char>(text[0])].push_back({text, id});
    }
    for (auto& candidates : by_first_byte_) {
      std::stable_sort(candidates.begin(), candidates.end(),
                       [](const Literal& a, const Literal& b) { return a.text.size() > b.text.size(); });
    }
  }

  std::vector<Fragment> split(std::string_view text) const {
    std::vector<Fragment> fragments;
    std::size_t text_begin = 0;
    for (std::size_t pos = 0; pos < text.size();) {
      const Literal* literal = longest_at(text, pos);
      if (literal == nullptr) {
        ++pos;
        continue;
      }
      if (pos > text_begin) fragments.push_back({text.substr(text_begin, pos - text_begin)});
      fragments.push_back({{}, literal->id});
      pos += literal->text.size();
      text_begin = pos;
    }
    if (text_begin < text.size()) fragments.push_back({text.substr(text_begin)});
    return fragments;
  }

 private:
  struct Literal {
    std::string text;
    std::int32_t id;
  };

  const Literal* longest_at(std::string_view text, std::size_t pos) const {
    const std::string_view rest = text.substr(pos);
    for (const Literal& literal : by_first_byte_[static_cast<unsigned char>(rest[0])]) {
      if (rest.starts_with(literal.text)) return &literal;
    }
    return nullptr;
  }

  std::array<std::vector<Literal>, 256> by_first_byte_;
};

}  // namespace detail

// How encode() treats special tokens written in the text: as the tokens (a chat template the
// program builds) or as plain text (what a user typed).
enum class SpecialTokens { parse, as_text };

class Tokenizer {
 public:
  // Throws what from_gguf (vocabulary_gguf.hpp) and the constructor throw.
  static Tokenizer from_gguf(const io::GgufFile& file) { return Tokenizer(text::from_gguf(file)); }

  // Throws FormatError for an inconsistent vocabulary (see validate, BpeTokenizer, SpmTokenizer
  // and byte tokens not spelled <0xNN>) and UnsupportedError for an unknown BPE pre-tokenizer.
  explicit Tokenizer(Vocabulary vocab)
      : model_(make_model(vocab)),
        specials_(vocab),
        bos_(vocab.bos),
        eos_(vocab.eos),
        add_bos_(vocab.add_bos),
        strip_space_prefix_(vocab.kind == VocabKind::spm && vocab.add_space_prefix) {
    token_texts_.reserve(vocab.size());
    types_.reserve(vocab.size());
    for (std::size_t i = 0; i < vocab.size(); ++i) {
      const auto id = static_cast<std::int32_t>(i);
      token_texts_.push_back(token_bytes(vocab, id));
      types_.push_back(vocab.type(id));
    }
  }

  // The token ids of `text` (any bytes). BOS goes first when add_bos is true and the vocabulary
  // asks for it (tokenizer.ggml.add_bos_token; SmolLM2 does not). With SpecialTokens::as_text,
  // special tokens written in the text are spelt as ordinary text: what untrusted user text in a
  // chat turn needs, so that typing "<|im_end|>" cannot close the turn.
  std::vector<std::int32_t> encode(std::string_view text, bool add_bos,
                                   SpecialTokens specials = SpecialTokens::parse) const {
    std::vector<std::int32_t> ids;
    ids.reserve(text.size() / 3 + 2);
    if (add_bos && add_bos_) ids.push_back(bos_);
    if (specials == SpecialTokens::as_text) {
      if (!text.empty()) encode_fragment(text, true, ids);
      return ids;
    }
    bool starts_segment = true;
    for (const detail::Fragment& fragment : specials_.split(text)) {
      if (fragment.special != no_token) {
        ids.push_back(fragment.special);
        starts_segment = true;
      } else {
        encode_fragment(fragment.text, starts_segment, ids);
        starts_segment = false;
      }
    }
    return ids;
  }

  // The concatenated bytes of the tokens. SPM drops the space prefix encode adds at the start
  // and after special tokens. Throws act::Error for an id outside the vocabulary.
  std::string decode(std::span<const std::int32_t> ids) const {
    std::string text;
    bool starts_segment = true;
    for (const std::int32_t id : ids) {
      const std::size_t index = index_of(id);
      std::string_view piece = token_texts_[index];
      const bool literal = is_matched_literally(types_[index]);
      if (strip_space_prefix_ && starts_segment && !literal && piece.starts_with(' ')) {
        piece.remove_prefix(1);
      }
      text += piece;
      starts_segment = literal;
    }
    return text;
  }

  // The bytes of one token as it appears inside a text (SPM's "▁" is a space, kept even at the
  // start); special tokens give their text. Throws act::Error for an id outside the vocabulary.
  std::string token_text(std::int32_t id) const { return token_texts_[index_of(id)]; }

  std::int32_t bos() const noexcept { return bos_; }  // no_token when the vocabulary has none
  std::int32_t eos() const noexcept { return eos_; }
  std::size_t size() const noexcept { return token_texts_.size(); }

  // Control and unknown tokens (BOS, EOS, <|im_start|>, <unk>); false outside the vocabulary.
  bool is_special(std::int32_t id) const noexcept {
    if (id < 0 || static_cast<std::size_t>(id) >= size()) return false;
    const TokenType type = types_[static_cast<std::size_t>(id)];
    return type == TokenType::control || type == TokenType::unknown;
  }

 private:
  static std::variant<SpmTokenizer, BpeTokenizer> make_model(const Vocabulary& vocab) {
    validate(vocab);
    if (vocab.kind == VocabKind::spm) return SpmTokenizer(vocab);
    return BpeTokenizer(vocab);
  }

  static std::string token_bytes(const Vocabulary& vocab, std::int32_t id) {
    const std::string& text = vocab.tokens[static_cast<std::size_t>(id)];
    const TokenType type = vocab.type(id);
    if (is_matched_literally(type)) return text;
    if (type == TokenType::byte) {
      const auto byte = parse_byte_token(text);
      if (!byte) {
        throw FormatError("byte token " + std::to_string(id) + " '" + text + "' is not <0xNN>");
      }
      return std::string(1, static_cast<char>(*byte));
    }
    return vocab.kind == VocabKind::spm ? decode_spm_piece(text) : decode_byte_level(text);
  }

  std::size_t index_of(std::int32_t id) const {
    if (id < 0 || static_cast<std::size_t>(id) >= size()) {
      throw Error("token id " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(size()));
    }
    return static_cast<std::size_t>(id);
  }

  void encode_fragment(std::string_view text, bool starts_segment, std::vector<std::int32_t>& out) const {
    if (const auto* spm = std::get_if<SpmTokenizer>(&model_)) {
      spm->encode(text, starts_segment, out);
    } else {
      std::get<BpeTokenizer>(model_).encode(text, out);
    }
  }

  std::variant<SpmTokenizer, BpeTokenizer> model_;
  detail::SpecialTokenSplitter specials_;
  std::int32_t bos_;
  std::int32_t eos_;
  bool add_bos_;
  bool strip_space_prefix_;
  std::vector<std::string> token_texts_;
  std::vector<TokenType> types_;
};

}  // namespace act::text
