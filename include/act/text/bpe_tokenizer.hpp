#pragma once
// GPT-2 style byte-level BPE, as GGUF files with tokenizer.ggml.model = "gpt2" describe it.
//
// Encoding a text fragment (special tokens are split off before, by the Tokenizer):
//  1. The pre-tokenizer named by tokenizer.ggml.pre cuts the bytes into words.
//  2. Each byte of a word stands for the vocabulary token spelling it in the byte-level alphabet
//     (GPT-2's printable stand-ins: bytes that are printable Latin-1 are themselves, the others
//     are shifted to U+0100 and up), so every byte string is representable.
//  3. Adjacent symbols merge by merge rank (lowest first, leftmost on ties) until no pair has a
//     merge rule.
// Decoding maps each character of a token back to its byte, so decode(encode(s)) == s for every
// byte string, valid UTF-8 or not, when the vocabulary spells all 256 bytes. A byte whose
// stand-in is not a token is dropped before merging, as HF tokenizers' BPE does (so its
// neighbours may merge; llama.cpp drops it after merging instead). SmolLM2 cannot spell 21 bytes:
// 0x04 0x06 0x13 0x14 0x16 0x1D 0xC0 0xC1 0xF1 0xF2 0xF5..0xFF. The unknown token is not used:
// byte-level vocabularies make it a document separator (SmolLM2's is <|endoftext|>).
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "act/core/error.hpp"
#include "act/text/unicode_categories.hpp"
#include "act/text/utf8.hpp"
#include "act/text/vocabulary.hpp"

