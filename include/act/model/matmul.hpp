#pragma once
// y = x W^T for activations x [n, cols] and a weight matrix W [rows, cols], on OpenMP threads.
// Few rows (decode): each weight row is decoded in registers and dotted with every activation row,
// so the weights are read once in their compact form. Many rows (prefill): tiles of weight rows
// are decoded to float and handed to the GEMM, whose cost then dwarfs the decoding.
#include <act/core/parallel.hpp>
#include <act/model/gemm.hpp>
#include <act/model/int8_activations.hpp>
#include <act/model/weight_matrix.hpp>

#include <algorithm>
#include <cstddef>
#include <span>
#include <vector>

namespace act::model {

// The activations decode's products (fewer than gemm_min_rows rows) multiply Q4_1 and Q8_0 weights
// with: as float32, or rounded to int8 per block of 32 (int8_activations.hpp: integer products,
// faster, less accurate). F32 weights and the prefill's GEMM always take float32 activations.
enum class DecodeActivations { f32, int8 };

struct MatmulOptions {
  const Gemm* gemm = nullptr;  // nullptr: portable_gemm
  int threads = 1;
  DecodeActivations decode = DecodeActivations::f32;
};

// One product y = x W^T of a group that shares the input x (Q, K and V; gate and up).
struct MatmulOutput {
  const WeightMatrix* weights;
  float* y;
};

namespace detail {

// Below this many activation rows the fused dot products beat decoding tiles for a GEMM.
inline constexpr std::size_t gemm_min_rows = 8;
// Weight rows per GEMM tile: the decoded tile (rows x cols floats) stays cache-sized.
inline constexpr std::size_t gemm_tile_rows = 128;

// The rows of every output of the group form one parallel loop: decode runs hundreds of these per
// token, so each fork/join saved counts. dot_row(w, r, y) writes weight row r's products to y.
template <class DotRow>
void matmul_fused(std::span<const MatmulOutput> outputs, int threads, DotRow dot_row) {
  std::size_t total = 0;
  for (const MatmulOutput& o : outputs) total += o.weights->rows();
  ACT_OMP(parallel for num_threads(threads) schedule(static))
  for (std::ptrdiff_t index = 0; index < static_cast<std::ptrdiff_t>(total); ++index) {
    auto r = static_cast<std::size_t>(index);
    const MatmulOutput* o = outputs.data();
    while (r >= o->weights->rows()) r -= (o++)->weights->rows();
    dot_row(*o->weights, r, o->y + r);
  }
}

// The calling thread's prepared activations (block sums, or int8 rounding), reused by every product
// it runs: the model's calls are const and may come from several threads at once, so the buffer
// cannot be the model's.
template <class Activations>
Activations& calling_thread_buffer() {
  thread_local Activations buffer;
  return buffer;
}

// Decode's products: x rounded to int8 first when asked for and some weights are quantised. The
// references to the buffers are made here: the worker threads must read this thread's buffers, not
// their own.
inline void matmul_decode(std::span<const MatmulOutput> outputs, const float* x, std::size_t n,
                          DecodeActivations activations, int threads) {
  if (outputs.empty()) return;
  const std::size_t cols = outputs.front().weights->cols();
  FloatActivations& floats = calling_thread_buffer<FloatActivations>();
  floats.prepare(x, n, cols);
  const auto float_row = [&floats, n](const WeightMatrix& w, std::size_t r, float* y) {
    dot_rows(w.type(), w.row(r), w.cols(), floats, n, y, w.rows());
  };
  const bool quantised = std::any_of(outputs.begin(), outputs.end(),
                                     [](const MatmulOutput& o) { return o.weights->type() != io::GgmlType::f32; });
  if (activations == DecodeActivations::f32 || !quantised) return matmul_fused(outputs, threads, float_row);
  Int8Activations& rounded = calling_thread_buffer<Int8Activations>();
  rounded.quantize(x, n, cols);
  matmul_fused(outputs, threads, [&rounded, &float_row, n](const WeightMatrix& w, std::size_t r, float* y) {
    if (w.type() == io::GgmlType::f32) return float_row(w, r, y);
    dot_rows_int8(w.type(), w.row(r), w.cols(), rounded, n, y, w.rows());
  });
}

inline void matmul_tiled(const WeightMatrix& w, const float* x, std::size_t n, float* y, const Gemm& gemm,
                         int threads) {
  const std::size_t workers = static_cast<std::size_t>(threads);
  // A multiple of the thread count, so every thread gets the same number of tiles.
  const std::size_t tiles = workers * ((w.rows() + workers * gemm_tile_rows - 1) / (workers * gemm_tile_rows));
  const std::size_t tile_rows = (w.rows() + tiles - 1) / tiles;
  // A user-supplied GEMM may throw: the first exception is carried out of the region.
  parallel::FirstException failure;
  ACT_OMP(parallel num_threads(threads)) {
    std::vector<float> decoded;
    ACT_OMP(for schedule(static))
    for (std::ptrdiff_t t = 0; t < static_cast<std::ptrdiff_t>(tiles); ++t) {
      const std::size_t first = static_cast<std::size_t>(t) * tile_rows;
      if (first >= w.rows()) continue;
      failure.guard([&] {
        const std::size_t count = std::min(tile_rows, w.rows() - first);
        const float* tile = w.f32_rows() != nullptr ? w.f32_rows() + first * w.cols() : nullptr;
        if (tile == nullptr) {
          decoded.resize(count * w.cols());
          for (std::size_t r = 0; r < count; ++r) w.decode_row(first + r, decoded.data() + r * w.cols());
          tile = decoded.data();
        }
        gemm({n, count, w.cols(), x, w.cols(), tile, w.cols(), y + first, w.rows()});
      });
    }
  }
  failure.rethrow();
}

}  // namespace detail

// For each output: y [n, rows] = x [n, cols] * W^T, all row-major and contiguous, W [rows, cols].
inline void matmul(std::span<const MatmulOutput> outputs, const float* x, std::size_t n, const MatmulOptions& options) {
  const int threads = parallel::resolve_threads(options.threads);
  if (n < detail::gemm_min_rows) {
    detail::matmul_decode(outputs, x, n, options.decode, threads);
    return;
  }
  static const Gemm fallback = portable_gemm();
  for (const MatmulOutput& o : outputs)
    detail::matmul_tiled(*o.weights, x, n, o.y, options.gemm != nullptr ? *options.gemm : fallback, threads);
}

// y [n, w.rows()] = x [n, w.cols()] * w^T.
inline void matmul(const WeightMatrix& w, const float* x, std::size_t n, float* y, const MatmulOptions& options) {
  const MatmulOutput output{&w, y};
  matmul(std::span(&output, 1), x, n, options);
}

}  // namespace act::model
