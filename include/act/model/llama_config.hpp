#pragma once
// Hyper-parameters of a llama-architecture model, read from GGUF metadata (`llama.*` keys) and
// validated before any tensor is touched, so a bad file fails with one clear message.
#include <act/core/error.hpp>
#include <act/io/gguf.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace act::model {

// A model's name as head-set files record it: general.name, else the file name.
inline std::string model_name(const io::GgufFile& file) {
  return file.find_string("general.name").value_or(std::filesystem::path(file.name()).filename().string());
}

struct LlamaConfig {
  std::size_t layers = 0;
  std::size_t dim = 0;       // embedding length
  std::size_t ffn_dim = 0;   // feed-forward (SwiGLU) width
  std::size_t heads = 0;     // query heads
  std::size_t kv_heads = 0;  // key/value heads (grouped-query attention when fewer)
  std::size_t rope_dim = 0;  // leading dimensions of each head that are rotated
  float rope_base = 10000.0f;
  float rms_epsilon = 1e-5f;
  std::size_t context_length = 0;
  std::size_t vocab_size = 0;

  std::size_t head_dim() const noexcept { return dim / heads; }
  std::size_t kv_dim() const noexcept { return kv_heads * head_dim(); }

  // The context a run asks for, in tokens: `requested`, or the model's when 0. Throws
  // std::invalid_argument when `requested` exceeds the model's.
  std::size_t usable_context(std::size_t requested) const {
    if (requested > context_length)
      throw std::invalid_argument("context of " + std::to_string(requested) + " tokens exceeds the model's " +
                                  std::to_string(context_length));
    return requested == 0 ? context_length : requested;
  }

  // Throws FormatError naming `source` and the offending value.
  void validate(const std::string& source = "model") const;

  // Reads `general.architecture` (must be "llama": UnsupportedError otherwise) and the llama.*
  // keys. Optional keys: rope.freq_base (10000), rope.dimension_count (head_dim),
  // attention.head_count_kv (head_count), vocab_size (length of tokenizer.ggml.tokens).
  static LlamaConfig from_gguf(const io::GgufFile& file);
};

namespace detail {

// Bounds far above any llama but low enough that size arithmetic cannot overflow.
inline constexpr std::size_t max_layers = 1024;
inline constexpr std::size_t max_width = std::size_t{1} << 20;
inline constexpr std::size_t max_vocab = std::size_t{1} << 24;
inline constexpr std::size_t max_context = std::size_t{1} << 24;

[[noreturn]] inline void config_error(const std::string& source, const std::string& what) {
  throw FormatError(source + ": invalid llama hyper-parameters: " + what);
}

inline void require_range(const std::string& source, const char* name, std::size_t value, std::size_t limit) {
  if (value == 0 || value > limit)
    config_error(source,
                 std::string(name) + " = " + std::to_string(value) + " (must be in 1.." + std::to_string(limit) + ")");
}

}  // namespace detail

inline void LlamaConfig::validate(const std::string& source) const {
  detail::require_range(source, "block_count", layers, detail::max_layers);
  detail::require_range(source, "embedding_length", dim, detail::max_width);
  detail::require_range(source, "feed_forward_length", ffn_dim, detail::max_width);
  detail::require_range(source, "attention.head_count", heads, dim);
  detail::require_range(source, "attention.head_count_kv", kv_heads, heads);
  detail::require_range(source, "context_length", context_length, detail::max_context);
  detail::require_range(source, "vocab_size", vocab_size, detail::max_vocab);
  if (dim % heads != 0)
    detail::config_error(source, "embedding_length " + std::to_string(dim) + " is not a multiple of head_count " +
                                     std::to_string(heads));
  if (heads % kv_heads != 0)
    detail::config_error(source, "head_count " + std::to_string(heads) + " is not a multiple of head_count_kv " +
                                     std::to_string(kv_heads));
  if (rope_dim == 0 || rope_dim > head_dim() || rope_dim % 2 != 0)
    detail::config_error(source, "rope.dimension_count " + std::to_string(rope_dim) +
                                     " must be even and in 2..head_dim (" + std::to_string(head_dim()) + ")");
  if (!(std::isfinite(rope_base) && rope_base > 1.0f))
    detail::config_error(source, "rope.freq_base " + std::to_string(rope_base) + " must be finite and > 1");
  if (!(std::isfinite(rms_epsilon) && rms_epsilon > 0.0f && rms_epsilon < 1.0f))
    detail::config_error(source,
                         "attention.layer_norm_rms_epsilon " + std::to_string(rms_epsilon) + " must be in (0, 1)");
}

inline LlamaConfig LlamaConfig::from_gguf(const io::GgufFile& file) {
  const std::string architecture = file.find_string("general.architecture").value_or("(none)");
  if (architecture != "llama")
    throw UnsupportedError(file.name() + ": architecture '" + architecture + "' is not supported (only 'llama')");
  const auto size = [&](const char* key) {
    return static_cast<std::size_t>(file.get_uint(std::string("llama.") + key));
  };
  const auto optional_size = [&](const char* key) { return file.find_uint(std::string("llama.") + key); };

  LlamaConfig c;
  c.layers = size("block_count");
  c.dim = size("embedding_length");
  c.ffn_dim = size("feed_forward_length");
  c.heads = size("attention.head_count");
  c.kv_heads = static_cast<std::size_t>(optional_size("attention.head_count_kv").value_or(c.heads));
  c.context_length = size("context_length");
  c.rms_epsilon = file.get_float("llama.attention.layer_norm_rms_epsilon");
  c.rope_base = file.find_float("llama.rope.freq_base").value_or(10000.0f);
  const std::size_t head_dim = c.heads != 0 ? c.dim / c.heads : 0;
  c.rope_dim = static_cast<std::size_t>(optional_size("rope.dimension_count").value_or(head_dim));
  const io::GgufMetadataEntry* tokens = file.find_entry("tokenizer.ggml.tokens");
  if (auto vocab = optional_size("vocab_size")) {
    c.vocab_size = static_cast<std::size_t>(*vocab);
    // Token ids index the embedding and name tokenizer entries alike: both sizes must agree.
    if (tokens && tokens->array_length != c.vocab_size)
      detail::config_error(file.name(), "vocab_size is " + std::to_string(c.vocab_size) +
                                            " but tokenizer.ggml.tokens has " + std::to_string(tokens->array_length) +
                                            " entries");
  } else if (tokens) {
    c.vocab_size = static_cast<std::size_t>(tokens->array_length);
  }
  c.validate(file.name());
  return c;
}

}  // namespace act::model