namespace act::text {

// ---- byte-level alphabet ----

namespace detail {

constexpr bool is_printable_latin1(unsigned byte) noexcept {
  return (byte >= 0x21 && byte <= 0x7E) || (byte >= 0xA1 && byte <= 0xAC) || byte >= 0xAE;
}

inline constexpr std::array<char32_t, 256> byte_stand_ins = [] {
  std::array<char32_t, 256> stand_ins{};
  char32_t next_shifted = 0x100;
  for (unsigned byte = 0; byte < 256; ++byte) {
    stand_ins[byte] = is_printable_latin1(byte) ? byte : next_shifted++;
  }
  return stand_ins;
}();

// Inverse of byte_stand_ins; stand-ins are all below U+0144.
inline constexpr std::size_t stand_in_limit = 0x144;
inline constexpr std::array<std::int16_t, stand_in_limit> stand_in_bytes = [] {
  std::array<std::int16_t, stand_in_limit> bytes{};
  bytes.fill(-1);
  for (unsigned byte = 0; byte < 256; ++byte) {
    bytes[byte_stand_ins[byte]] = static_cast<std::int16_t>(byte);
  }
  return bytes;
}();

}  // namespace detail

// The character that spells `byte` in byte-level BPE vocabularies ('A' -> 'A', ' ' -> 'Ġ').
constexpr char32_t byte_stand_in(std::uint8_t byte) noexcept { return detail::byte_stand_ins[byte]; }

// The byte a byte-level character stands for; nullopt for characters outside the alphabet.
constexpr std::optional<std::uint8_t> stand_in_byte(char32_t code_point) noexcept {
  if (code_point >= detail::stand_in_limit || detail::stand_in_bytes[code_point] < 0) {
    return std::nullopt;
  }
  return static_cast<std::uint8_t>(detail::stand_in_bytes[code_point]);
}

// The bytes a byte-level token spells. Characters outside the alphabet (not produced by GPT-2
// style vocabularies) are kept as their UTF-8 bytes.
inline std::string decode_byte_level(std::string_view token) {
  std::string bytes;
  for (std::size_t offset = 0; offset < token.size();) {
    const Utf8Char c = decode_utf8(token, offset);
    const auto byte = c.valid ? stand_in_byte(c.code_point) : std::nullopt;
    if (byte) {
      bytes.push_back(static_cast<char>(*byte));
    } else {
      bytes.append(token.substr(offset, c.length));
    }
    offset += c.length;
  }
  return bytes;
}

// ---- pre-tokenizers ----

// gpt2: GPT-2's split regex
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// smollm: every number character (\p{N}) is a word of its own, and the gpt2 split runs on the
// text between them (SmolLM2's tokenizer.json: Digits(individual_digits) then ByteLevel).
// Bytes that are not valid UTF-8 count as [^\s\p{L}\p{N}] characters.
enum class PreTokenizer : std::uint8_t { gpt2, smollm };

// "gpt2" and "default" (also what a GGUF without tokenizer.ggml.pre gets) select gpt2.
inline PreTokenizer pre_tokenizer_from_name(std::string_view name) {
  if (name == "gpt2" || name == "default") return PreTokenizer::gpt2;
  if (name == "smollm") return PreTokenizer::smollm;
  throw UnsupportedError("BPE pre-tokenizer '" + std::string(name) +
                         "' is not supported (supported: gpt2, default, smollm)");
}

namespace detail {

struct ClassifiedChar {
  std::size_t offset;
  char32_t code_point;
  CharClass char_class;
};

inline std::vector<ClassifiedChar> classify_chars(std::string_view text) {
  std::vector<ClassifiedChar> chars;
  chars.reserve(text.size());
  for (std::size_t offset = 0; offset < text.size();) {
    const Utf8Char c = decode_utf8(text, offset);
    chars.push_back({offset, c.code_point, c.valid ? char_class(c.code_point) : CharClass::other});
    offset += c.length;
  }
  return chars;
}

// Length of the contraction ('s 't 'm 'd 're 've 'll) at chars[i], or 0.
inline std::size_t contraction_length(const std::vector<ClassifiedChar>& chars, std::size_t i, std::size_t end) {
  if (chars[i].code_point != U'\'' || i + 1 >= end) return 0;
  const char32_t first = chars[i + 1].code_point;
  if (first == U's' || first == U't' || first == U'm' || first == U'd') return 2;
  if (i + 2 >= end) return 0;
  const char32_t second = chars[i + 2].code_point;
  const bool two_letters =
      (first == U'r' && second == U'e') || (first == U'v' && second == U'e') || (first == U'l' && second == U'l');
  return two_letters ? 3 : 0;
}

// End of the GPT-2 regex match starting at chars[i], for a piece ending at chars[end].
inline std::size_t gpt2_word_end(const std::vector<ClassifiedChar>& chars, std::size_t i, std::size_t end) {
  if (const std::size_t length = contraction_length(chars, i, end)) return i + length;
  // " ?X+": one leading space joins a following run of letters, numbers or other characters.
  const bool space_joins =
      chars[i].code_point == U' ' && i + 1 < end && chars[i + 1].char_class != CharClass::whitespace;
  const std::size_t run_begin = space_joins ? i + 1 : i;
  const CharClass run_class = chars[run_begin].char_class;
  std::size_t run_end = run_begin + 1;
  while (run_end < end && chars[run_end].char_class == run_class) ++run_end;
  if (run_class != CharClass::whitespace || run_end == end) return run_end;
  // "\s+(?!\S)": a whitespace run followed by text leaves its last character to the next word.
  return run_end - i >= 2 ? run_end - 1 : run_end;
}

inline void gpt2_split(std::string_view text, const std::vector<ClassifiedChar>& chars, std::size_t begin,
                       std::size_t end, std::vector<std::string_view>& words) {
  const auto offset_of = [&](std::size_t i) { return i < chars.size() ? chars[i].offset : text.size(); };
  for (std::size_t i = begin; i < end;) {
    const std::size_t word_end = gpt2_word_end(chars, i, end);
    words.push_back(text.substr(chars[i].offset, offset_of(word_end) - chars[i].offset));
    i = word_end;
  }
}

}  // namespace detail

// The words `text` splits into; they are consecutive views covering all of `text`.
inline std::vector<std::string_view> pre_tokenize(PreTokenizer kind, std::string_view text) {
  const std::vector<detail::ClassifiedChar> chars = detail::classify_chars(text);
  std::vector<std::string_view> words;
  if (kind == PreTokenizer::gpt2) {
    detail::gpt2_split(text, chars, 0, chars.size(), words);
    return words;
  }
  std::size_t segment_begin = 0;
  for (std::size_t i = 0; i < chars.size(); ++i) {
    if (chars[i].char_class != CharClass::number) continue;
    detail::gpt2_split(text, chars, segment_begin, i, words);
    detail::gpt2_split(text, chars, i, i + 1, words);
    segment_begin = i + 1;
  }
  detail::gpt2_split(text, chars, segment_begin, chars.size(), words);
  return words;
}

// ---- BPE merging ----

class BpeTokenizer {
 public:
  // Throws FormatError for a malformed merge list, UnsupportedError for an unknown pre-tokenizer.
  explicit BpeTokenizer(const Vocabulary& vocab) : pre_tokenizer_(pre_tokenizer_from_name(vocab.pre_tokenizer)) {
    const std::unordered_map<std::string_view, std::int32_t> ids = index_tokens(vocab);
    index_bytes(ids);
    index_merges(vocab, ids);
  }

