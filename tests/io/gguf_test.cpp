// GGUF reader on well-formed input: the real models, and synthetic files covering every metadata
// value type, the getters' conversions and the tensor layout rules.
#include <unistd.h>

#include <act/io/dequantize.hpp>
#include <act/io/gguf.hpp>
#include <bit>
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <string>

#include "gguf_builder.hpp"
#include "test_paths.hpp"

using act::io::GgmlType;
using act::io::GgufFile;
using act::io::GgufValueType;
using act::testing::Bytes;
using act::testing::GgufBuilder;
using act::testing::TensorSpec;
namespace vt = act::testing::value_type;

namespace {

GgufFile parse(const Bytes& bytes, std::string name = "synthetic.gguf") {
  return GgufFile::parse(bytes, std::move(name));
}

template <class Exception, class Action>
std::string message_of(Action&& action) {
  try {
    action();
  } catch (const Exception& error) {
    return error.what();
  }
  return "(nothing thrown)";
}

std::uint64_t bits_of(double value) { return std::bit_cast<std::uint64_t>(value); }

// One entry of every scalar type, plus arrays, with values at the edges of their types.
GgufBuilder all_value_types() {
  GgufBuilder builder;
  builder.scalar("v.u8", vt::u8, std::uint8_t{200})
      .scalar("v.i8", vt::i8, std::uint8_t{0x80})  // -128
      .scalar("v.u16", vt::u16, std::uint16_t{65535})
      .scalar("v.i16", vt::i16, std::uint16_t{0x8000})  // -32768
      .u32("v.u32", 4294967295u)
      .scalar("v.i32", vt::i32, std::uint32_t{0xFFFFFFFB})  // -5
      .scalar("v.i32_positive", vt::i32, std::uint32_t{7})
      .scalar("v.u64", vt::u64, std::uint64_t{0xFFFFFFFFFFFFFFFF})
      .scalar("v.i64", vt::i64, std::uint64_t{0x8000000000000000})  // -2^63
      .f32("v.f32", 1.5f)
      .scalar("v.f64", vt::f64, bits_of(0.25))
      .scalar("v.f64_huge", vt::f64, bits_of(1e300))
      .scalar("v.true", vt::boolean, std::uint8_t{1})
      .scalar("v.false", vt::boolean, std::uint8_t{0})
      .string("v.string", "llama")
      .string("v.empty_string", "")
      .string_array("v.strings", {"a", "", "ccc"})
      .scalar_array("v.i32s", vt::i32, 4, {0xFFFFFFFF, 0, 0x7FFFFFFF})  // -1, 0, 2^31-1
      .scalar_array("v.u32s_too_big", vt::u32, 4, {1, 0x80000000})
      .scalar_array("v.f32s", vt::f32, 4, {std::bit_cast<std::uint32_t>(0.5f), std::bit_cast<std::uint32_t>(-2.0f)})
      .scalar_array("v.u8s", vt::u8, 1, {1, 2, 255})
      .scalar_array("v.empty", vt::i32, 4, {});
  return builder;
}

}  // namespace

