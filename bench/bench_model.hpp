#pragma once
// Where the benchmarks that run SmolLM2 find it: ACT_MODEL, else where tools/fetch_model.sh
// caches it (ACT_CACHE_DIR, default ~/.cache/act).
#include "model_cache.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>

namespace act_bench {

inline std::filesystem::path model_path() {
  if (const char* path = std::getenv("ACT_MODEL")) return path;
  return act_llama::default_model_path();
}

// The model's path, or nothing after telling stderr that `program` registers no case without it.
inline std::optional<std::filesystem::path> model_or_say_why(const char* program) {
  std::filesystem::path path = model_path();
  if (std::filesystem::is_regular_file(path)) return path;
  std::fprintf(stderr, "%s: no model at %s (run tools/fetch_model.sh or set ACT_MODEL): no case registered\n", program,
               path.string().c_str());
  return std::nullopt;
}

}  // namespace act_bench
