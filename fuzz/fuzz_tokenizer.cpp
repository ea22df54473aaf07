// The tokenizers of stories260K (SentencePiece-style, byte fallback) and SmolLM2 (byte-level BPE),
// loaded once from the real GGUFs, found as the tests find them (ACT_SHARED_DIR, ACT_MODEL, the
// fetch cache: tests/support/test_paths.hpp). Byte 0 of an input picks the tokenizer (bit 0) and
// the mode (bit 1) for the rest:
//  - text: encode gives ids inside the vocabulary (BOS first only when asked) and decode gives the
//    text back as tokenizer.hpp documents it: SPM turns a "▁" into a space, byte-level BPE drops
//    the bytes its vocabulary cannot spell;
//  - ids: decode of any id sequence throws act::Error exactly when an id is outside the vocabulary.
#include <act/io/gguf.hpp>
#include <act/text/tokenizer.hpp>
#include <act/text/vocabulary_gguf.hpp>

#include "fuzz_check.hpp"
#include "test_paths.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace {

using act::text::Tokenizer;
using act::text::VocabKind;

struct Subject {
  Tokenizer tokenizer;
  VocabKind kind;
  std::array<bool, 256> spelled;  // bytes that come back from decode(encode(byte))
};

Subject load(const std::optional<std::filesystem::path>& path, const char* what) {
  if (!path) {
    std::fprintf(stderr,
                 "fuzz_tokenizer: %s not found (set ACT_SHARED_DIR / ACT_MODEL, see tests/support/test_paths.hpp)\n",
                 what);
    std::exit(77);  // CTest's "skipped" for the replay test
  }
  act::text::Vocabulary vocabulary = act::text::from_gguf(act::io::GgufFile::open(*path));
  const VocabKind kind = vocabulary.kind;
  Subject subject{Tokenizer(std::move(vocabulary)), kind, {}};
  for (unsigned value = 0; value < 256; ++value) {
    const std::string byte(1, static_cast<char>(value));
    subject.spelled[value] = subject.tokenizer.decode(subject.tokenizer.encode(byte, false)) == byte;
  }
  const bool byte_fallback = std::all_of(subject.spelled.begin(), subject.spelled.end(), [](bool b) { return b; });
  if (kind == VocabKind::spm && !byte_fallback) {
    std::fprintf(stderr, "fuzz_tokenizer: %s has no byte fallback, so its round trip is not defined\n", what);
    std::exit(1);
  }
  return subject;
}

const Subject& spm() {
  static const Subject subject = load(act::testing::stories_path(), "stories260K.gguf");
  return subject;
}

const Subject& bpe() {
  static const Subject subject = load(act::testing::smollm_path(), "the SmolLM2 GGUF");
  return subject;
}

// What decode(encode(text)) must give.
std::string expected_round_trip(const Subject& subject, std::string_view text) {
  std::string expected;
  if (subject.kind == VocabKind::spm) {
    constexpr std::string_view spm_space = "\xE2\x96\x81";
    for (std::size_t i = 0; i < text.size();) {
      const bool space = text.substr(i).starts_with(spm_space);
      expected += space ? ' ' : text[i];
      i += space ? spm_space.size() : 1;
    }
  } else {
    for (const char c : text)
      if (subject.spelled[static_cast<unsigned char>(c)]) expected += c;
  }
  return expected;
}

void check_round_trip(const Subject& subject, std::string_view text) {
  const Tokenizer& tokenizer = subject.tokenizer;
  const std::vector<std::int32_t> ids = tokenizer.encode(text, false);
  for (const std::int32_t id : ids) FUZZ_CHECK(id >= 0 && static_cast<std::size_t>(id) < tokenizer.size());
  FUZZ_CHECK(tokenizer.decode(ids) == expected_round_trip(subject, text));
  std::vector<std::int32_t> with_bos = tokenizer.encode(text, true);
  if (with_bos.size() == ids.size() + 1 && with_bos.front() == tokenizer.bos()) with_bos.erase(with_bos.begin());
  FUZZ_CHECK(with_bos == ids);
}

// Each id takes 4 bytes: the low 3 spread over the vocabulary and a few ids past either end,
// unless the top byte is 0xFF, which keeps the raw (negative) value.
std::vector<std::int32_t> ids_from(std::span<const std::uint8_t> bytes, std::size_t vocabulary_size) {
  std::vector<std::int32_t> ids;
  for (std::size_t i = 0; i + 4 <= bytes.size(); i += 4) {
    const std::uint32_t raw = bytes[i] | bytes[i + 1] << 8 | bytes[i + 2] << 16 | std::uint32_t{bytes[i + 3]} << 24;
    const bool keep_raw = bytes[i + 3] == 0xFF;
    ids.push_back(keep_raw ? static_cast<std::int32_t>(raw)
                           : static_cast<std::int32_t>((raw & 0xFFFFFF) % (vocabulary_size + 16)) - 8);
  }
  return ids;
}

void check_decode(const Subject& subject, std::span<const std::uint8_t> bytes) {
  const Tokenizer& tokenizer = subject.tokenizer;
  const std::vector<std::int32_t> ids = ids_from(bytes, tokenizer.size());
  const bool all_known = std::all_of(ids.begin(), ids.end(), [&](std::int32_t id) {
    return id >= 0 && static_cast<std::size_t>(id) < tokenizer.size();
  });
  std::string text;
  try {
    text = tokenizer.decode(ids);
  } catch (const act::Error&) {
    FUZZ_CHECK(!all_known);
    return;
  }
  FUZZ_CHECK(all_known);
  if (subject.kind == VocabKind::bpe) {  // SPM also drops space prefixes
    std::string joined;
    for (const std::int32_t id : ids) joined += tokenizer.token_text(id);
    FUZZ_CHECK(text == joined);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spm();
  bpe();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const Subject& subject = (data[0] & 1) != 0 ? bpe() : spm();
  const std::span<const std::uint8_t> rest(data + 1, size - 1);
  if ((data[0] & 2) != 0) {
    check_decode(subject, rest);
  } else {
    check_round_trip(subject, std::string_view(reinterpret_cast<const char*>(rest.data()), rest.size()));
  }
  return 0;
}