TEST_CASE("io.gguf: stories260K header and metadata", "[shared]") {
  const auto path = act::testing::stories_path();
  REQUIRE(path);
  const GgufFile file = GgufFile::open(*path);

  CHECK(file.version() == 3);
  CHECK(file.name() == path->string());
  CHECK(file.metadata().size() == 19);
  CHECK(file.alignment() == 32);
  CHECK(file.data_offset() == 14176);  // as gguf.GGUFReader reports the first tensor's data
  CHECK(file.get_string("general.architecture") == "llama");
  CHECK(file.get_uint("llama.block_count") == 5);
  CHECK(file.get_uint("llama.embedding_length") == 64);
  CHECK(file.get_uint("llama.feed_forward_length") == 172);
  CHECK(file.get_uint("llama.attention.head_count") == 8);
  CHECK(file.get_uint("llama.attention.head_count_kv") == 4);
  CHECK(file.get_uint("llama.rope.dimension_count") == 8);
  CHECK(file.get_uint("llama.context_length") == 2048);
  CHECK(file.get_float("llama.attention.layer_norm_rms_epsilon") == 1e-5f);
  CHECK(file.get_string("tokenizer.ggml.model") == "llama");
  CHECK(file.get_uint("tokenizer.ggml.bos_token_id") == 1);
  CHECK(file.get_uint("tokenizer.ggml.eos_token_id") == 2);
  CHECK(file.get_uint("tokenizer.ggml.unknown_token_id") == 0);
  CHECK(file.get_uint("tokenizer.ggml.seperator_token_id") == 4294967295u);

  const auto tokens = file.get_string_array("tokenizer.ggml.tokens");
  REQUIRE(tokens.size() == 512);
  CHECK(tokens[0] == "<unk>");
  CHECK(tokens[1] == "<s>");
  CHECK(tokens[2] == "</s>");
  CHECK(file.get_float_array("tokenizer.ggml.scores").size() == 512);
  CHECK(file.get_int_array("tokenizer.ggml.token_type").size() == 512);
  const auto* tokens_entry = file.find_entry("tokenizer.ggml.tokens");
  REQUIRE(tokens_entry != nullptr);
  CHECK(tokens_entry->type == GgufValueType::array);
  CHECK(tokens_entry->element_type == GgufValueType::string);
  CHECK(tokens_entry->array_length == 512);
}

TEST_CASE("io.gguf: stories260K tensors", "[shared]") {
  const auto path = act::testing::stories_path();
  REQUIRE(path);
  const GgufFile file = GgufFile::open(*path);

  REQUIRE(file.tensors().size() == 48);
  for (const auto& info : file.tensors()) {
    INFO(info.name);
    CHECK(info.type == GgmlType::f32);
    CHECK(info.byte_size == info.element_count * 4);
    CHECK(info.offset % 32 == 0);
    CHECK(file.tensor_bytes(info).size() == info.byte_size);
  }
  const auto& embedding = file.tensor("token_embd.weight");
  CHECK(embedding.dims == std::vector<std::uint64_t>{64, 512});
  CHECK(embedding.offset == 0);
  CHECK(embedding.element_count == 64 * 512);
  CHECK(file.tensor("blk.4.ffn_down.weight").dims == std::vector<std::uint64_t>{172, 64});
  CHECK(file.tensor("output_norm.weight").dims == std::vector<std::uint64_t>{64});
  CHECK(file.find_tensor("blk.5.attn_q.weight") == nullptr);
  CHECK_THAT(message_of<act::FormatError>([&] { file.tensor("blk.5.attn_q.weight"); }),
             Catch::Contains("stories260K.gguf") && Catch::Contains("'blk.5.attn_q.weight'"));
}

TEST_CASE("io.gguf: SmolLM2 header, metadata and tensor types", "[smollm]") {
  const auto path = act::testing::smollm_path();
  REQUIRE(path);
  const GgufFile file = GgufFile::open(*path);

  CHECK(file.version() == 3);
  CHECK(file.metadata().size() == 33);
  CHECK(file.get_uint("llama.block_count") == 30);
  CHECK(file.get_uint("llama.embedding_length") == 576);
  CHECK(file.get_uint("llama.attention.head_count") == 9);
  CHECK(file.get_uint("llama.attention.head_count_kv") == 3);
  CHECK(file.get_uint("llama.vocab_size") == 49152);
  CHECK(file.get_float("llama.rope.freq_base") == 100000.0f);
  CHECK(file.get_bool("tokenizer.ggml.add_bos_token") == false);
  CHECK(file.get_string("tokenizer.ggml.model") == "gpt2");
  CHECK(file.get_string_array("tokenizer.ggml.merges").size() == 48900);
  CHECK(file.get_string_array("general.languages") == std::vector<std::string>{"en"});
  CHECK(file.get_string("tokenizer.chat_template").find("im_start") != std::string::npos);

  std::map<GgmlType, int> type_counts;
  for (const auto& info : file.tensors()) ++type_counts[info.type];
  CHECK(type_counts == std::map<GgmlType, int>{{GgmlType::f32, 61}, {GgmlType::q4_1, 210}, {GgmlType::q8_0, 1}});
  const auto& embedding = file.tensor("token_embd.weight");
  CHECK(embedding.type == GgmlType::q8_0);
  CHECK(embedding.dims == std::vector<std::uint64_t>{576, 49152});
  CHECK(embedding.byte_size == 576 / 32 * 34 * 49152);
  CHECK(file.data_offset() + embedding.offset == 1785664);  // gguf.GGUFReader's data_offset
}

