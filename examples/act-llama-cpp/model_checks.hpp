#pragma once
// Checks of a GGUF file before llama.cpp loads it. llama.cpp stops the whole process (GGML_ASSERT,
// then abort) on some malformed files that act-llama reports as errors: a block count of 0 or above
// its layer limit, a negative or NaN norm epsilon, tensor data not aligned for ggml's buffers. The
// file is read with the library's GGUF reader first, so such a file ends in one error line instead.
#include <act/core/error.hpp>
#include <act/io/gguf.hpp>
#include <act/io/gguf_blocks.hpp>
#include <act/model/llama_config.hpp>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>

namespace act_llama_cpp {

// LLAMA_MAX_LAYERS (src/llama-hparams.h of the pinned llama.cpp) and ggml's TENSOR_ALIGNMENT.
inline constexpr std::uint64_t llama_cpp_max_layers = 512;
inline constexpr std::uint64_t ggml_tensor_alignment = 32;

inline void check_block_count_for_llama_cpp(const act::io::GgufFile& file, const std::string& arch) {
  const auto blocks = file.find_uint(arch + ".block_count");
  if (!blocks || *blocks == 0 || *blocks > llama_cpp_max_layers)
    throw act::FormatError(file.name() + ": " + arch + ".block_count must be in 1.." +
                           std::to_string(llama_cpp_max_layers) + " for llama.cpp" +
                           (blocks ? " (got " + std::to_string(*blocks) + ")" : " (missing)"));
  act::io::check_block_count(file, *blocks);
}

inline void check_norm_epsilons(const act::io::GgufFile& file, const std::string& arch) {
  for (const char* key : {".attention.layer_norm_rms_epsilon", ".attention.layer_norm_epsilon"}) {
    const auto epsilon = file.find_float(arch + key);
    if (epsilon && !(std::isfinite(*epsilon) && *epsilon > 0.0f && *epsilon < 1.0f))
      throw act::FormatError(file.name() + ": " + arch + key + " " + std::to_string(*epsilon) + " must be in (0, 1)");
  }
}

inline void check_tensor_alignment(const act::io::GgufFile& file) {
  for (const act::io::GgufTensorInfo& tensor : file.tensors())
    if ((file.data_offset() + tensor.offset) % ggml_tensor_alignment != 0)
      throw act::FormatError(file.name() + ": tensor '" + tensor.name + "' data starts at byte " +
                             std::to_string(file.data_offset() + tensor.offset) + ", not a multiple of " +
                             std::to_string(ggml_tensor_alignment) + " (llama.cpp's buffers need that alignment)");
}

// Throws act::FormatError (or act::UnsupportedError) for a file llama.cpp would abort on.
inline void check_model_for_llama_cpp(const std::filesystem::path& path) {
  const act::io::GgufFile file = act::io::GgufFile::open(path);
  const std::string arch = file.find_string("general.architecture").value_or("");
  if (arch == "llama") (void)act::model::LlamaConfig::from_gguf(file);  // every hyper-parameter act-llama checks
  check_block_count_for_llama_cpp(file, arch);
  check_norm_epsilons(file, arch);
  check_tensor_alignment(file);
}

}  // namespace act_llama_cpp
