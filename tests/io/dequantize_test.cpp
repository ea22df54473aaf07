// Dequantisation against the gguf Python package (golden JSON, see tests/data/README.md) and
// against hand-worked blocks and IEEE rules. Decoding is exact: every value is one rounding of an
// exact product (quant_blocks.hpp), so all comparisons are bit for bit, never within a tolerance.
#include <act/io/dequantize.hpp>
#include <bit>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "test_paths.hpp"

using act::io::GgmlType;

namespace {

nlohmann::json load_golden(const std::string& file_name) {
  const auto path = std::filesystem::path(ACT_SOURCE_DIR) / "tests" / "data" / file_name;
  std::ifstream in(path);
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

GgmlType type_named(const std::string& name) {
  for (const auto& traits : act::io::kGgmlTypeTraits) {
    if (traits.name == name) return traits.type;
  }
  FAIL("unknown type name " << name);
  return GgmlType::f32;
}

std::vector<std::byte> from_hex(const std::string& hex) {
  std::vector<std::byte> bytes(hex.size() / 2);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    bytes[i] = static_cast<std::byte>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  }
  return bytes;
}

std::uint32_t bits(float value) { return std::bit_cast<std::uint32_t>(value); }

std::vector<float> dequantize_bytes(GgmlType type, const std::vector<std::byte>& bytes, std::size_t elements) {
  std::vector<float> values(elements);
  act::io::dequantize_row(type, bytes, values);
  return values;
}

template <class Block>
std::vector<float> decode(const Block& block) {
  std::vector<float> values(Block::elements);
  act::io::dequantize_block(block, std::span<float, Block::elements>(values));
  return values;
}

constexpr std::uint16_t f16_one = 0x3C00, f16_two = 0x4000, f16_half = 0x3800, f16_quarter = 0x3400,
                        f16_minus_one = 0xBC00;

}  // namespace

TEST_CASE("io.dequantize: seeded random blocks of every type match the gguf package", "[dequantize]") {
  const auto golden = load_golden("dequant_synthetic.json");
  std::set<GgmlType> covered;
  for (const auto& test_case : golden.at("cases")) {
    const GgmlType type = type_named(test_case.at("type"));
    INFO("type " << act::io::type_name(type));
    const auto bytes = from_hex(test_case.at("bytes"));
    const auto expected = test_case.at("expected_bits").get<std::vector<std::uint32_t>>();
    REQUIRE(expected.size() == test_case.at("elements").get<std::size_t>());
    REQUIRE(bytes.size() == act::io::row_bytes(type, expected.size()));

    const auto values = dequantize_bytes(type, bytes, expected.size());
    std::size_t mismatches = 0;
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (bits(values[i]) != expected[i]) {
        if (++mismatches <= 5) UNSCOPED_INFO("element " << i << ": " << values[i] << " vs bits " << expected[i]);
      }
    }
    CHECK(mismatches == 0);
    covered.insert(type);
  }
  for (const auto& traits : act::io::kGgmlTypeTraits) {
    INFO("golden data for " << traits.name);
    CHECK(covered.contains(traits.type) == act::io::can_dequantize(traits.type));
  }
}

TEST_CASE("io.dequantize: f16 conversion is exact for all 65536 bit patterns", "[dequantize]") {
  for (std::uint32_t pattern = 0; pattern <= 0xFFFF; ++pattern) {
    const auto half = static_cast<std::uint16_t>(pattern);
    const float value = act::io::f16_to_f32(half);
    const bool negative = (half & 0x8000) != 0;
    const int exponent = (half >> 10) & 0x1F;
    const int mantissa = half & 0x3FF;
    INFO("f16 bits " << pattern);
    REQUIRE(std::signbit(value) == negative);
    if (exponent == 0x1F && mantissa == 0) {
      REQUIRE(std::isinf(value));
    } else if (exponent == 0x1F) {
      // NaN: the payload moves to the top of float's mantissa, quiet bit included.
      REQUIRE(bits(value) ==
              ((negative ? 0x80000000u : 0u) | 0x7F800000u | (static_cast<std::uint32_t>(mantissa) << 13)));
    } else {
      // (-1)^s * significand * 2^(e - 25), with a leading 1 only for normal numbers.
      const int significand = exponent == 0 ? mantissa : 1024 + mantissa;
      const double magnitude = std::ldexp(significand, (exponent == 0 ? 1 : exponent) - 25);
      REQUIRE(static_cast<double>(value) == (negative ? -magnitude : magnitude));
    }
  }
}