TEST_CASE("io.gguf: scalar getters convert what they promise and nothing else", "[gguf]") {
  const GgufFile file = parse(all_value_types().build());

  SECTION("unsigned integers from any non-negative integer type") {
    CHECK(file.get_uint("v.u8") == 200);
    CHECK(file.get_uint("v.u16") == 65535);
    CHECK(file.get_uint("v.u32") == 4294967295u);
    CHECK(file.get_uint("v.u64") == std::numeric_limits<std::uint64_t>::max());
    CHECK(file.get_uint("v.i32_positive") == 7);
    CHECK_THAT(message_of<act::FormatError>([&] { file.get_uint("v.i32"); }),
               Catch::Contains("synthetic.gguf") && Catch::Contains("'v.i32'") && Catch::Contains("i32 -5"));
    CHECK_THROWS_AS(file.get_uint("v.i8"), act::FormatError);
    CHECK_THROWS_AS(file.get_uint("v.i64"), act::FormatError);
    CHECK_THROWS_AS(file.get_uint("v.f32"), act::FormatError);
    CHECK_THROWS_AS(file.get_uint("v.string"), act::FormatError);
  }
  SECTION("floats from f32, f64 within range and integers") {
    CHECK(file.get_float("v.f32") == 1.5f);
    CHECK(file.get_float("v.f64") == 0.25f);
    CHECK(file.get_float("v.i16") == -32768.0f);
    CHECK(file.get_float("v.u8") == 200.0f);
    CHECK_THAT(message_of<act::FormatError>([&] { file.get_float("v.f64_huge"); }), Catch::Contains("f64 1e+300"));
    CHECK_THROWS_AS(file.get_float("v.true"), act::FormatError);
  }
  SECTION("bools and strings only from their own types") {
    CHECK(file.get_bool("v.true"));
    CHECK_FALSE(file.get_bool("v.false"));
    CHECK_THROWS_AS(file.get_bool("v.u8"), act::FormatError);
    CHECK(file.get_string("v.string") == "llama");
    CHECK(file.get_string("v.empty_string").empty());
    CHECK_THAT(message_of<act::FormatError>([&] { file.get_string("v.u32"); }),
               Catch::Contains("u32 4294967295") && Catch::Contains("expected a string"));
  }
  SECTION("scalar getters refuse arrays") {
    CHECK_THAT(message_of<act::FormatError>([&] { file.get_string("v.strings"); }), Catch::Contains("array of string"));
  }
  SECTION("missing keys: get_* throws naming the key, find_* returns nullopt") {
    CHECK_THAT(message_of<act::FormatError>([&] { file.get_uint("no.such.key"); }),
               Catch::Contains("'no.such.key'") && Catch::Contains("missing"));
    CHECK_FALSE(file.has("no.such.key"));
    CHECK(file.has("v.u8"));
    CHECK_FALSE(file.find_uint("no.such.key"));
    CHECK_FALSE(file.find_float("no.such.key"));
    CHECK_FALSE(file.find_string("no.such.key"));
    CHECK_FALSE(file.find_bool("no.such.key"));
  }
  SECTION("find_* returns present values and still rejects wrong types") {
    CHECK(file.find_uint("v.u16") == std::optional<std::uint64_t>{65535});
    CHECK(file.find_float("v.f32") == std::optional<float>{1.5f});
    CHECK(file.find_string("v.string") == std::optional<std::string>{"llama"});
    CHECK(file.find_bool("v.true") == std::optional<bool>{true});
    CHECK_THROWS_AS(file.find_uint("v.string"), act::FormatError);
  }
}

