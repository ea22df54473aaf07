#include <act/text/unicode_categories.hpp>
#include <act/text/utf8.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

using act::text::char_class;
using act::text::CharClass;
using act::text::decode_utf8;
using act::text::encode_utf8;
using act::text::replacement_character;

namespace {

struct Expected {
  char32_t code_point;
  std::uint32_t length;
  bool valid;
};

void check_first(std::string_view bytes, Expected expected) {
  INFO("bytes of size " << bytes.size());
  const auto c = decode_utf8(bytes, 0);
  CHECK(c.code_point == expected.code_point);
  CHECK(c.length == expected.length);
  CHECK(c.valid == expected.valid);
}

constexpr Expected invalid{replacement_character, 1, false};

}  // namespace

TEST_CASE("text.utf8: well-formed sequences of each length decode", "[text]") {
  check_first("A", {U'A', 1, true});
  check_first(std::string_view("\0", 1), {0, 1, true});
  check_first("\x7F", {0x7F, 1, true});
  check_first("\xC2\x80", {0x80, 2, true});
  check_first("\xC3\xA9", {0xE9, 2, true});
  check_first("\xDF\xBF", {0x7FF, 2, true});
  check_first("\xE0\xA0\x80", {0x800, 3, true});
  check_first("\xE2\x96\x81", {0x2581, 3, true});
  check_first("\xED\x9F\xBF", {0xD7FF, 3, true});
  check_first("\xEE\x80\x80", {0xE000, 3, true});
  check_first("\xEF\xBF\xBF", {0xFFFF, 3, true});
  check_first("\xF0\x90\x80\x80", {0x10000, 4, true});
  check_first("\xF0\x9F\x99\x82", {0x1F642, 4, true});
  check_first("\xF4\x8F\xBF\xBF", {0x10FFFF, 4, true});
}

TEST_CASE("text.utf8: every malformed sequence consumes exactly one byte", "[text]") {
  check_first("\x80", invalid);  // stray continuation byte
  check_first("\xBF\x80", invalid);
  check_first("\xFF", invalid);                  // never a lead byte
  check_first("\xF8\x88\x80\x80\x80", invalid);  // old 5-byte form
  check_first("\xC0\x80", invalid);              // overlong NUL
  check_first("\xC1\xBF", invalid);              // overlong
  check_first("\xE0\x9F\xBF", invalid);          // overlong 3-byte
  check_first("\xF0\x8F\xBF\xBF", invalid);      // overlong 4-byte
  check_first("\xED\xA0\x80", invalid);          // surrogate U+D800
  check_first("\xED\xBF\xBF", invalid);          // surrogate U+DFFF
  check_first("\xF4\x90\x80\x80", invalid);      // U+110000
  check_first("\xC3", invalid);                  // truncated at the end
  check_first("\xE2\x96", invalid);
  check_first("\xF0\x9F\x99", invalid);
  check_first("\xC3(", invalid);  // continuation missing mid-text
  check_first("\xE2\x96(", invalid);
}

TEST_CASE("text.utf8: decoding resumes right after an invalid byte", "[text]") {
  const std::string_view text = "\xE2\x96\xC3\xA9";  // truncated 3-byte lead, then U+00E9
  REQUIRE_FALSE(decode_utf8(text, 0).valid);
  REQUIRE_FALSE(decode_utf8(text, 1).valid);
  const auto e_acute = decode_utf8(text, 2);
  CHECK(e_acute.valid);
  CHECK(e_acute.code_point == 0xE9);
}

TEST_CASE("text.utf8: random byte strings split into pieces covering every byte", "[text]") {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int round = 0; round < 500; ++round) {
    std::string bytes(static_cast<std::size_t>(round % 40), '\0');
    for (char& c : bytes) c = static_cast<char>(byte(rng));
    std::string reencoded;
    for (std::size_t offset = 0; offset < bytes.size();) {
      const auto c = decode_utf8(bytes, offset);
      REQUIRE(c.length >= 1);
      REQUIRE(offset + c.length <= bytes.size());
      // A valid character re-encodes to the same bytes; an invalid one stands for its byte.
      reencoded += c.valid ? encode_utf8(c.code_point) : bytes.substr(offset, 1);
      offset += c.length;
    }
    REQUIRE(reencoded == bytes);
  }
}

