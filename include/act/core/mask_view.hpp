#pragma once
// An additive attention mask as an engine keeps it (llama.cpp's KQ mask: padded cache cells,
// several sequences in one batch, sliding windows): element (h, i, j) is added to the scaled score
// of query i and key j, and -inf hides the key from the query. Stored as float32 or IEEE half, shared
// by every query head (heads = 1) or one matrix per query head, with strides in elements.
#include <act/core/half.hpp>

#include <cstddef>
#include <cstdint>
#include <limits>

namespace act {

enum class MaskType : std::uint8_t { f32, f16 };

struct MaskView {
  const void* data = nullptr;  // null: no mask
  MaskType type = MaskType::f32;
  std::size_t heads = 0;  // 1 (shared) or the number of query heads
  std::size_t rows = 0;   // queries
  std::size_t cols = 0;   // keys (cache cells)
  std::ptrdiff_t head_stride = 0;
  std::ptrdiff_t row_stride = 0;

  bool empty() const noexcept { return data == nullptr; }
  // Query i's row of query head `head` as stored: Element is float (f32) or std::uint16_t (f16 bits).
  template <class Element>
  const Element* row(std::size_t head, std::size_t i) const noexcept {
    return static_cast<const Element*>(data) + static_cast<std::ptrdiff_t>(heads == 1 ? 0 : head) * head_stride +
           static_cast<std::ptrdiff_t>(i) * row_stride;
  }
  // The mask of query head `head`, query i, key j.
  float at(std::size_t head, std::size_t i, std::size_t j) const noexcept {
    const std::ptrdiff_t offset = static_cast<std::ptrdiff_t>(heads == 1 ? 0 : head) * head_stride +
                                  static_cast<std::ptrdiff_t>(i) * row_stride + static_cast<std::ptrdiff_t>(j);
    if (type == MaskType::f16) return f16_to_f32(static_cast<const std::uint16_t*>(data)[offset]);
    return static_cast<const float*>(data)[offset];
  }
};

// [heads][rows][row_stride] float32 mask (row_stride >= cols: padded rows are fine).
inline MaskView mask_view(const float* data, std::size_t heads, std::size_t rows, std::size_t cols,
                          std::size_t row_stride) noexcept {
  return {data,
          MaskType::f32,
          heads,
          rows,
          cols,
          static_cast<std::ptrdiff_t>(rows * row_stride),
          static_cast<std::ptrdiff_t>(row_stride)};
}

// The same for an IEEE half mask (ggml's F16 KQ mask).
inline MaskView mask_view(const std::uint16_t* data, std::size_t heads, std::size_t rows, std::size_t cols,
                          std::size_t row_stride) noexcept {
  MaskView view = mask_view(static_cast<const float*>(nullptr), heads, rows, cols, row_stride);
  view.data = data;
  view.type = MaskType::f16;
  return view;
}

inline constexpr float hidden_key = -std::numeric_limits<float>::infinity();

}  // namespace act
