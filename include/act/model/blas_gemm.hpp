#pragma once
// The model's GEMM on a CBLAS library (OpenBLAS, BLIS, MKL...). Not included by any other act
// header: a program that wants it includes this file and links a BLAS, e.g. in CMake
// `find_package(BLAS)` and `target_link_libraries(app PRIVATE BLAS::BLAS)`.
#include <act/model/gemm.hpp>

#include <cblas.h>

#include <array>
#include <string_view>

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

// Whether the BLAS is an OpenBLAS that runs kernels written for CPUs without AVX2 and FMA on a CPU
// that has them. An OpenBLAS built for many CPUs picks its kernels by CPU model when it loads, and
// on a model it does not know (0.3.21 on a recent Xeon under a hypervisor) it falls back to its
// SSE3 "Prescott" ones: the runner's prefill took 3.7x as long as with its AVX-512 kernels there.
// The library's own GEMM (f32_gemm(), row_gemm.hpp) is then the better choice.
inline bool blas_kernels_older_than_cpu() {
#if defined(OPENBLAS_VERSION) && (defined(__x86_64__) || defined(__i386__))
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return false;
  // OpenBLAS's names of the x86 cores it has kernels for that predate AVX2 and FMA.
  constexpr std::array<std::string_view, 18> without_fma{
      "Unknown",    "Katmai",  "Coppermine", "Northwood", "Prescott",     "Banias",    "Atom", "Core2",       "Penryn",
      "Dunnington", "Nehalem", "Athlon",     "Opteron",   "Opteron_SSE3", "Barcelona", "Nano", "Sandybridge", "Bobcat"};
  const char* core = openblas_get_corename();
  if (core == nullptr) return false;
  for (const std::string_view name : without_fma)
    if (name == core) return true;
#endif
  return false;
}

}  // namespace act::model
