// GGUF reader on malformed input: every case must end in act::FormatError naming the file and the
// problem, never in a crash, a hang or another exception. Files are built in memory.
#include <act/io/dequantize.hpp>
#include <act/io/gguf.hpp>
#include <catch2/catch.hpp>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <random>
#include <string>

#include "gguf_builder.hpp"

using act::io::GgufFile;
using act::testing::Bytes;
using act::testing::GgufBuilder;
using act::testing::put_le;
using act::testing::put_string;
using act::testing::TensorSpec;
namespace vt = act::testing::value_type;

namespace {

constexpr std::uint64_t u64_max = std::numeric_limits<std::uint64_t>::max();

// Parses `bytes` expecting a FormatError whose message names the file and has every fragment.
void require_format_error(const Bytes& bytes, std::initializer_list<const char*> fragments) {
  try {
    GgufFile::parse(bytes, "corrupt.gguf");
  } catch (const act::FormatError& error) {
    const std::string message = error.what();
    INFO("message: " << message);
    CHECK(message.rfind("corrupt.gguf: ", 0) == 0);
    for (const char* fragment : fragments) CHECK_THAT(message, Catch::Contains(fragment));
    return;
  }
  FAIL("parsed without a FormatError");
}

// A small file using every structure the reader knows: all value kinds, a nested array, an F32
// and a Q8_0 tensor. Its last tensor's data ends the file.
Bytes valid_file() {
  Bytes nested;  // [[1, 2], []] as arrays of u16
  put_le(nested, vt::array);
  put_le<std::uint64_t>(nested, 2);
  for (const std::uint64_t length : {2, 0}) {
    put_le(nested, vt::u16);
    put_le<std::uint64_t>(nested, length);
    for (std::uint64_t i = 0; i < length; ++i) put_le<std::uint16_t>(nested, static_cast<std::uint16_t>(i + 1));
  }
  return GgufBuilder()
      .string("general.architecture", "llama")
      .u32("llama.block_count", 2)
      .f32("llama.attention.layer_norm_rms_epsilon", 1e-5f)
      .scalar("flag", vt::boolean, std::uint8_t{1})
      .scalar("big", vt::i64, std::uint64_t{12345})
      .string_array("tokenizer.ggml.tokens", {"<unk>", "a", "bc"})
      .scalar_array("tokenizer.ggml.token_type", vt::i32, 4, {2, 1, 1})
      .raw("nested", vt::array, nested)
      .tensor({"norm", 0, {4}, act::testing::f32_ramp(4), {}})
      .tensor({"embed", 8, {32, 1}, Bytes(34, std::byte{3}), {}})
      .build();
}

// The bytes of a file with one metadata entry whose value bytes are `value`.
Bytes with_entry(std::uint32_t type_id, const Bytes& value) { return GgufBuilder().raw("key", type_id, value).build(); }

Bytes with_tensor(TensorSpec spec) { return GgufBuilder().tensor(std::move(spec)).build(); }

// Just the 24-byte header announcing `metadata_count` entries; the caller appends them.
Bytes header_only(std::uint64_t metadata_count) {
  Bytes bytes = GgufBuilder().metadata_count_override(metadata_count).build();
  bytes.resize(24);
  return bytes;
}

Bytes u64_bytes(std::uint64_t value) {
  Bytes out;
  put_le(out, value);
  return out;
}

}  // namespace

TEST_CASE("io.gguf.corrupt: the reference file is valid", "[gguf][corrupt]") {
  const Bytes bytes = valid_file();
  const GgufFile file = GgufFile::parse(bytes, "valid.gguf");
  CHECK(file.metadata().size() == 8);
  CHECK(file.tensors().size() == 2);
  CHECK(file.find_entry("nested")->array_length == 2);
}

TEST_CASE("io.gguf.corrupt: every truncation is a FormatError", "[gguf][corrupt]") {
  const Bytes bytes = valid_file();
  for (std::size_t length = 0; length < bytes.size(); ++length) {
    INFO("truncated to " << length << " of " << bytes.size() << " bytes");
    const Bytes prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(length));
    CHECK_THROWS_AS(GgufFile::parse(prefix, "corrupt.gguf"), act::FormatError);
  }
}

