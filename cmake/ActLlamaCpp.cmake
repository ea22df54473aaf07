# llama.cpp and ggml, optional: the pinned source that tools/fetch_llama_cpp.sh builds into the
# cache (ACT_LLAMA_CPP_PREFIX, default: where that script installs it), else an installed one.
# Found, they add the act-llama-cpp runner, its tests and ggml's flash attention as a benchmark
# baseline; absent, those are skipped with a message. The library itself never needs them.
set(act_default_llama_prefix "")
if(DEFINED ENV{ACT_CACHE_DIR})
  set(act_default_llama_prefix "$ENV{ACT_CACHE_DIR}/llama-cpp-0.3.36/install")
elseif(DEFINED ENV{HOME})
  set(act_default_llama_prefix "$ENV{HOME}/.cache/act/llama-cpp-0.3.36/install")
endif()
set(ACT_LLAMA_CPP_PREFIX "${act_default_llama_prefix}" CACHE PATH
    "Install prefix of llama.cpp (tools/fetch_llama_cpp.sh prints it); empty: the system's")
find_package(ggml CONFIG QUIET HINTS "${ACT_LLAMA_CPP_PREFIX}")
find_package(llama CONFIG QUIET HINTS "${ACT_LLAMA_CPP_PREFIX}")
