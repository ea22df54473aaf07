#pragma once
// SentencePiece-style tokenization of llama vocabularies (tokenizer.ggml.model = "llama"), as
// SentencePiece's BPE model and llama.cpp's SPM tokenizer do it.
//
// Encoding a text fragment (special tokens are split off before, by the Tokenizer):
//  1. Spaces become U+2581 "▁"; with add_space_prefix a "▁" goes in front of a fragment that
//     starts the text or follows a special token (SentencePiece's dummy prefix).
//  2. The fragment splits into characters; bytes that are not valid UTF-8 are characters of
//     their own.
//  3. The adjacent pair whose concatenation is the highest-scoring normal token merges first
//     (leftmost on ties), until no pair concatenates to a normal token.
//  4. A symbol that is not a token is spelled with byte tokens <0xNN> when the vocabulary has all
//     256 of them (byte fallback), and becomes the unknown token otherwise.
//
// Decoding turns "▁" back into spaces and byte tokens into their bytes; the Tokenizer removes the
// prefix space. decode(encode(s)) == s for every byte string when the vocabulary has byte
// fallback, except that a "▁" written in the input comes back as a space.
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "act/core/error.hpp"
#include "act/text/utf8.hpp"
#include "act/text/vocabulary.hpp"

namespace act::text {

inline constexpr std::string_view spm_space = "\xE2\x96\x81";  // U+2581, SentencePiece's space

// The bytes a normal SPM token spells: "▁" becomes a space.
inline std::string decode_spm_piece(std::string_view piece) {
  std::string bytes;
  bytes.reserve(piece.size());
  for (std::size_t offset = 0; offset < piece.size();) {
    if (piece.substr(offset).starts_with(spm_space)) {
      bytes.push_back(' ');
      offset += spm_space.size();
    } else {
      bytes.push_back(piece[offset++]);
    }
  }
  return bytes;
}

class SpmTokenizer {
 public:
  // Throws FormatError for a NaN score or a vocabulary that has neither byte fallback nor an
  // unknown token.
  explicit SpmTokenizer(const Vocabulary& vocab) : unk_(vocab.unk), add_space_prefix_(vocab.add_space_prefix) {
    index_pieces(vocab);
    index_byte_tokens(vocab);
  }

  // Appends the ids of `text`, which holds no special tokens. `starts_segment`: the text starts
  // the input or follows a special token, where the space prefix goes.
  void encode(std::string_view text, bool starts_segment, std::vector<std::int32_t>& out) const {
    const std::string escaped = escape_spaces(text, add_space_prefix_ && starts_segment);
    std::vector<Symbol> symbols = split_chars(escaped);
    merge_symbols(escaped, symbols);
    for (std::int32_t i = symbols.empty() ? end_of_list : 0; i != end_of_list;) {
      const Symbol& symbol = symbols[static_cast<std::size_t>(i)];
      emit_symbol(std::string_view(escaped).substr(symbol.offset, symbol.length), out);
      i = symbol.next;
    }
  }

 private:
  static constexpr std::int32_t end_of_list = -1;

  struct Piece {
    std::int32_t id;
    float score;
  };
  struct Symbol {
    std::size_t offset;  // into the escaped text
    std::size_t length;  // 0 once merged into its left neighbour
    std::int32_t prev;
    std::int32_t next;
  };
  // A neighbour pair whose concatenation is a piece; stale once either side has changed length.
  struct Bigram {
    float score;
    std::int32_t left;
    std::int32_t right;
    std::size_t length;
    // Max-heap order: highest score, then leftmost.
    bool operator<(const Bigram& other) const noexcept {
      return score != other.score ? score < other.score : left > other.left;
    }
  };
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const noexcept { return std::hash<std::string_view>{}(text); }
  };

  void index_pieces(const Vocabulary& vocab) {
    for (std::size_t i = 0; i < vocab.size(); ++i) {
      const auto id = static_cast<std::int32_t>(i);
      const float score = vocab.score(id);
      if (std::isnan(score)) throw FormatError("token " + std::to_string(id) + " has a NaN score");
      if (vocab.type(id) == TokenType::normal) {
        pieces_.insert_or_assign(vocab.tokens[i], Piece{id, score});
      }
    }
  }