TEST_CASE("io.gguf.corrupt: header", "[gguf][corrupt]") {
  SECTION("bad magic") {
    Bytes bytes = valid_file();
    bytes[3] = std::byte{'X'};
    require_format_error(bytes, {"GGUF' magic"});
  }
  SECTION("unknown versions") {
    for (const std::uint32_t version : {0u, 4u, 0xFFFFFFFFu}) {
      require_format_error(GgufBuilder().version(version).build(),
                           {"unknown GGUF version", std::to_string(version).c_str()});
    }
  }
  SECTION("counts larger than the file can hold") {
    require_format_error(GgufBuilder().tensor_count_override(u64_max).build(), {"tensor count"});
    require_format_error(GgufBuilder().metadata_count_override(u64_max).build(), {"metadata entry count"});
    // One more entry than present: the reader runs into the padding, then the end of the file.
    require_format_error(GgufBuilder().u32("a", 1).metadata_count_override(2).build(), {"metadata entry 1"});
    require_format_error(GgufBuilder().metadata_count_override(std::uint64_t{1} << 40).build(), {"exceeds the limit"});
  }
}

TEST_CASE("io.gguf.corrupt: strings", "[gguf][corrupt]") {
  SECTION("a value string length that would overflow a position") {
    require_format_error(with_entry(vt::string, u64_bytes(u64_max)), {"'key'", "string length"});
  }
  SECTION("a value string longer than the bytes left") {
    Bytes value = u64_bytes(100);
    value.resize(value.size() + 10, std::byte{'x'});
    require_format_error(with_entry(vt::string, value), {"'key'", "file ends"});
  }
  SECTION("a key longer than the spec allows") {
    Bytes bytes = header_only(1);
    put_string(bytes, std::string(70000, 'k'));
    require_format_error(bytes, {"metadata entry 0", "exceeds the limit of 65535"});
  }
  SECTION("a key length of 2^64 - 1") {
    Bytes bytes = header_only(1);
    put_le(bytes, u64_max);
    bytes.resize(bytes.size() + 32);
    require_format_error(bytes, {"metadata entry 0", "string length 18446744073709551615"});
  }
  SECTION("empty keys and tensor names") {
    require_format_error(GgufBuilder().u32("", 1).build(), {"empty key"});
    require_format_error(with_tensor({"", 0, {1}, Bytes(4), {}}), {"empty tensor name"});
  }
}

TEST_CASE("io.gguf.corrupt: metadata values", "[gguf][corrupt]") {
  SECTION("unknown value types") {
    require_format_error(with_entry(13, u64_bytes(0)), {"'key'", "unknown metadata value type 13"});
    require_format_error(with_entry(0xFFFFFFFF, u64_bytes(0)), {"unknown metadata value type"});
    Bytes array;
    put_le<std::uint32_t>(array, 99);
    put_le<std::uint64_t>(array, 1);
    require_format_error(with_entry(vt::array, array), {"unknown metadata value type 99"});
  }
  SECTION("bools other than 0 and 1") {
    require_format_error(with_entry(vt::boolean, Bytes{std::byte{2}}), {"'key'", "bool value is 2"});
  }
  SECTION("duplicate keys") {
    require_format_error(GgufBuilder().u32("same", 1).string("same", "x").build(), {"'same'", "duplicate key"});
  }
  SECTION("array lengths beyond the bytes left, including ones whose byte size overflows") {
    for (const std::uint64_t length : {u64_max, std::uint64_t{1} << 61, std::uint64_t{1000}}) {
      Bytes array;
      put_le(array, vt::u64);
      put_le(array, length);
      array.resize(array.size() + 16);
      require_format_error(with_entry(vt::array, array), {"'key'", "cannot fit"});
    }
    Bytes strings;  // each string needs at least its 8-byte length
    put_le(strings, vt::string);
    put_le<std::uint64_t>(strings, 100);
    strings.resize(strings.size() + 16);
    require_format_error(with_entry(vt::array, strings), {"'key'", "cannot fit"});
  }
  SECTION("an element string running past the end of the file") {
    Bytes strings;
    put_le(strings, vt::string);
    put_le<std::uint64_t>(strings, 2);
    put_string(strings, "ok");
    put_le<std::uint64_t>(strings, 1000);
    strings.resize(strings.size() + 8);
    require_format_error(with_entry(vt::array, strings), {"'key'", "file ends"});
  }
  SECTION("arrays nested past the depth limit, however long the file") {
    Bytes nested;
    for (int level = 0; level < 10000; ++level) {
      put_le(nested, vt::array);
      put_le<std::uint64_t>(nested, 1);
    }
    require_format_error(with_entry(vt::array, nested), {"'key'", "nested deeper than 8"});
  }
}

