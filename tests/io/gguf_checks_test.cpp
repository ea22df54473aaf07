// io/gguf_checks.hpp: overlapping tensor data and non-finite weights in small synthetic GGUFs. The
// non-finite scan reads bit patterns only, so it is checked against the decoder: for random blocks
// of every scanned type, a block is reported exactly when dequantize() gives it a non-finite value.
#include <act/io/dequantize.hpp>
#include <act/io/gguf_checks.hpp>

#include <catch2/catch.hpp>

#include "gguf_builder.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

using act::io::GgmlType;
using act::io::GgufFile;
using act::io::GgufWarningKind;
using act::testing::Bytes;
using act::testing::GgufBuilder;
using act::testing::TensorSpec;

constexpr auto id(GgmlType type) { return static_cast<std::uint32_t>(type); }

GgufFile parse(const GgufBuilder& builder) { return GgufFile::parse(builder.build(), "test.gguf"); }

// `count` little-endian 16-bit patterns.
Bytes halves(const std::vector<std::uint16_t>& bits) {
  Bytes out;
  for (const std::uint16_t b : bits) act::testing::put_le(out, b);
  return out;
}

}  // namespace

TEST_CASE("io.gguf_checks: a clean file has no warnings", "[gguf][checks]") {
  GgufBuilder b;
  b.tensor({"a", id(GgmlType::f32), {8}, act::testing::f32_ramp(8), std::nullopt});
  b.tensor({"b", id(GgmlType::f16), {4}, halves({0x3C00, 0x0000, 0x8000, 0x7BFF}), std::nullopt});  // max finite
  b.tensor({"c", id(GgmlType::bf16), {2}, halves({0x3F80, 0x7F7F}), std::nullopt});
  CHECK(act::io::check_tensor_data(parse(b)).empty());
}

TEST_CASE("io.gguf_checks: overlapping data ranges", "[gguf][checks]") {
  GgufBuilder b;
  b.tensor({"first", id(GgmlType::f32), {16}, act::testing::f32_ramp(16), std::uint64_t{0}});  // bytes 0-63
  b.tensor({"inside", id(GgmlType::f32), {4}, {}, std::uint64_t{32}});                         // bytes 32-47
  b.tensor({"tail", id(GgmlType::f32), {16}, {}, std::uint64_t{32}});                          // 32-95
  b.tensor({"after", id(GgmlType::f32), {8}, act::testing::f32_ramp(32), std::uint64_t{96}});  // 96-127: none
  b.tensor({"empty", id(GgmlType::f32), {0}, {}, std::uint64_t{32}});                          // no bytes
  // Each tensor that starts inside an earlier one is named once, with the earlier tensor reaching
  // furthest ('inside' and 'tail' also share bytes 32-47, which the pair with 'first' already shows).
  const auto warnings = act::io::overlapping_tensors(parse(b));
  REQUIRE(warnings.size() == 2);
  for (const auto& w : warnings) CHECK(w.kind == GgufWarningKind::overlapping_data);
  CHECK(warnings[0].message ==
        "test.gguf: the data of tensors 'first' and 'inside' overlap (bytes 32 to 47 of the data section)");
  CHECK(warnings[1].message ==
        "test.gguf: the data of tensors 'first' and 'tail' overlap (bytes 32 to 63 of the data section)");
}

TEST_CASE("io.gguf_checks: many overlaps are listed up to a cap", "[gguf][checks]") {
  GgufBuilder b;
  b.tensor({"t0", id(GgmlType::f32), {8}, act::testing::f32_ramp(8), std::uint64_t{0}});
  for (int i = 1; i < 20; ++i)
    b.tensor({std::string("t").append(std::to_string(i)), id(GgmlType::f32), {8}, {}, std::uint64_t{0}});
  const auto warnings = act::io::overlapping_tensors(parse(b));
  REQUIRE(warnings.size() == act::io::max_warnings_per_kind + 1);
  CHECK(warnings.back().kind == GgufWarningKind::more_warnings);
  CHECK(warnings.back().message == "test.gguf: 11 more overlapping tensor(s) not listed");
}

