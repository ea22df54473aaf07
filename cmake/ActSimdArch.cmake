# Instruction-set flags for act::native. The kernels are templates compiled in the consumer's
# translation units, so the instruction set is the consumer's choice: link act::native, pass your
# own flags, or neither (xsimd then uses the baseline of the target, SSE2 on x86-64).
function(act_apply_simd_arch target arch)
  if(arch STREQUAL "native")
    target_compile_options(${target} INTERFACE -march=native)
  elseif(arch STREQUAL "avx512")
    target_compile_options(${target} INTERFACE -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx2 -mfma -mf16c)
  elseif(arch STREQUAL "avx2")
    target_compile_options(${target} INTERFACE -mavx2 -mfma -mf16c)
  elseif(NOT arch STREQUAL "none")
    message(FATAL_ERROR "ACT_SIMD_ARCH must be native, avx512, avx2 or none (got '${arch}')")
  endif()
endfunction()
