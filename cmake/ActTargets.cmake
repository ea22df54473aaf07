# The library's layered INTERFACE targets, each a set of include folders and the dependencies its
# headers need:
#   act::act     core, simd, policies, kernels — what an engine includes (act/act.hpp): xsimd and,
#                unless ACT_WITH_OPENMP is off, OpenMP. No architecture flag: the kernels are
#                compiled for whatever the consumer's translation units enable.
#   act::native  opt-in instruction-set flags from ACT_SIMD_ARCH (native, avx512, avx2, none).
#   act::heads   head-set files (act/heads): act::act + nlohmann_json.
#   act::llama   GGUF, tokenizers, the reference Llama model (act/io, act/text, act/model): act::heads.
#   act::eval    tasks, prompts, scoring, head search, sink inspection (act/eval): act::llama.
# The headers all live under one include folder; a target's dependencies are what make its
# headers usable, and tests/package builds one consumer per target to prove it.
function(act_add_interface name export_name)
  add_library(${name} INTERFACE)
  add_library(act::${export_name} ALIAS ${name})
  set_target_properties(${name} PROPERTIES EXPORT_NAME ${export_name})
  target_link_libraries(${name} INTERFACE ${ARGN})
endfunction()

act_add_interface(act act xsimd)
if(ACT_WITH_OPENMP)
  target_link_libraries(act INTERFACE OpenMP::OpenMP_CXX)
endif()
target_compile_features(act INTERFACE cxx_std_20)
target_include_directories(act INTERFACE
  $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)

act_add_interface(act_native native)
include(cmake/ActSimdArch.cmake)
act_apply_simd_arch(act_native "${ACT_SIMD_ARCH}")

set(ACT_COMPONENTS "")
if(nlohmann_json_FOUND)
  act_add_interface(act_heads heads act nlohmann_json::nlohmann_json)
  act_add_interface(act_llama llama act_heads)
  act_add_interface(act_eval eval act_llama)
  set(ACT_COMPONENTS heads llama eval)
else()
  message(STATUS "act: nlohmann_json not found; only act::act and act::native are defined")
endif()
