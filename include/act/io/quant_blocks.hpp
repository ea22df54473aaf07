#pragma once
// Block layouts of the quantised ggml types this library decodes, byte for byte as stored in GGUF
// files, and the scalar routines that decode one block. The structs hold only byte arrays and
// 16-bit fields, so they have no padding and may be filled with std::memcpy from file bytes
// (f16 fields hold IEEE half-precision bit patterns).
//
// Every decoded value is one rounding of an exact product: scales are f16 (11 significant bits)
// times small integers, so products fit in float's 24 bits. Results are therefore the same with or
// without fused multiply-add contraction, and equal to the ggml reference formulas bit for bit.
#include <act/core/half.hpp>

#include <array>
#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>

namespace act::io {

static_assert(std::endian::native == std::endian::little,
              "quantised blocks are decoded in place from little-endian file bytes");

using act::bf16_to_f32;
using act::f16_to_f32;

// 32 elements: value = d * (q - 8), q the 4-bit quants.
struct BlockQ4_0 {
  static constexpr std::size_t elements = 32;
  std::uint16_t d;
  std::array<std::uint8_t, 16> qs;  // element j < 16: low nibble of qs[j]; j >= 16: high of qs[j-16]
};

// 32 elements: value = d * q + m.
struct BlockQ4_1 {
  static constexpr std::size_t elements = 32;
  std::uint16_t d;
  std::uint16_t m;
  std::array<std::uint8_t, 16> qs;  // as in BlockQ4_0
};

// 32 elements: value = d * (q - 16), q the 5-bit quants.
struct BlockQ5_0 {
  static constexpr std::size_t elements = 32;
  std::uint16_t d;
  std::array<std::uint8_t, 4> qh;   // little-endian u32; bit j is bit 4 of element j's quant
  std::array<std::uint8_t, 16> qs;  // low 4 bits, as in BlockQ4_0
};

// 32 elements: value = d * q + m.
struct BlockQ5_1 {
  static constexpr std::size_t elements = 32;
  std::uint16_t d;
  std::uint16_t m;
  std::array<std::uint8_t, 4> qh;   // as in BlockQ5_0
  std::array<std::uint8_t, 16> qs;  // as in BlockQ5_0
};

// 32 elements: value = d * qs[j].
struct BlockQ8_0 {
  static constexpr std::size_t elements = 32;
  std::uint16_t d;
  std::array<std::int8_t, 32> qs;
};

// 256 elements in 8 sub-blocks of 32, each with a 6-bit scale and min:
// value = d * scale[s] * q - dmin * min[s].
struct BlockQ4K {
  static constexpr std::size_t elements = 256;
  std::uint16_t d;
  std::uint16_t dmin;
  std::array<std::uint8_t, 12> scales;  // 8 scales and 8 mins, 6 bits each (unpack_scale_min)
  std::array<std::uint8_t, 128> qs;     // sub-block s: nibble s % 2 of qs[s / 2 * 32 + l], l < 32
};

// As BlockQ4K with 5-bit quants.
struct BlockQ5K {
  static constexpr std::size_t elements = 256;
  std::uint16_t d;
  std::uint16_t dmin;
  std::array<std::uint8_t, 12> scales;  // as in BlockQ4K
  std::array<std::uint8_t, 32> qh;      // bit s of qh[l] is bit 4 of sub-block s's quant l
  std::array<std::uint8_t, 128> qs;     // low 4 bits, as in BlockQ4K
};

// 256 elements in 16 groups of 16, each with an 8-bit signed scale:
// value = d * scales[i / 16] * (q - 32), q the 6-bit quants.
struct BlockQ6K {
  static constexpr std::size_t elements = 256;
  std::array<std::uint8_t, 128> ql;  // low 4 bits (see q6k_quant for the arrangement)
  std::array<std::uint8_t, 64> qh;   // high 2 bits
  std::array<std::int8_t, 16> scales;
  std::uint16_t d;
};

static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20 && sizeof(BlockQ5_0) == 22 &&
              sizeof(BlockQ5_1) == 24 && sizeof(BlockQ8_0) == 34 && sizeof(BlockQ4K) == 144 &&
              sizeof(BlockQ5K) == 176 && sizeof(BlockQ6K) == 210);

template <class Block>
concept HasMin = requires(const Block& block) {
  block.m;
};
template <class Block>
concept HasFifthBit = requires(const Block& block) {
  block.qh;
};

template <class Block>
concept LegacyNibbleBlock = std::same_as<Block, BlockQ4_0> || std::same_as<Block, BlockQ4_1> ||
    std::same_as<Block, BlockQ5_0> || std::same_as<Block, BlockQ5_1>;
template <class Block>
concept KNibbleBlock = std::same_as<Block, BlockQ4K> || std::same_as<Block, BlockQ5K>;

constexpr std::uint32_t low_or_high_nibble(std::uint8_t byte, bool high) noexcept {
  return high ? static_cast<std::uint32_t>(byte >> 4) : static_cast<std::uint32_t>(byte & 0x0F);
}

