#pragma once
// UTF-8 decoding and encoding for the tokenizers. Tokenizer input is arbitrary bytes, so decoding
// never fails: a byte that does not start a well-formed sequence (stray continuation byte, bad lead
// byte, truncated, overlong or surrogate sequence, value above U+10FFFF) is reported as one invalid
// character of length 1, and decoding resumes at the next byte. Every byte string thus splits into
// well-formed characters and single invalid bytes whose lengths add up to the input size.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace act::text {

inline constexpr char32_t replacement_character = 0xFFFD;

struct Utf8Char {
  char32_t code_point;   // the scalar value; replacement_character for an invalid byte
  std::uint32_t length;  // bytes consumed, 1..4
  bool valid;
};

namespace detail {

constexpr bool is_continuation_byte(unsigned char byte) noexcept { return (byte & 0xC0) == 0x80; }

}  // namespace detail

// Decodes the character starting at text[offset]; requires offset < text.size().
constexpr Utf8Char decode_utf8(std::string_view text, std::size_t offset) noexcept {
  const auto lead = static_cast<unsigned char>(text[offset]);
  if (lead < 0x80) return {lead, 1, true};
  constexpr Utf8Char invalid{replacement_character, 1, false};
  std::uint32_t length = 0;
  char32_t min_value = 0;  // smallest value allowed for this length: rejects overlong forms
  if ((lead & 0xE0) == 0xC0) {
    length = 2;
    min_value = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3;
    min_value = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4;
    min_value = 0x10000;
  } else {
    return invalid;
  }
  if (text.size() - offset < length) return invalid;
  char32_t value = lead & (0x7Fu >> length);
  for (std::uint32_t i = 1; i < length; ++i) {
    const auto byte = static_cast<unsigned char>(text[offset + i]);
    if (!detail::is_continuation_byte(byte)) return invalid;
    value = (value << 6) | (byte & 0x3Fu);
  }
  const bool surrogate = value >= 0xD800 && value <= 0xDFFF;
  if (value < min_value || value > 0x10FFFF || surrogate) return invalid;
  return {value, length, true};
}

// Appends the UTF-8 form of code_point; a surrogate or a value above U+10FFFF is not a scalar
// value and is written as U+FFFD instead.
inline void append_utf8(std::string& out, char32_t code_point) {
  if ((code_point >= 0xD800 && code_point <= 0xDFFF) || code_point > 0x10FFFF) {
    code_point = replacement_character;
  }
  const auto put = [&out](char32_t byte) { out.push_back(static_cast<char>(byte)); };
  if (code_point < 0x80) {
    put(code_point);
  } else if (code_point < 0x800) {
    put(0xC0 | (code_point >> 6));
    put(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    put(0xE0 | (code_point >> 12));
    put(0x80 | ((code_point >> 6) & 0x3F));
    put(0x80 | (code_point & 0x3F));
  } else {
    put(0xF0 | (code_point >> 18));
    put(0x80 | ((code_point >> 12) & 0x3F));
    put(0x80 | ((code_point >> 6) & 0x3F));
    put(0x80 | (code_point & 0x3F));
  }
}

inline std::string encode_utf8(char32_t code_point) {
  std::string out;
  append_utf8(out, code_point);
  return out;
}

}  // namespace act::text