TEST_CASE("io.gguf.corrupt: general.alignment", "[gguf][corrupt]") {
  require_format_error(GgufBuilder().u32("general.alignment", 48).build(),
                       {"general.alignment 48 is not a power of two"});
  require_format_error(GgufBuilder().u32("general.alignment", 0).build(),
                       {"general.alignment 0 is not a power of two"});
  require_format_error(GgufBuilder().string("general.alignment", "32").build(),
                       {"'general.alignment'", "expected a non-negative integer"});
}

TEST_CASE("io.gguf.corrupt: tensor infos", "[gguf][corrupt]") {
  const Bytes four_floats = act::testing::f32_ramp(4);
  SECTION("dimension counts outside 1..4") {
    require_format_error(with_tensor({"t", 0, {}, four_floats, {}}), {"'t'", "dimension count 0"});
    require_format_error(with_tensor({"t", 0, {1, 1, 1, 1, 4}, four_floats, {}}), {"'t'", "dimension count 5"});
  }
  SECTION("element counts that overflow") {
    require_format_error(with_tensor({"t", 0, {1ull << 32, 1ull << 32}, four_floats, {}}), {"'t'", "more than"});
    require_format_error(with_tensor({"t", 0, {0, u64_max}, four_floats, {}}), {"'t'", "more than"});
  }
  SECTION("byte sizes that overflow") {
    // 2^62 F64 elements are a valid count but 2^65 bytes.
    require_format_error(with_tensor({"t", 28, {1ull << 31, 1ull << 31}, four_floats, {}}),
                         {"'t'", "data size overflows"});
  }
  SECTION("rows that do not fill whole blocks") {
    require_format_error(with_tensor({"t", 8, {31}, Bytes(34), {}}), {"'t'", "row length 31", "Q8_0 block size 32"});
  }
  SECTION("duplicate tensor names") {
    require_format_error(
        GgufBuilder().tensor({"t", 0, {4}, four_floats, {}}).tensor({"t", 0, {4}, four_floats, {}}).build(),
        {"'t'", "duplicate tensor name"});
  }
  SECTION("misaligned offsets") {
    require_format_error(with_tensor({"t", 0, {4}, four_floats, 16}), {"'t'", "offset 16", "alignment 32"});
  }
  SECTION("data outside the file") {
    require_format_error(with_tensor({"blk.3.attn_q.weight", 0, {4}, four_floats, 4096}),
                         {"tensor 'blk.3.attn_q.weight' data (16 bytes at offset 4096", "lies outside the file"});
    require_format_error(with_tensor({"t", 0, {4}, four_floats, u64_max - 31}), {"'t'", "lies outside the file"});
    require_format_error(with_tensor({"t", 0, {5}, four_floats, {}}),  // one float short
                         {"'t'", "lies outside the file"});
  }
}

// Seeded random corruption of the reference file: whatever the bytes, reading and then using
// everything the file declares ends normally or in act::Error.
TEST_CASE("io.gguf.corrupt: random byte mutations never escape act::Error", "[gguf][corrupt]") {
  const Bytes original = valid_file();
  std::mt19937 random(1234);
  std::uniform_int_distribution<std::size_t> position(0, original.size() - 1);
  std::uniform_int_distribution<int> byte_value(0, 255);
  int parsed = 0;
  int rejected = 0;
  for (int round = 0; round < 3000; ++round) {
    Bytes bytes = original;
    const int mutations = 1 + round % 4;
    for (int m = 0; m < mutations; ++m) bytes[position(random)] = std::byte(byte_value(random));
    try {
      const GgufFile file = GgufFile::parse(bytes, "mutated.gguf");
      for (const auto& entry : file.metadata()) {
        try {
          (void)file.find_string(entry.key);
        } catch (const act::FormatError&) {}
        try {
          (void)file.get_int_array(entry.key);
        } catch (const act::FormatError&) {}
      }
      for (const auto& info : file.tensors()) (void)act::io::dequantize(file, info);
      ++parsed;
    } catch (const act::Error&) {
      ++rejected;
    }
  }
  CHECK(parsed + rejected == 3000);
  CHECK(parsed > 0);    // mutations of string bytes and tensor data leave the file valid
  CHECK(rejected > 0);  // and most structural mutations do not
}