// The 4- or 5-bit quant of element j (< 32) of a legacy block.
template <LegacyNibbleBlock Block>
constexpr std::uint32_t legacy_quant(const Block& block, std::size_t j) noexcept {
  std::uint32_t quant = low_or_high_nibble(block.qs[j % 16], j >= 16);
  if constexpr (HasFifthBit<Block>) {
    const std::uint8_t high_bits = block.qh[j / 8];  // the u32 bit j, read byte-wise
    quant |= ((high_bits >> (j % 8)) & 1u) << 4;
  }
  return quant;
}

template <LegacyNibbleBlock Block>
constexpr void dequantize_block(const Block& block, std::span<float, Block::elements> out) noexcept {
  const float scale = f16_to_f32(block.d);
  for (std::size_t j = 0; j < Block::elements; ++j) {
    const std::uint32_t quant = legacy_quant(block, j);
    if constexpr (HasMin<Block>) {
      out[j] = scale * static_cast<float>(quant) + f16_to_f32(block.m);
    } else {
      // Symmetric blocks store quants offset by half their range: 8 (4-bit) or 16 (5-bit).
      constexpr int zero_point = HasFifthBit<Block> ? 16 : 8;
      out[j] = scale * static_cast<float>(static_cast<int>(quant) - zero_point);
    }
  }
}

constexpr void dequantize_block(const BlockQ8_0& block, std::span<float, BlockQ8_0::elements> out) noexcept {
  const float scale = f16_to_f32(block.d);
  for (std::size_t j = 0; j < BlockQ8_0::elements; ++j) {
    out[j] = scale * static_cast<float>(block.qs[j]);
  }
}

struct ScaleMin {
  std::uint32_t scale;
  std::uint32_t min;
};

// Sub-block s (< 8) of Q4_K/Q5_K: bytes 0-3 hold scales 0-3 and bytes 4-7 mins 0-3 in their low
// 6 bits; scales and mins 4-7 take their low 4 bits from bytes 8-11 and their top 2 bits from the
// spare top bits of bytes 0-3 (scales) and 4-7 (mins).
constexpr ScaleMin unpack_scale_min(const std::array<std::uint8_t, 12>& packed, std::size_t s) noexcept {
  const auto byte = [&packed](std::size_t i) { return static_cast<std::uint32_t>(packed[i]); };
  if (s < 4) return {byte(s) & 0x3Fu, byte(s + 4) & 0x3Fu};
  return {(byte(s + 4) & 0x0Fu) | ((byte(s - 4) >> 6) << 4), (byte(s + 4) >> 4) | ((byte(s) >> 6) << 4)};
}

// The 4- or 5-bit quant l (< 32) of sub-block s (< 8) of a Q4_K/Q5_K block.
template <KNibbleBlock Block>
constexpr std::uint32_t k_quant(const Block& block, std::size_t s, std::size_t l) noexcept {
  std::uint32_t quant = low_or_high_nibble(block.qs[s / 2 * 32 + l], s % 2 == 1);
  if constexpr (HasFifthBit<Block>) quant |= ((block.qh[l] >> s) & 1u) << 4;
  return quant;
}

template <KNibbleBlock Block>
constexpr void dequantize_block(const Block& block, std::span<float, Block::elements> out) noexcept {
  constexpr std::size_t sub_block = 32;
  const float d = f16_to_f32(block.d);
  const float dmin = f16_to_f32(block.dmin);
  for (std::size_t s = 0; s < Block::elements / sub_block; ++s) {
    const ScaleMin packed = unpack_scale_min(block.scales, s);
    const float scale = d * static_cast<float>(packed.scale);
    const float min = dmin * static_cast<float>(packed.min);
    for (std::size_t l = 0; l < sub_block; ++l) {
      out[s * sub_block + l] = scale * static_cast<float>(k_quant(block, s, l)) - min;
    }
  }
}

// The signed 6-bit quant of element i (< 256) of a Q6_K block. Each half of 128 elements uses 64
// ql bytes and 32 qh bytes; its 4 groups of 32 take the low nibbles of ql[0..31], ql[32..63], then
// the high nibbles of the same, and bit pairs 0-1, 2-3, 4-5, 6-7 of qh[0..31].
constexpr int q6k_quant(const BlockQ6K& block, std::size_t i) noexcept {
  const std::size_t half = i / 128;
  const std::size_t group = i % 128 / 32;
  const std::size_t l = i % 32;
  const std::uint32_t low = low_or_high_nibble(block.ql[half * 64 + group % 2 * 32 + l], group >= 2);
  const std::uint32_t high = (block.qh[half * 32 + l] >> (2 * group)) & 0x03u;
  return static_cast<int>(low | (high << 4)) - 32;
}

constexpr void dequantize_block(const BlockQ6K& block, std::span<float, BlockQ6K::elements> out) noexcept {
  const float d = f16_to_f32(block.d);
  for (std::size_t i = 0; i < BlockQ6K::elements; ++i) {
    const float scale = d * static_cast<float>(block.scales[i / 16]);
    out[i] = scale * static_cast<float>(q6k_quant(block, i));
  }
}

}  // namespace act::io