TEST_CASE("io.dequantize: f16 and bf16 edge values through dequantize_row", "[dequantize]") {
  const auto row = [](GgmlType type, std::vector<std::uint16_t> halves) {
    std::vector<std::byte> bytes(halves.size() * 2);
    std::memcpy(bytes.data(), halves.data(), bytes.size());
    std::vector<std::uint32_t> out;
    for (float value : dequantize_bytes(type, bytes, halves.size())) out.push_back(bits(value));
    return out;
  };
  // 1, -2, largest finite, smallest normal, largest and smallest subnormal, -0, +-inf, NaNs.
  CHECK(row(GgmlType::f16,
            {0x3C00, 0xC000, 0x7BFF, 0x0400, 0x03FF, 0x0001, 0x8000, 0x7C00, 0xFC00, 0x7E00, 0x7C01, 0xFE00}) ==
        std::vector<std::uint32_t>{bits(1.0f), bits(-2.0f), bits(65504.0f), bits(0x1p-14f), bits(1023 * 0x1p-24f),
                                   bits(0x1p-24f), 0x80000000u, 0x7F800000u, 0xFF800000u, 0x7FC00000u, 0x7F802000u,
                                   0xFFC00000u});
  CHECK(row(GgmlType::bf16, {0x3F80, 0xFF80, 0x0001, 0x7FC1, 0x8000}) ==
        std::vector<std::uint32_t>{bits(1.0f), 0xFF800000u, 0x00010000u, 0x7FC10000u, 0x80000000u});
}

TEST_CASE("io.dequantize: hand-worked legacy blocks", "[dequantize]") {
  SECTION("Q4_0: d * (q - 8), low nibbles first") {
    act::io::BlockQ4_0 block{f16_two, {}};
    block.qs[0] = 0xF0;
    block.qs[1] = 0x98;
    const auto values = decode(block);
    CHECK(values[0] == -16.0f);  // (0 - 8) * 2
    CHECK(values[16] == 14.0f);  // (15 - 8) * 2
    CHECK(values[1] == 0.0f);
    CHECK(values[17] == 2.0f);
    CHECK(values[2] == -16.0f);  // zero bytes decode to the most negative quant
  }
  SECTION("Q4_1: d * q + m") {
    act::io::BlockQ4_1 block{f16_half, f16_minus_one, {}};
    block.qs[0] = 0x3A;
    const auto values = decode(block);
    CHECK(values[0] == 4.0f);   // 10 * 0.5 - 1
    CHECK(values[16] == 0.5f);  // 3 * 0.5 - 1
    CHECK(values[31] == -1.0f);
  }
  SECTION("Q5_0: bit j of the little-endian qh word is bit 4 of quant j") {
    act::io::BlockQ5_0 block{f16_one, {0x01, 0x00, 0x02, 0x00}, {}};
    block.qs[1] = 0x10;
    const auto values = decode(block);
    CHECK(values[0] == 0.0f);     // 0 | 16, minus 16
    CHECK(values[1] == -16.0f);   // 0
    CHECK(values[16] == -16.0f);  // 0
    CHECK(values[17] == 1.0f);    // 1 | 16 (qh bit 17)
  }
  SECTION("Q5_1: d * q + m with the fifth bit") {
    act::io::BlockQ5_1 block{f16_one, f16_quarter, {0x00, 0x00, 0x00, 0x80}, {}};
    block.qs[15] = 0xF0;
    const auto values = decode(block);
    CHECK(values[31] == 31.25f);  // 15 | 16 (qh bit 31), plus 0.25
    CHECK(values[15] == 0.25f);
  }
  SECTION("Q8_0: d * q with signed bytes") {
    act::io::BlockQ8_0 block{f16_quarter, {}};
    block.qs[5] = -128;
    block.qs[6] = 127;
    const auto values = decode(block);
    CHECK(values[5] == -32.0f);
    CHECK(values[6] == 31.75f);
    CHECK(values[7] == 0.0f);
  }
}