TEST_CASE("io.gguf: array getters", "[gguf]") {
  const GgufFile file = parse(all_value_types().build());

  CHECK(file.get_string_array("v.strings") == std::vector<std::string>{"a", "", "ccc"});
  CHECK(file.get_int_array("v.i32s") == std::vector<std::int32_t>{-1, 0, std::numeric_limits<std::int32_t>::max()});
  CHECK(file.get_int_array("v.u8s") == std::vector<std::int32_t>{1, 2, 255});
  CHECK(file.get_float_array("v.f32s") == std::vector<float>{0.5f, -2.0f});
  CHECK(file.get_int_array("v.empty").empty());
  CHECK_THAT(message_of<act::FormatError>([&] { file.get_int_array("v.u32s_too_big"); }),
             Catch::Contains("element 1") && Catch::Contains("u32 2147483648"));
  CHECK_THAT(message_of<act::FormatError>([&] { file.get_string_array("v.i32s"); }),
             Catch::Contains("element 0 holds i32 -1; expected a string"));
  CHECK_THAT(message_of<act::FormatError>([&] { file.get_int_array("v.i32"); }), Catch::Contains("has type i32"));
}

TEST_CASE("io.gguf: metadata entries keep file order, types and array lengths", "[gguf]") {
  const GgufFile file = parse(all_value_types().build());
  const auto& entries = file.metadata();
  REQUIRE(entries.size() == 22);
  CHECK(entries.front().key == "v.u8");
  CHECK(entries.front().type == GgufValueType::u8);
  CHECK(entries.back().key == "v.empty");
  const auto* strings = file.find_entry("v.strings");
  REQUIRE(strings != nullptr);
  CHECK(strings->type == GgufValueType::array);
  CHECK(strings->element_type == GgufValueType::string);
  CHECK(strings->array_length == 3);
  CHECK(file.find_entry("v.none") == nullptr);
}

TEST_CASE("io.gguf: nested arrays are accepted up to the depth limit", "[gguf]") {
  // An array of u8 arrays inside arrays, `depth` levels in all, innermost holding one byte.
  const auto nested = [](int depth) {
    Bytes value;
    for (int level = 1; level < depth; ++level) {
      act::testing::put_le(value, vt::array);
      act::testing::put_le<std::uint64_t>(value, 1);
    }
    act::testing::put_le(value, vt::u8);
    act::testing::put_le<std::uint64_t>(value, 1);
    value.push_back(std::byte{42});
    return value;
  };
  const int limit = act::io::gguf_limits::max_array_depth;
  const GgufFile file = parse(GgufBuilder().raw("deep", vt::array, nested(limit)).build());
  const auto& entry = *file.find_entry("deep");
  CHECK(entry.element_type == GgufValueType::array);
  CHECK_THROWS_AS(file.get_int_array("deep"), act::FormatError);  // flat arrays only

  CHECK_THAT(
      message_of<act::FormatError>([&] { parse(GgufBuilder().raw("deep", vt::array, nested(limit + 1)).build()); }),
      Catch::Contains("'deep'") && Catch::Contains("nested deeper than"));
}

TEST_CASE("io.gguf: tensors are laid out from the aligned data section", "[gguf]") {
  const Bytes two_q8_blocks(2 * 34, std::byte{1});
  const auto build = [&](std::uint64_t alignment) {
    GgufBuilder builder;
    builder.alignment(alignment);
    if (alignment != 32) builder.u32("general.alignment", static_cast<std::uint32_t>(alignment));
    builder.string("general.architecture", "llama")
        .tensor({"weights", 0, {3, 2}, act::testing::f32_ramp(6), {}})
        .tensor({"quantised", 8, {32, 2}, two_q8_blocks, {}});
    return builder.build();
  };

  for (const std::uint64_t alignment : {32u, 64u, 1u}) {
    INFO("alignment " << alignment);
    const GgufFile file = parse(build(alignment));
    CHECK(file.alignment() == alignment);
    CHECK(file.data_offset() % alignment == 0);
    REQUIRE(file.tensors().size() == 2);

    const auto& weights = file.tensor("weights");
    CHECK(weights.type == GgmlType::f32);
    CHECK(weights.dims == std::vector<std::uint64_t>{3, 2});
    CHECK(weights.element_count == 6);
    CHECK(weights.byte_size == 24);
    CHECK(act::io::dequantize(file, weights) == std::vector<float>{0, 1, 2, 3, 4, 5});

    const auto& quantised = file.tensor("quantised");
    CHECK(quantised.type == GgmlType::q8_0);
    CHECK(quantised.byte_size == 68);
    CHECK(quantised.offset % alignment == 0);
    const auto bytes = file.tensor_bytes(quantised);
    REQUIRE(bytes.size() == 68);
    CHECK(bytes.data() + bytes.size() == file.bytes().data() + file.bytes().size());
  }
}

