#pragma once
// The layer blocks a GGUF file holds. Tensors of layer N are named "blk.N.<name>"; a file whose
// `<arch>.block_count` is smaller than the blocks it holds would load and run without its last
// layers, unseen (a larger count fails later, on the first missing tensor). Engines, llama.cpp
// among them, trust the count, so it is checked against the tensors before they read it.
#include <act/core/error.hpp>
#include <act/io/gguf.hpp>

#include <charconv>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace act::io {

// The layer index of a "blk.N.<name>" tensor; nullopt for other names (token_embd.weight, ...).
inline std::optional<std::size_t> block_index(std::string_view tensor_name) noexcept {
  constexpr std::string_view prefix = "blk.";
  if (!tensor_name.starts_with(prefix)) return std::nullopt;
  const char* first = tensor_name.data() + prefix.size();
  const char* last = tensor_name.data() + tensor_name.size();
  std::size_t index = 0;
  const auto [end, error] = std::from_chars(first, last, index);
  if (error != std::errc{} || end == first || end == last || *end != '.') return std::nullopt;
  return index;
}

// One more than the highest layer index among the file's tensors (0 when it has no blk tensors).
inline std::size_t blocks_in_tensors(const GgufFile& file) noexcept {
  std::size_t blocks = 0;
  for (const GgufTensorInfo& tensor : file.tensors())
    if (const auto index = block_index(tensor.name); index && *index + 1 > blocks) blocks = *index + 1;
  return blocks;
}

// Throws FormatError unless `block_count` (the file's `<arch>.block_count`) covers every layer
// whose tensors the file holds.
inline void check_block_count(const GgufFile& file, std::uint64_t block_count) {
  const std::size_t held = blocks_in_tensors(file);
  if (held > block_count)
    throw FormatError(file.name() + ": block_count is " + std::to_string(block_count) +
                      " but the file holds tensors of " + std::to_string(held) + " layers (blk.0 to blk." +
                      std::to_string(held - 1) + ")");
}

}  // namespace act::io