TEST_CASE("io.dequantize: hand-worked K blocks", "[dequantize]") {
  // Sub-block 1: scale 1 and min 2 in the low 6 bits of bytes 1 and 5, whose top bits (3 and 1)
  // are the high bits of sub-block 5's scale and min; byte 9 holds their low bits (3 and 7).
  std::array<std::uint8_t, 12> scales{};
  scales[1] = 0xC1;
  scales[5] = 0x42;
  scales[9] = 0x73;
  CHECK(act::io::unpack_scale_min(scales, 1).scale == 1);
  CHECK(act::io::unpack_scale_min(scales, 1).min == 2);
  CHECK(act::io::unpack_scale_min(scales, 5).scale == 51);  // 3 | 3 << 4
  CHECK(act::io::unpack_scale_min(scales, 5).min == 23);    // 7 | 1 << 4

  SECTION("Q4_K: sub-block s reads nibble s % 2 of qs[s / 2 * 32 + l]") {
    act::io::BlockQ4K block{f16_one, f16_half, scales, {}};
    block.qs[64] = 0xA0;  // sub-block 5, l = 0: high nibble 10
    block.qs[3] = 0x50;   // sub-block 1, l = 3: high nibble 5
    const auto values = decode(block);
    CHECK(values[160] == 498.5f);  // 1 * 51 * 10 - 0.5 * 23
    CHECK(values[35] == 4.0f);     // 1 * 1 * 5 - 0.5 * 2
    CHECK(values[3] == 0.0f);      // sub-block 0: scale 0, min 0
  }
  SECTION("Q5_K: bit s of qh[l] is bit 4 of sub-block s's quant l") {
    act::io::BlockQ5K block{f16_one, f16_half, scales, {}, {}};
    block.qs[64] = 0xA0;
    block.qh[0] = 0x20;  // bit 5
    const auto values = decode(block);
    CHECK(values[160] == 1314.5f);  // 51 * (10 | 16) - 11.5
    CHECK(values[161] == -11.5f);   // quant 0
  }
  SECTION("Q6_K: element 200 is half 1, group 2, l 8") {
    act::io::BlockQ6K block{};
    block.d = f16_one;
    block.ql[72] = 0xB0;    // 64 + 8, high nibble for groups 2 and 3: 11
    block.qh[40] = 0x20;    // 32 + 8, bits 4-5 for group 2: 2
    block.scales[12] = -3;  // 200 / 16
    const auto values = decode(block);
    CHECK(values[200] == -33.0f);  // -3 * ((11 | 2 << 4) - 32)
    CHECK(values[201] == 96.0f);   // -3 * (0 - 32)
  }
}