TEST_CASE("text.utf8: encoding writes the shortest form and replaces non-scalars", "[text]") {
  CHECK(encode_utf8(U'A') == "A");
  CHECK(encode_utf8(0xE9) == "\xC3\xA9");
  CHECK(encode_utf8(0x2581) == "\xE2\x96\x81");
  CHECK(encode_utf8(0x1F642) == "\xF0\x9F\x99\x82");
  CHECK(encode_utf8(0x10FFFF) == "\xF4\x8F\xBF\xBF");
  CHECK(encode_utf8(0xD800) == "\xEF\xBF\xBD");
  CHECK(encode_utf8(0x110000) == "\xEF\xBF\xBD");
  for (char32_t cp :
       {char32_t{0x7F}, char32_t{0x80}, char32_t{0x7FF}, char32_t{0x800}, char32_t{0xFFFF}, char32_t{0x10000}}) {
    const std::string bytes = encode_utf8(cp);
    const auto c = decode_utf8(bytes, 0);
    CHECK(c.valid);
    CHECK(c.code_point == cp);
    CHECK(c.length == bytes.size());
  }
}

TEST_CASE("text.unicode: character classes follow the Unicode categories", "[text]") {
  CHECK(char_class(U'a') == CharClass::letter);
  CHECK(char_class(U'Z') == CharClass::letter);
  CHECK(char_class(0xE9) == CharClass::letter);     // é
  CHECK(char_class(0x65E5) == CharClass::letter);   // 日 (Lo)
  CHECK(char_class(0x3B1) == CharClass::letter);    // α
  CHECK(char_class(0x2B0) == CharClass::letter);    // ʰ (Lm)
  CHECK(char_class(0x20000) == CharClass::letter);  // CJK extension B
  CHECK(char_class(U'7') == CharClass::number);
  CHECK(char_class(0x663) == CharClass::number);   // Arabic-Indic three (Nd)
  CHECK(char_class(0xBD) == CharClass::number);    // ½ (No)
  CHECK(char_class(0x216B) == CharClass::number);  // Ⅻ (Nl)
  CHECK(char_class(0xB2) == CharClass::number);    // ² (No)
  for (char32_t ws : {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000, 0x200A, 0x2028, 0x2029, 0x202F,
                      0x205F, 0x3000}) {
    INFO("U+" << std::hex << static_cast<std::uint32_t>(ws));
    CHECK(char_class(ws) == CharClass::whitespace);
  }
  // Python's str.isspace() counts the information separators; White_Space does not.
  CHECK(char_class(0x1C) == CharClass::other);
  CHECK(char_class(0x200B) == CharClass::other);  // zero width space is Cf
  CHECK(char_class(0x301) == CharClass::other);   // combining acute accent (Mn)
  CHECK(char_class(U'!') == CharClass::other);
  CHECK(char_class(U'\'') == CharClass::other);
  CHECK(char_class(0x1F642) == CharClass::other);  // emoji (So)
  CHECK(char_class(0x2581) == CharClass::other);   // ▁
  CHECK(char_class(replacement_character) == CharClass::other);
  CHECK(char_class(0x10FFFF) == CharClass::other);
  CHECK(char_class(0xFFFFFFFF) == CharClass::other);
}

TEST_CASE("text.unicode: the range table is sorted and disjoint", "[text]") {
  const auto& ranges = act::text::detail::char_class_ranges;
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    REQUIRE(ranges[i].first <= ranges[i].last);
    if (i > 0) REQUIRE(ranges[i - 1].last < ranges[i].first);
  }
}