  void index_byte_tokens(const Vocabulary& vocab) {
    std::unordered_map<std::string_view, std::int32_t> byte_ids;
    for (std::size_t i = 0; i < vocab.size(); ++i) {
      if (vocab.type(static_cast<std::int32_t>(i)) == TokenType::byte) {
        byte_ids.try_emplace(vocab.tokens[i], static_cast<std::int32_t>(i));
      }
    }
    byte_fallback_ = true;
    for (unsigned byte = 0; byte < 256; ++byte) {
      const auto it = byte_ids.find(byte_token_text(static_cast<std::uint8_t>(byte)));
      byte_tokens_[byte] = it == byte_ids.end() ? no_token : it->second;
      byte_fallback_ = byte_fallback_ && it != byte_ids.end();
    }
    if (!byte_fallback_ && unk_ == no_token) {
      throw FormatError("SPM vocabulary has neither all 256 byte tokens nor an unknown token");
    }
  }

  static std::string escape_spaces(std::string_view text, bool prefix_space) {
    std::string escaped;
    escaped.reserve(text.size() + spm_space.size());
    if (prefix_space) escaped += spm_space;
    for (const char c : text) {
      if (c == ' ') {
        escaped += spm_space;
      } else {
        escaped.push_back(c);
      }
    }
    return escaped;
  }

  static std::vector<Symbol> split_chars(std::string_view text) {
    std::vector<Symbol> symbols;
    for (std::size_t offset = 0; offset < text.size();) {
      const std::size_t length = decode_utf8(text, offset).length;
      const auto index = static_cast<std::int32_t>(symbols.size());
      symbols.push_back({offset, length, index - 1, index + 1});
      offset += length;
    }
    if (!symbols.empty()) symbols.back().next = end_of_list;
    return symbols;
  }

  void queue_bigram(std::string_view text, const std::vector<Symbol>& symbols, std::int32_t left,
                    std::priority_queue<Bigram>& queue) const {
    if (left == end_of_list) return;
    const Symbol& first = symbols[static_cast<std::size_t>(left)];
    if (first.next == end_of_list) return;
    const std::size_t length = first.length + symbols[static_cast<std::size_t>(first.next)].length;
    const auto it = pieces_.find(text.substr(first.offset, length));
    if (it == pieces_.end()) return;
    queue.push({it->second.score, left, first.next, length});
  }

  void merge_symbols(std::string_view text, std::vector<Symbol>& symbols) const {
    std::priority_queue<Bigram> queue;
    for (std::int32_t i = 0; i + 1 < static_cast<std::int32_t>(symbols.size()); ++i) {
      queue_bigram(text, symbols, i, queue);
    }
    while (!queue.empty()) {
      const Bigram bigram = queue.top();
      queue.pop();
      Symbol& left = symbols[static_cast<std::size_t>(bigram.left)];
      Symbol& right = symbols[static_cast<std::size_t>(bigram.right)];
      if (left.next != bigram.right || left.length + right.length != bigram.length) continue;
      left.length = bigram.length;
      left.next = right.next;
      if (right.next != end_of_list) {
        symbols[static_cast<std::size_t>(right.next)].prev = bigram.left;
      }
      right.length = 0;
      right.next = end_of_list;
      queue_bigram(text, symbols, left.prev, queue);
      queue_bigram(text, symbols, bigram.left, queue);
    }
  }

  void emit_symbol(std::string_view symbol, std::vector<std::int32_t>& out) const {
    if (const auto it = pieces_.find(symbol); it != pieces_.end()) {
      out.push_back(it->second.id);
    } else if (byte_fallback_) {
      for (const char c : symbol) out.push_back(byte_tokens_[static_cast<unsigned char>(c)]);
    } else {
      out.push_back(unk_);
    }
  }

  std::int32_t unk_;
  bool add_space_prefix_;
  bool byte_fallback_ = false;
  std::unordered_map<std::string, Piece, StringHash, std::equal_to<>> pieces_;
  std::array<std::int32_t, 256> byte_tokens_{};
};

}  // namespace act::text