TEST_CASE("io.dequantize: sizes and argument checks", "[dequantize]") {
  CHECK(act::io::block_size(GgmlType::q4_1) == 32);
  CHECK(act::io::block_size(GgmlType::q6_k) == 256);
  CHECK(act::io::block_size(GgmlType::bf16) == 1);
  CHECK(act::io::row_bytes(GgmlType::q4_1, 576) == 18 * 20);
  CHECK(act::io::row_bytes(GgmlType::q4_k, 512) == 2 * 144);
  CHECK(act::io::row_bytes(GgmlType::f16, 3) == 6);
  CHECK(act::io::row_bytes(GgmlType::q8_0, 0) == 0);
  CHECK_THROWS_AS(act::io::row_bytes(GgmlType::q4_0, 31), std::invalid_argument);
  CHECK_THROWS_AS(act::io::row_bytes(GgmlType::f64, std::uint64_t{1} << 62), std::overflow_error);
  CHECK_THROWS_AS(act::io::row_bytes(static_cast<GgmlType>(4), 32), std::invalid_argument);
  CHECK(act::io::type_name(GgmlType::q5_k) == "Q5_K");
  CHECK(act::io::type_name(static_cast<GgmlType>(999)) == "unknown");

  std::vector<float> out(32);
  const std::vector<std::byte> block(34);
  act::io::dequantize_row(GgmlType::q8_0, block, out);  // the exact size is accepted
  CHECK_THROWS_AS(act::io::dequantize_row(GgmlType::q8_0, std::span(block).first(33), out), std::invalid_argument);
  const std::vector<std::byte> longer(35);
  CHECK_THROWS_AS(act::io::dequantize_row(GgmlType::q8_0, longer, out), std::invalid_argument);
  CHECK_THROWS_AS(act::io::dequantize_row(GgmlType::q8_0, block, std::span(out).first(31)), std::invalid_argument);
  CHECK_THROWS_AS(act::io::dequantize_row(GgmlType::q2_k, block, out), act::UnsupportedError);
  CHECK_FALSE(act::io::can_dequantize(GgmlType::iq4_nl));
  CHECK(act::io::can_dequantize(GgmlType::q5_1));
}

namespace {

// Compares sampled values bit for bit and row checksums against the golden record of one model.
void check_model(const nlohmann::json& model, const std::filesystem::path& path) {
  const auto file = act::io::GgufFile::open(path);
  for (const auto& golden : model.at("tensors")) {
    const auto& info = file.tensor(golden.at("name").get<std::string>());
    INFO("tensor " << info.name);
    CHECK(act::io::type_name(info.type) == golden.at("type").get<std::string>());
    REQUIRE(info.dims == golden.at("dims").get<std::vector<std::uint64_t>>());
    const std::vector<float> values = act::io::dequantize(file, info);
    REQUIRE(values.size() == info.element_count);

    const auto indices = golden.at("indices").get<std::vector<std::size_t>>();
    const auto expected = golden.at("expected_bits").get<std::vector<std::uint32_t>>();
    REQUIRE(indices.size() == expected.size());
    for (std::size_t k = 0; k < indices.size(); ++k) {
      INFO("flat index " << indices[k]);
      CHECK(bits(values.at(indices[k])) == expected[k]);
    }
    // The reference sums are correctly rounded (math.fsum); a sequential double sum of n terms
    // is within (n - 1) * 2^-53 * sum|x| of it, under 1e-12 * sum|x| for rows up to 9000 long.
    const std::size_t row_length = info.dims[0];
    for (const auto& row : golden.at("rows")) {
      const std::size_t r = row.at("row");
      double sum = 0.0, sum_squares = 0.0;
      for (std::size_t i = r * row_length; i < (r + 1) * row_length; ++i) {
        sum += values[i];
        sum_squares += static_cast<double>(values[i]) * values[i];
      }
      INFO("row " << r);
      CHECK(std::abs(sum - row.at("sum").get<double>()) <= 1e-12 * row.at("sum_abs").get<double>());
      CHECK(std::abs(sum_squares - row.at("sum_squares").get<double>()) <= 1e-12 * row.at("sum_squares").get<double>());
    }
  }
}

}  // namespace

TEST_CASE("io.dequantize: stories260K tensors match the gguf package", "[shared]") {
  const auto path = act::testing::stories_path();
  REQUIRE(path);
  check_model(load_golden("dequant_models.json").at("models").at("stories260K"), *path);
}

TEST_CASE("io.dequantize: SmolLM2 Q8_0, Q4_1 and F32 tensors match the gguf package", "[smollm]") {
  const auto path = act::testing::smollm_path();
  REQUIRE(path);
  check_model(load_golden("dequant_models.json").at("models").at("smollm2"), *path);
}