  // Appends the ids of `text`, which holds no special tokens.
  void encode(std::string_view text, std::vector<std::int32_t>& out) const {
    MergeScratch scratch;
    for (const std::string_view word : pre_tokenize(pre_tokenizer_, text)) {
      for (std::int32_t i = merge_word(word, scratch); i != end_of_list;) {
        const Symbol& symbol = scratch.symbols[static_cast<std::size_t>(i)];
        out.push_back(symbol.id);
        i = symbol.next;
      }
    }
  }

 private:
  static constexpr std::int32_t end_of_list = -1;

  struct MergeRule {
    std::int32_t rank;
    std::int32_t result;
  };
  // A symbol of the word being merged.
  struct Symbol {
    std::int32_t id;
    std::int32_t prev;
    std::int32_t next;
  };
  // A mergeable neighbour pair as it was when queued; stale once either side has changed.
  struct Candidate {
    std::int32_t rank;
    std::int32_t left;
    std::int32_t right;
    std::int32_t left_id;
    std::int32_t right_id;
    std::int32_t result;
    // Min-heap order: lowest rank, then leftmost.
    bool operator<(const Candidate& other) const noexcept {
      return rank != other.rank ? rank > other.rank : left > other.left;
    }
  };
  struct MergeScratch {
    std::vector<Symbol> symbols;
    std::priority_queue<Candidate> queue;
  };

