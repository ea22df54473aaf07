#pragma once
// Random activations and weight matrices (F32, Q4_1, Q8_0) for the model's tests, with a reference
// dequantisation and double-precision dot products to check results against.
#include <act/io/dequantize.hpp>
#include <act/io/gguf.hpp>
#include <act/model/weight_matrix.hpp>

#include "../io/gguf_builder.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

namespace act::testing {

using act::io::GgmlType;
using act::model::WeightMatrix;

inline std::vector<float> random_floats(std::size_t n, std::uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Random blocks of `type` with finite half-precision scales of realistic size (quants random).
inline std::vector<std::byte> random_blocks(GgmlType type, std::size_t blocks, std::uint32_t seed) {
  std::mt19937 rng(seed);
  const std::size_t block_bytes = act::io::type_traits(type).block_bytes;
  std::vector<std::byte> bytes(blocks * block_bytes);
  for (auto& b : bytes) b = static_cast<std::byte>(rng() & 0xFF);
  // f16 0x2000..0x27FF is about 0.008..0.03: typical weight scales, never inf or NaN.
  const std::size_t halves = type == GgmlType::q4_1 ? 2 : 1;
  for (std::size_t b = 0; b < blocks; ++b)
    for (std::size_t h = 0; h < halves; ++h) {
      std::uint16_t half = static_cast<std::uint16_t>(0x2000 | (rng() & 0x7FF) | (h == 1 ? 0x8000 : 0));
      std::memcpy(bytes.data() + b * block_bytes + 2 * h, &half, 2);
    }
  return bytes;
}

inline double reference_dot(const float* a, const float* b, std::size_t n) {
  double s = 0.0;
  for (std::size_t i = 0; i < n; ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

inline double abs_dot(const float* a, const float* b, std::size_t n) {
  double s = 0.0;
  for (std::size_t i = 0; i < n; ++i) s += std::abs(static_cast<double>(a[i]) * b[i]);
  return s;
}

// A [rows, cols] matrix of `type` as a WeightMatrix, through a GGUF built in memory.
struct TestMatrix {
  act::io::GgufFile file;
  WeightMatrix weights;
  std::vector<float> decoded;  // reference decoding, [rows, cols]

  TestMatrix(GgmlType type, std::size_t rows, std::size_t cols, std::uint32_t seed)
      : file(build(type, rows, cols, seed)),
        weights(WeightMatrix::from_gguf(file, file.tensor("w"), rows, cols)),
        decoded(act::io::dequantize(file, file.tensor("w"))) {}

  static act::io::GgufFile build(GgmlType type, std::size_t rows, std::size_t cols, std::uint32_t seed) {
    std::vector<std::byte> data;
    if (type == GgmlType::f32) {
      const auto values = random_floats(rows * cols, seed, 0.05f);
      data.resize(values.size() * sizeof(float));
      std::memcpy(data.data(), values.data(), data.size());
    } else {
      data = random_blocks(type, rows * cols / 32, seed);
    }
    act::testing::GgufBuilder builder;
    builder.tensor({"w", static_cast<std::uint32_t>(type), {cols, rows}, data, std::nullopt});
    return act::io::GgufFile::parse(builder.build(), "matrix.gguf");
  }
};

}  // namespace act::testing
