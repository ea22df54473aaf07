#pragma once
// Where tools/fetch_model.sh caches SmolLM2: the runner's default model, and the model the benchmarks
// that need one read (bench/). ACT_CACHE_DIR overrides the cache folder, as it does for the script.
#include <cstdlib>
#include <filesystem>

namespace act_llama {

inline std::filesystem::path default_model_path() {
  std::filesystem::path cache;
  if (const char* dir = std::getenv("ACT_CACHE_DIR")) {
    cache = dir;
  } else if (const char* home = std::getenv("HOME")) {
    cache = std::filesystem::path(home) / ".cache" / "act";
  }
  return cache / "SmolLM2-135M-Instruct.Q4_1.gguf";
}

}  // namespace act_llama
