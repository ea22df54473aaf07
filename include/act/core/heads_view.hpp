#pragma once
// A strided view of per-head matrices: element (h, i, c) lives at data[h*head_stride + i*row_stride + c].
// Both head-major ([heads, rows, cols]) and token-major ([rows, heads, cols]) buffers fit, so an engine
// can hand its own Q/K/V layout to the kernels without a transpose.
#include <cstddef>

namespace act {

template <class T>
struct HeadsView {
  T* data = nullptr;
  std::size_t heads = 0;
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::ptrdiff_t head_stride = 0;
  std::ptrdiff_t row_stride = 0;

  T* row(std::size_t head, std::size_t index) const noexcept {
    return data + static_cast<std::ptrdiff_t>(head) * head_stride + static_cast<std::ptrdiff_t>(index) * row_stride;
  }
  operator HeadsView<const T>() const noexcept { return {data, heads, rows, cols, head_stride, row_stride}; }
};

// The first `rows` rows of each head of a [heads, capacity, cols] buffer (a cache with room for
// `capacity` rows per head, of which `rows` are filled).
template <class T>
HeadsView<T> head_major_in(T* data, std::size_t heads, std::size_t rows, std::size_t capacity,
                           std::size_t cols) noexcept {
  return {data, heads, rows, cols, static_cast<std::ptrdiff_t>(capacity * cols), static_cast<std::ptrdiff_t>(cols)};
}

// [heads, rows, cols], contiguous.
template <class T>
HeadsView<T> head_major(T* data, std::size_t heads, std::size_t rows, std::size_t cols) noexcept {
  return head_major_in(data, heads, rows, rows, cols);
}

// [rows, heads, cols], contiguous: the layout a fused QKV projection produces per token.
template <class T>
HeadsView<T> token_major(T* data, std::size_t heads, std::size_t rows, std::size_t cols) noexcept {
  return {data, heads, rows, cols, static_cast<std::ptrdiff_t>(cols), static_cast<std::ptrdiff_t>(heads * cols)};
}

}  // namespace act
