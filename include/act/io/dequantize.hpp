#pragma once
// Dequantisation of GGUF tensor data to float: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
// Q4_K, Q5_K and Q6_K. Plain scalar code meant as the reference; per-block routines live in
// quant_blocks.hpp for code that fuses decoding into its own loops.
#include <act/core/error.hpp>
#include <act/io/ggml_types.hpp>
#include <act/io/gguf.hpp>
#include <act/io/quant_blocks.hpp>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace act::io {

namespace detail {

template <class Block>
void dequantize_blocks(std::span<const std::byte> src, std::span<float> dst) {
  for (std::size_t b = 0; b < dst.size() / Block::elements; ++b) {
    Block block;
    std::memcpy(&block, src.data() + b * sizeof(Block), sizeof(Block));
    dequantize_block(block, dst.subspan(b * Block::elements).template first<Block::elements>());
  }
}

template <class Bits, auto convert>
void convert_elements(std::span<const std::byte> src, std::span<float> dst) {
  for (std::size_t i = 0; i < dst.size(); ++i) {
    Bits bits;
    std::memcpy(&bits, src.data() + i * sizeof(Bits), sizeof(Bits));
    dst[i] = convert(bits);
  }
}

constexpr float f32_from_bits(std::uint32_t bits) noexcept { return std::bit_cast<float>(bits); }

using RowDecoder = void (*)(std::span<const std::byte>, std::span<float>);

// The decoder of a type; nullptr for types this library cannot dequantise.
constexpr RowDecoder find_row_decoder(GgmlType type) noexcept {
  switch (type) {
    case GgmlType::f32: return convert_elements<std::uint32_t, f32_from_bits>;
    case GgmlType::f16: return convert_elements<std::uint16_t, f16_to_f32>;
    case GgmlType::bf16: return convert_elements<std::uint16_t, bf16_to_f32>;
    case GgmlType::q4_0: return dequantize_blocks<BlockQ4_0>;
    case GgmlType::q4_1: return dequantize_blocks<BlockQ4_1>;
    case GgmlType::q5_0: return dequantize_blocks<BlockQ5_0>;
    case GgmlType::q5_1: return dequantize_blocks<BlockQ5_1>;
    case GgmlType::q8_0: return dequantize_blocks<BlockQ8_0>;
    case GgmlType::q4_k: return dequantize_blocks<BlockQ4K>;
    case GgmlType::q5_k: return dequantize_blocks<BlockQ5K>;
    case GgmlType::q6_k: return dequantize_blocks<BlockQ6K>;
    default: return nullptr;
  }
}

}  // namespace detail

constexpr bool can_dequantize(GgmlType type) noexcept { return detail::find_row_decoder(type) != nullptr; }

// Decodes dst.size() elements of `type` from `src`. A type this library cannot decode throws
// act::UnsupportedError; dst.size() must be a whole number of blocks and src.size() exactly their
// byte size (std::invalid_argument otherwise).
inline void dequantize_row(GgmlType type, std::span<const std::byte> src, std::span<float> dst) {
  const detail::RowDecoder decoder = detail::find_row_decoder(type);
  if (decoder == nullptr) {
    throw UnsupportedError("cannot dequantize ggml type " + std::string(type_name(type)) + " (id " +
                           std::to_string(static_cast<std::uint32_t>(type)) + ")");
  }
  const std::uint64_t expected_bytes = row_bytes(type, dst.size());
  if (src.size() != expected_bytes) {
    throw std::invalid_argument(std::to_string(dst.size()) + " " + std::string(type_name(type)) + " elements take " +
                                std::to_string(expected_bytes) + " bytes, but " + std::to_string(src.size()) +
                                " were given");
  }
  decoder(src, dst);
}

// The whole tensor as floats, in file order (dims[0] fastest). Throws act::UnsupportedError
// naming the tensor and its type when the type cannot be decoded.
inline std::vector<float> dequantize(const GgufFile& file, const GgufTensorInfo& info) {
  if (!can_dequantize(info.type)) {
    throw UnsupportedError(file.name() + ": tensor '" + info.name + "' has ggml type " +
                           std::string(type_name(info.type)) + " (id " +
                           std::to_string(static_cast<std::uint32_t>(info.type)) + "), which cannot be dequantized");
  }
  std::vector<float> values(static_cast<std::size_t>(info.element_count));
  dequantize_row(info.type, file.tensor_bytes(info), values);
  return values;
}

}  // namespace act::io
