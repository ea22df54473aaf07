#pragma once
// Where tests find data they do not ship: ../shared (evaluation data, stories260K) and the fetched
// SmolLM2 model. Tests needing them are tagged [shared] or [smollm] and run in their own CTest
// entries, which report "skipped" when the data is absent.
#include <cstdlib>
#include <filesystem>
#include <optional>

namespace act::testing {

inline std::optional<std::filesystem::path> existing(const std::filesystem::path& p) {
  if (std::filesystem::exists(p)) return p;
  return std::nullopt;
}

// ACT_SHARED_DIR, else the `shared` folder beside the source checkout.
inline std::optional<std::filesystem::path> shared_dir() {
  if (const char* env = std::getenv("ACT_SHARED_DIR")) return existing(env);
  return existing(std::filesystem::path(ACT_SOURCE_DIR) / ".." / "shared");
}

// ACT_MODEL, else the cache the fetch script fills (ACT_CACHE_DIR or ~/.cache/act).
inline std::optional<std::filesystem::path> smollm_path() {
  if (const char* env = std::getenv("ACT_MODEL")) return existing(env);
  std::filesystem::path cache;
  if (const char* dir = std::getenv("ACT_CACHE_DIR")) {
    cache = dir;
  } else if (const char* home = std::getenv("HOME")) {
    cache = std::filesystem::path(home) / ".cache" / "act";
  } else {
    return std::nullopt;
  }
  return existing(cache / "SmolLM2-135M-Instruct.Q4_1.gguf");
}

inline std::optional<std::filesystem::path> stories_path() {
  if (auto dir = shared_dir()) return existing(*dir / "models" / "stories260K.gguf");
  return std::nullopt;
}

}  // namespace act::testing