TEST_CASE("io.gguf_checks: non-finite float weights", "[gguf][checks]") {
  Bytes f32 = act::testing::f32_ramp(8);
  const auto put = [&](std::size_t element, float value) { std::memcpy(f32.data() + 4 * element, &value, 4); };
  put(3, std::nanf(""));
  put(5, -INFINITY);
  GgufBuilder b;
  b.tensor({"f32", id(GgmlType::f32), {8}, f32, std::nullopt});
  b.tensor({"f16", id(GgmlType::f16), {4}, halves({0x3C00, 0x3C00, 0x7C00, 0xFE00}), std::nullopt});  // inf, nan
  b.tensor({"bf16", id(GgmlType::bf16), {2}, halves({0x7FC0, 0x3F80}), std::nullopt});                // nan
  const auto warnings = act::io::non_finite_weights(parse(b));
  REQUIRE(warnings.size() == 3);
  CHECK(warnings[0].message == "test.gguf: tensor 'f32' (F32) has 2 non-finite weight(s), the first at element 3");
  CHECK(warnings[1].message == "test.gguf: tensor 'f16' (F16) has 2 non-finite weight(s), the first at element 2");
  CHECK(warnings[2].message == "test.gguf: tensor 'bf16' (BF16) has 1 non-finite weight(s), the first at element 0");
  for (const auto& w : warnings) CHECK(w.kind == GgufWarningKind::non_finite_weights);
}

TEST_CASE("io.gguf_checks: a non-finite block scale names the block", "[gguf][checks]") {
  // Three Q4_1 blocks (20 bytes: d, m, 16 quant bytes); block 1's min m is -inf.
  Bytes q4_1(3 * 20, std::byte{0x11});
  for (std::size_t block = 0; block < 3; ++block) {
    q4_1[block * 20] = std::byte{0x00};
    q4_1[block * 20 + 1] = std::byte{0x3C};  // d = 1
  }
  q4_1[20 + 2] = std::byte{0x00};
  q4_1[20 + 3] = std::byte{0xFC};  // m = -inf
  GgufBuilder b;
  b.tensor({"q", id(GgmlType::q4_1), {96}, q4_1, std::nullopt});
  const auto warnings = act::io::check_tensor_data(parse(b));
  REQUIRE(warnings.size() == 1);
  CHECK(
      warnings[0].message ==
      "test.gguf: tensor 'q' (Q4_1) has 1 block(s) with a non-finite scale, the first is block 1 (elements 32 to 63)");
}

TEST_CASE("io.gguf_checks: the scan agrees with the decoder on random blocks", "[gguf][checks]") {
  std::mt19937 rng(11);
  for (const GgmlType type :
       {GgmlType::f32, GgmlType::f16, GgmlType::bf16, GgmlType::q4_0, GgmlType::q4_1, GgmlType::q5_0, GgmlType::q5_1,
        GgmlType::q8_0, GgmlType::q4_k, GgmlType::q5_k, GgmlType::q6_k}) {
    const act::io::GgmlTypeTraits traits = act::io::type_traits(type);
    constexpr std::size_t blocks = 512;
    Bytes data(blocks * traits.block_bytes);
    // Random bytes, the high byte of every 16-bit word 0xFF one time in eight and otherwise below
    // 0x80, so that some blocks are non-finite and most are not (every scale sits at an even offset).
    for (std::size_t i = 0; i < data.size(); ++i) {
      const bool high = i % 2 == 1;
      data[i] = static_cast<std::byte>(high && rng() % 8 == 0 ? 0xFF : rng() & (high ? 0x7F : 0xFF));
    }
    GgufBuilder b;
    b.tensor({"t", id(type), {blocks * traits.block_size}, data, std::nullopt});
    const GgufFile file = parse(b);
    const std::vector<float> values = act::io::dequantize(file, file.tensors()[0]);
    std::size_t bad_blocks = 0, first = blocks;
    for (std::size_t block = 0; block < blocks; ++block) {
      const auto begin = values.begin() + static_cast<std::ptrdiff_t>(block * traits.block_size);
      if (std::any_of(begin, begin + traits.block_size, [](float x) { return !std::isfinite(x); })) {
        first = std::min(first, block);
        ++bad_blocks;
      }
    }
    INFO(traits.name);
    REQUIRE(bad_blocks > 0);
    REQUIRE(bad_blocks < blocks);
    const auto warnings = act::io::non_finite_weights(file);
    REQUIRE(warnings.size() == 1);
    const std::string unit =
        traits.block_size == 1 ? "non-finite weight(s), the first at element " : "block(s) with a non-finite scale";
    CHECK_THAT(warnings[0].message, Catch::Contains("has " + std::to_string(bad_blocks) + " " + unit));
    CHECK_THAT(warnings[0].message,
               Catch::Contains((traits.block_size == 1 ? "element " : "block ") + std::to_string(first)));
  }
}