  static std::uint64_t pair_key(std::int32_t left, std::int32_t right) noexcept {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(left)) << 32) | static_cast<std::uint32_t>(right);
  }

  // Text -> id; a repeated spelling maps to its last id, as in llama.cpp and HF tokenizers.
  static std::unordered_map<std::string_view, std::int32_t> index_tokens(const Vocabulary& vocab) {
    std::unordered_map<std::string_view, std::int32_t> ids;
    ids.reserve(vocab.size());
    for (std::size_t id = 0; id < vocab.size(); ++id) {
      ids.insert_or_assign(std::string_view(vocab.tokens[id]), static_cast<std::int32_t>(id));
    }
    return ids;
  }

  void index_bytes(const std::unordered_map<std::string_view, std::int32_t>& ids) {
    for (unsigned byte = 0; byte < 256; ++byte) {
      const auto it = ids.find(encode_utf8(byte_stand_in(static_cast<std::uint8_t>(byte))));
      byte_tokens_[byte] = it == ids.end() ? no_token : it->second;
    }
  }

  void index_merges(const Vocabulary& vocab, const std::unordered_map<std::string_view, std::int32_t>& ids) {
    if (vocab.merges.empty()) throw FormatError("byte-level BPE vocabulary has no merges");
    merges_.reserve(vocab.merges.size());
    const auto id_of = [&ids](std::string_view text, std::size_t rank, std::string_view merge) {
      const auto it = ids.find(text);
      if (it == ids.end()) {
        throw FormatError("merge " + std::to_string(rank) + " '" + std::string(merge) + "' names unknown token '" +
                          std::string(text) + "'");
      }
      return it->second;
    };
    for (std::size_t rank = 0; rank < vocab.merges.size(); ++rank) {
      const std::string_view merge = vocab.merges[rank];
      // The left part is never empty, so a space at position 0 belongs to it.
      const std::size_t space = merge.find(' ', 1);
      if (space == std::string_view::npos || space + 1 == merge.size()) {
        throw FormatError("merge " + std::to_string(rank) + " '" + std::string(merge) +
                          "' is not two tokens separated by a space");
      }
      const std::string_view left = merge.substr(0, space);
      const std::string_view right = merge.substr(space + 1);
      const std::int32_t left_id = id_of(left, rank, merge);
      const std::int32_t right_id = id_of(right, rank, merge);
      const std::int32_t result = id_of(std::string(left) + std::string(right), rank, merge);
      merges_.try_emplace(pair_key(left_id, right_id), MergeRule{static_cast<std::int32_t>(rank), result});
    }
  }

  void queue_pair(MergeScratch& scratch, std::int32_t left) const {
    const std::int32_t right = scratch.symbols[static_cast<std::size_t>(left)].next;
    if (right == end_of_list) return;
    const std::int32_t left_id = scratch.symbols[static_cast<std::size_t>(left)].id;
    const std::int32_t right_id = scratch.symbols[static_cast<std::size_t>(right)].id;
    const auto it = merges_.find(pair_key(left_id, right_id));
    if (it == merges_.end()) return;
    scratch.queue.push({it->second.rank, left, right, left_id, right_id, it->second.result});
  }

  // Merges the bytes of `word` the vocabulary spells; returns the first of the resulting
  // symbols, a linked list in scratch.symbols (end_of_list when there are none).
  std::int32_t merge_word(std::string_view word, MergeScratch& scratch) const {
    std::vector<Symbol>& symbols = scratch.symbols;
    symbols.clear();
    for (const char c : word) {
      const std::int32_t id = byte_tokens_[static_cast<unsigned char>(c)];
      if (id == no_token) continue;
      const auto index = static_cast<std::int32_t>(symbols.size());
      symbols.push_back({id, index - 1, index + 1});
    }
    if (symbols.empty()) return end_of_list;
    symbols.back().next = end_of_list;
    for (std::int32_t i = 0; i + 1 < static_cast<std::int32_t>(symbols.size()); ++i) {
      queue_pair(scratch, i);
    }
    while (!scratch.queue.empty()) {
      const Candidate candidate = scratch.queue.top();
      scratch.queue.pop();
      Symbol& left = symbols[static_cast<std::size_t>(candidate.left)];
      Symbol& right = symbols[static_cast<std::size_t>(candidate.right)];
      if (left.next != candidate.right || left.id != candidate.left_id || right.id != candidate.right_id) {
        continue;
      }
      left.id = candidate.result;
      left.next = right.next;
      if (right.next != end_of_list) {
        symbols[static_cast<std::size_t>(right.next)].prev = candidate.left;
      }
      right.id = no_token;
      right.next = end_of_list;
      if (left.prev != end_of_list) queue_pair(scratch, left.prev);
      queue_pair(scratch, candidate.left);
    }
    return 0;
  }

  PreTokenizer pre_tokenizer_;
  std::array<std::int32_t, 256> byte_tokens_{};
  std::unordered_map<std::uint64_t, MergeRule> merges_;
};

}  // namespace act::text
