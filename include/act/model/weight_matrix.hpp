#pragma once
// A weight matrix [rows = output features, cols = input features] as stored in a GGUF file.
// F32, Q8_0 and Q4_1 are used in place in the mapped file (no copy: decode reads the compact
// quantised form, which is what bounds its speed); any other type the library can decode is
// dequantised to F32 once at load.
#include <act/core/error.hpp>
#include <act/io/dequantize.hpp>
#include <act/io/gguf.hpp>
#include <act/model/quantized_rows.hpp>

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

namespace act::model {

class WeightMatrix {
 public:
  WeightMatrix() = default;
  WeightMatrix(WeightMatrix&&) noexcept = default;
  WeightMatrix& operator=(WeightMatrix&&) noexcept = default;
  WeightMatrix(const WeightMatrix&) = delete;  // data_ may point into owned_
  WeightMatrix& operator=(const WeightMatrix&) = delete;

  // Throws FormatError unless the tensor is 2-D with the expected shape (GGUF dims are
  // {cols, rows}: the contiguous dimension first).
  static WeightMatrix from_gguf(const io::GgufFile& file, const io::GgufTensorInfo& info, std::size_t rows,
                                std::size_t cols) {
    const bool matches = info.dims.size() == 2 && info.dims[0] == cols && info.dims[1] == rows;
    if (!matches)
      throw FormatError(file.name() + ": tensor '" + info.name + "' has shape " + shape_text(info.dims) +
                        ", expected [" + std::to_string(cols) + ", " + std::to_string(rows) + "]");
    WeightMatrix w;
    w.rows_ = rows;
    w.cols_ = cols;
    if (has_fast_rows(info.type)) {
      w.type_ = info.type;
      w.data_ = file.tensor_bytes(info).data();
      w.row_bytes_ = static_cast<std::size_t>(io::row_bytes(info.type, cols));
    } else {
      w.owned_ = io::dequantize(file, info);
      w.type_ = io::GgmlType::f32;
      w.data_ = reinterpret_cast<const std::byte*>(w.owned_.data());
      w.row_bytes_ = cols * sizeof(float);
    }
    return w;
  }

  std::size_t rows() const noexcept { return rows_; }
  std::size_t cols() const noexcept { return cols_; }
  io::GgmlType type() const noexcept { return type_; }  // F32, Q8_0 or Q4_1
  const std::byte* row(std::size_t r) const noexcept { return data_ + r * row_bytes_; }
  // Rows as floats when stored as F32, else nullptr.
  const float* f32_rows() const noexcept {
    return type_ == io::GgmlType::f32 ? reinterpret_cast<const float*>(data_) : nullptr;
  }
  // Row r decoded to floats.
  void decode_row(std::size_t r, float* out) const {
    if (const float* f = f32_rows()) {
      std::copy_n(f + r * cols_, cols_, out);
    } else {
      model::decode_row(type_, row(r), cols_, out);
    }
  }

 private:
  static std::string shape_text(const std::vector<std::uint64_t>& dims) {
    std::string text = "[";
    for (std::size_t i = 0; i < dims.size(); ++i) text += (i ? ", " : "") + std::to_string(dims[i]);
    return text + "]";
  }

  io::GgmlType type_ = io::GgmlType::f32;
  std::size_t rows_ = 0, cols_ = 0, row_bytes_ = 0;
  const std::byte* data_ = nullptr;
  std::vector<float> owned_;  // moving a vector keeps its buffer, so data_ stays valid
};

}  // namespace act::model