TEST_CASE("io.gguf: version 2 files are read like version 3", "[gguf]") {
  const GgufFile file =
      parse(GgufBuilder().version(2).u32("k", 9).tensor({"t", 0, {4}, act::testing::f32_ramp(4), {}}).build());
  CHECK(file.version() == 2);
  CHECK(file.get_uint("k") == 9);
  CHECK(act::io::dequantize(file, file.tensor("t")) == std::vector<float>{0, 1, 2, 3});
}

TEST_CASE("io.gguf: well-formed input this reader does not support", "[gguf]") {
  SECTION("version 1 and big-endian files") {
    CHECK_THAT(message_of<act::UnsupportedError>([] { parse(GgufBuilder().version(1).build()); }),
               Catch::Contains("version 1"));
    CHECK_THAT(message_of<act::UnsupportedError>([] { parse(GgufBuilder().version(0x03000000).build()); }),
               Catch::Contains("big-endian"));
  }
  SECTION("unknown tensor type ids are refused at open") {
    const Bytes bytes = GgufBuilder().tensor({"odd", 200, {32}, Bytes(128), {}}).build();
    CHECK_THAT(message_of<act::UnsupportedError>([&] { parse(bytes); }),
               Catch::Contains("'odd'") && Catch::Contains("200"));
  }
  SECTION("known types without a decoder open, but do not dequantize") {
    const GgufFile file = parse(GgufBuilder().tensor({"k2", 10, {256}, Bytes(84), {}}).build());
    const auto& info = file.tensor("k2");
    CHECK(info.type == GgmlType::q2_k);
    CHECK(file.tensor_bytes(info).size() == 84);
    CHECK_THAT(message_of<act::UnsupportedError>([&] { act::io::dequantize(file, info); }),
               Catch::Contains("'k2'") && Catch::Contains("Q2_K") && Catch::Contains("id 10"));
  }
}

TEST_CASE("io.gguf: tensor_bytes refuses infos that do not belong to the file", "[gguf]") {
  const GgufFile file = parse(GgufBuilder().tensor({"t", 0, {4}, act::testing::f32_ramp(4), {}}).build());
  auto foreign = file.tensor("t");
  foreign.offset = 4096;
  CHECK_THROWS_AS(file.tensor_bytes(foreign), std::invalid_argument);
}

TEST_CASE("io.gguf: open maps the file; parse copies; both survive moves", "[gguf]") {
  const Bytes bytes =
      GgufBuilder().string("general.name", "tiny").tensor({"t", 0, {2}, act::testing::f32_ramp(2), {}}).build();
  const auto path =
      std::filesystem::temp_directory_path() / ("act_io_gguf_test_" + std::to_string(::getpid()) + ".gguf");
  {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  GgufFile opened = GgufFile::open(path);
  std::filesystem::remove(path);  // the mapping outlives the directory entry
  CHECK(opened.name() == path.string());
  CHECK(opened.bytes().size() == bytes.size());

  GgufFile moved = std::move(opened);
  CHECK(moved.get_string("general.name") == "tiny");
  CHECK(act::io::dequantize(moved, moved.tensor("t")) == std::vector<float>{0, 1});

  Bytes scratch = bytes;
  GgufFile copied = GgufFile::parse(scratch, "copy.gguf");
  scratch.assign(scratch.size(), std::byte{0});  // the parsed file keeps its own copy
  GgufFile moved_copy = std::move(copied);
  CHECK(moved_copy.get_string("general.name") == "tiny");
  CHECK(act::io::dequantize(moved_copy, moved_copy.tensor("t")) == std::vector<float>{0, 1});
}
