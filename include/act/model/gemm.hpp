#pragma once
// The matrix product the model's prefill runs on, as a replaceable function object: the library
// stays free of a BLAS dependency (portable_gemm below), and a program that links one passes a
// faster kernel (blas_gemm.hpp). The model calls it on tiles from several OpenMP threads at once,
// so an implementation must be safe to call concurrently and should not start threads of its own.
#include <act/model/vector_ops.hpp>

#include <cstddef>
#include <functional>

namespace act::model {

// C[m x n] = A[m x k] * B[n x k]^T, row-major with leading dimensions (elements between rows).
// A holds activations (one token per row), B a tile of weight rows (one output feature per row).
struct GemmArgs {
  std::size_t m, n, k;
  const float* a;
  std::size_t lda;
  const float* b;
  std::size_t ldb;
  float* c;
  std::size_t ldc;
};

using Gemm = std::function<void(const GemmArgs&)>;

// Dot products in blocks of four activation rows, so each weight row is read once per four.
inline void portable_gemm_kernel(const GemmArgs& g) {
  constexpr std::size_t block = 4;
  for (std::size_t i0 = 0; i0 < g.m; i0 += block) {
    const std::size_t rows = g.m - i0 < block ? g.m - i0 : block;
    for (std::size_t j = 0; j < g.n; ++j) {
      const float* weights = g.b + j * g.ldb;
      for (std::size_t i = i0; i < i0 + rows; ++i) g.c[i * g.ldc + j] = dot(g.a + i * g.lda, weights, g.k);
    }
  }
}

inline Gemm portable_gemm() { return portable_gemm_kernel; }

}  // namespace act::model
