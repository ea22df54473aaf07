// One matrix-vector product of decode, in SmolLM2-135M's shapes and weight types, with each kind of
// activation (model/matmul.hpp's DecodeActivations), one thread, in the same run:
//   f32   dot_rows: every weight block's quants widened to floats, FMAs with float activations (the
//         activation block sums Q4_1 needs computed once per product, timed)
//   int8  the activation row rounded to int8 per block of 32 (timed: decode does it per product),
//         then integer multiply-adds with the weight quants (int8_activations.hpp)
// Shapes (rows x cols of W): Q4_1 576x1536 (ffn_down), Q4_1 1536x576 (ffn_gate, ffn_up), Q8_0
// 49152x576 (the output matrix). Weights are random bytes with finite half scales of realistic size;
// activations are normal random floats. Counter: weight bytes read per second (GB/s).
#include <act/io/ggml_types.hpp>
#include <act/model/int8_activations.hpp>
#include <act/model/quantized_rows.hpp>

#include <benchmark/benchmark.h>

#include "bench_main.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

using act::io::GgmlType;

struct Matrix {
  GgmlType type;
  std::size_t rows, cols, row_bytes;
  std::vector<std::byte> bytes;
};

// Random quants; every half-precision scale (and Q4_1 minimum) in 0x2000..0x27FF, about 0.008..0.03.
Matrix random_matrix(GgmlType type, std::size_t rows, std::size_t cols) {
  const std::size_t block_bytes = act::io::type_traits(type).block_bytes, halves = type == GgmlType::q4_1 ? 2 : 1;
  Matrix m{type, rows, cols, cols / 32 * block_bytes, std::vector<std::byte>(rows * cols / 32 * block_bytes)};
  std::mt19937 rng(1);
  for (std::byte& b : m.bytes) b = static_cast<std::byte>(rng() & 0xFF);
  for (std::size_t b = 0; b < m.bytes.size(); b += block_bytes)
    for (std::size_t h = 0; h < halves; ++h) {
      const auto half = static_cast<std::uint16_t>(0x2000 | (rng() & 0x7FF));
      std::memcpy(m.bytes.data() + b + 2 * h, &half, sizeof half);
    }
  return m;
}

void bench_matvec(benchmark::State& state, GgmlType type, std::size_t rows, std::size_t cols, bool int8) {
  const Matrix m = random_matrix(type, rows, cols);
  std::vector<float> x(cols), y(rows);
  std::mt19937 rng(2);
  std::normal_distribution<float> normal;
  for (float& v : x) v = normal(rng);
  act::model::Int8Activations rounded;
  act::model::FloatActivations floats;
  for (auto _ : state) {
    if (int8) {
      rounded.quantize(x.data(), 1, cols);
    } else {
      floats.prepare(x.data(), 1, cols);
    }
    for (std::size_t r = 0; r < rows; ++r) {
      const std::byte* row = m.bytes.data() + r * m.row_bytes;
      if (int8) {
        act::model::dot_rows_int8(type, row, cols, rounded, 1, &y[r], 1);
      } else {
        act::model::dot_rows(type, row, cols, floats, 1, &y[r], 1);
      }
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.counters["GB/s"] =
      benchmark::Counter(static_cast<double>(m.bytes.size() * state.iterations()) * 1e-9, benchmark::Counter::kIsRate);
}

void register_all() {
  struct Shape {
    GgmlType type;
    std::size_t rows, cols;
  };
  for (const Shape s :
       {Shape{GgmlType::q4_1, 576, 1536}, Shape{GgmlType::q4_1, 1536, 576}, Shape{GgmlType::q8_0, 49152, 576}})
    for (const bool int8 : {false, true}) {
      const std::string name = "matvec/" + std::string(act::io::type_name(s.type)) + "/" + std::to_string(s.rows) +
                               "x" + std::to_string(s.cols) + "/" + (int8 ? "int8" : "f32");
      benchmark::RegisterBenchmark(name.c_str(), bench_matvec, s.type, s.rows, s.cols, int8);
    }
}

}  // namespace

int main(int argc, char** argv) { return act_bench::run_benchmarks(argc, argv, register_all); }
