# The kernels are templates compiled in the consumer's translation units, so the instruction
# set is a property of the interface target. xsimd picks the widest architecture enabled.
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
