#pragma once
// ggml tensor element types as stored in GGUF files, with the block layout of each: a tensor row
// is a sequence of blocks, each holding `block_size` elements in `block_bytes` bytes. Layouts are
// known for every type below, so a GGUF reader can validate any tensor's data range; only some
// types can be dequantised (see can_dequantize in dequantize.hpp).
#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace act::io {

enum class GgmlType : std::uint32_t {
  f32 = 0,
  f16 = 1,
  q4_0 = 2,
  q4_1 = 3,
  q5_0 = 6,
  q5_1 = 7,
  q8_0 = 8,
  q8_1 = 9,
  q2_k = 10,
  q3_k = 11,
  q4_k = 12,
  q5_k = 13,
  q6_k = 14,
  q8_k = 15,
  iq2_xxs = 16,
  iq2_xs = 17,
  iq3_xxs = 18,
  iq1_s = 19,
  iq4_nl = 20,
  iq3_s = 21,
  iq2_s = 22,
  iq4_xs = 23,
  i8 = 24,
  i16 = 25,
  i32 = 26,
  i64 = 27,
  f64 = 28,
  iq1_m = 29,
  bf16 = 30,
  tq1_0 = 34,
  tq2_0 = 35,
  mxfp4 = 39,
};

struct GgmlTypeTraits {
  GgmlType type;
  std::string_view name;
  std::uint32_t block_size;   // elements per block
  std::uint32_t block_bytes;  // bytes per block
};

inline constexpr std::array<GgmlTypeTraits, 32> kGgmlTypeTraits{{
    {GgmlType::f32, "F32", 1, 4},
    {GgmlType::f16, "F16", 1, 2},
    {GgmlType::q4_0, "Q4_0", 32, 18},
    {GgmlType::q4_1, "Q4_1", 32, 20},
    {GgmlType::q5_0, "Q5_0", 32, 22},
    {GgmlType::q5_1, "Q5_1", 32, 24},
    {GgmlType::q8_0, "Q8_0", 32, 34},
    {GgmlType::q8_1, "Q8_1", 32, 40},
    {GgmlType::q2_k, "Q2_K", 256, 84},
    {GgmlType::q3_k, "Q3_K", 256, 110},
    {GgmlType::q4_k, "Q4_K", 256, 144},
    {GgmlType::q5_k, "Q5_K", 256, 176},
    {GgmlType::q6_k, "Q6_K", 256, 210},
    {GgmlType::q8_k, "Q8_K", 256, 292},
    {GgmlType::iq2_xxs, "IQ2_XXS", 256, 66},
    {GgmlType::iq2_xs, "IQ2_XS", 256, 74},
    {GgmlType::iq3_xxs, "IQ3_XXS", 256, 98},
    {GgmlType::iq1_s, "IQ1_S", 256, 50},
    {GgmlType::iq4_nl, "IQ4_NL", 32, 18},
    {GgmlType::iq3_s, "IQ3_S", 256, 110},
    {GgmlType::iq2_s, "IQ2_S", 256, 82},
    {GgmlType::iq4_xs, "IQ4_XS", 256, 136},
    {GgmlType::i8, "I8", 1, 1},
    {GgmlType::i16, "I16", 1, 2},
    {GgmlType::i32, "I32", 1, 4},
    {GgmlType::i64, "I64", 1, 8},
    {GgmlType::f64, "F64", 1, 8},
    {GgmlType::iq1_m, "IQ1_M", 256, 56},
    {GgmlType::bf16, "BF16", 1, 2},
    {GgmlType::tq1_0, "TQ1_0", 256, 54},
    {GgmlType::tq2_0, "TQ2_0", 256, 66},
    {GgmlType::mxfp4, "MXFP4", 32, 17},
}};

// Traits of a raw type id as read from a file; nullopt for ids this library does not know.
constexpr std::optional<GgmlTypeTraits> find_type_traits(std::uint32_t type_id) noexcept {
  for (const GgmlTypeTraits& traits : kGgmlTypeTraits) {
    if (static_cast<std::uint32_t>(traits.type) == type_id) return traits;
  }
  return std::nullopt;
}

// Traits of a type; throws std::invalid_argument for a value outside the enumeration.
inline GgmlTypeTraits type_traits(GgmlType type) {
  if (auto traits = find_type_traits(static_cast<std::uint32_t>(type))) return *traits;
  throw std::invalid_argument("unknown ggml type id " + std::to_string(static_cast<std::uint32_t>(type)));
}

// "Q4_1", ...; "unknown" for a value outside the enumeration.
constexpr std::string_view type_name(GgmlType type) noexcept {
  if (auto traits = find_type_traits(static_cast<std::uint32_t>(type))) return traits->name;
  return "unknown";
}

inline std::uint32_t block_size(GgmlType type) { return type_traits(type).block_size; }

// Byte size of `elements` consecutive elements of `type`, which must fill whole blocks.
// Throws std::invalid_argument for a partial block and std::overflow_error past 2^64 bytes.
inline std::uint64_t row_bytes(GgmlType type, std::uint64_t elements) {
  const GgmlTypeTraits traits = type_traits(type);
  if (elements % traits.block_size != 0) {
    throw std::invalid_argument(std::to_string(elements) + " elements of " + std::string(traits.name) +
                                " do not fill whole blocks of " + std::to_string(traits.block_size));
  }
  const std::uint64_t blocks = elements / traits.block_size;
  if (blocks > std::numeric_limits<std::uint64_t>::max() / traits.block_bytes) {
    throw std::overflow_error("byte size of " + std::to_string(elements) + " " + std::string(traits.name) +
                              " elements overflows 64 bits");
  }
  return blocks * traits.block_bytes;
}

}  // namespace act::io
