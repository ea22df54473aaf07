#pragma once
// The model's GEMM on a CBLAS library (OpenBLAS, BLIS, MKL...). Not included by any other act
// header: a program that wants it includes this file and links a BLAS, e.g. in CMake
// `find_package(BLAS)` and `target_link_libraries(app PRIVATE BLAS::BLAS)`.
#include <act/model/gemm.hpp>

#include <cblas.h>

namespace act::model {

inline void blas_gemm_kernel(const GemmArgs& g) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(g.m), static_cast<int>(g.n),
              static_cast<int>(g.k), 1.0f, g.a, static_cast<int>(g.lda), g.b, static_cast<int>(g.ldb), 0.0f, g.c,
              static_cast<int>(g.ldc));
}

// The model parallelises over tiles itself, so each call must stay on its calling thread: with
// OpenBLAS, call openblas_set_num_threads(1) once before (done here when OpenBLAS is detected).
inline Gemm blas_gemm() {
#ifdef OPENBLAS_VERSION
  openblas_set_num_threads(1);
#endif
  return blas_gemm_kernel;
}

}  // namespace act::model
