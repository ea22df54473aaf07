#pragma once
// Builds GGUF files in memory for the reader tests: valid ones from a description, and, through
// the raw hooks (raw metadata values, count/offset overrides), every kind of malformed one.
#include <act/io/ggml_types.hpp>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace act::testing {

using Bytes = std::vector<std::byte>;

inline void put_bytes(Bytes& out, const void* data, std::size_t size) {
  const auto* first = static_cast<const std::byte*>(data);
  out.insert(out.end(), first, first + size);
}

// Little-endian, whatever the host: the tests describe file bytes.
template <class Unsigned>
void put_le(Bytes& out, Unsigned value) {
  for (std::size_t i = 0; i < sizeof(Unsigned); ++i) {
    out.push_back(static_cast<std::byte>((static_cast<std::uint64_t>(value) >> (8 * i)) & 0xFF));
  }
}

inline void put_string(Bytes& out, std::string_view text) {
  put_le<std::uint64_t>(out, text.size());
  put_bytes(out, text.data(), text.size());
}

inline void put_f32(Bytes& out, float value) {
  std::uint32_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  put_le(out, bits);
}

// GGUF metadata value type ids.
namespace value_type {
inline constexpr std::uint32_t u8 = 0, i8 = 1, u16 = 2, i16 = 3, u32 = 4, i32 = 5, f32 = 6, boolean = 7, string = 8,
                               array = 9, u64 = 10, i64 = 11, f64 = 12;
}

struct TensorSpec {
  std::string name;
  std::uint32_t type_id;
  std::vector<std::uint64_t> dims;
  Bytes data;
  std::optional<std::uint64_t> offset;  // default: laid out after the previous tensor, aligned
};

class GgufBuilder {
 public:
  GgufBuilder& version(std::uint32_t v) {
    version_ = v;
    return *this;
  }
  GgufBuilder& alignment(std::uint64_t a) {
    alignment_ = a;
    return *this;
  }
  GgufBuilder& tensor_count_override(std::uint64_t count) {
    tensor_count_override_ = count;
    return *this;
  }
  GgufBuilder& metadata_count_override(std::uint64_t count) {
    metadata_count_override_ = count;
    return *this;
  }

  // A metadata entry whose value bytes (after the type id) are given verbatim.
  GgufBuilder& raw(std::string_view key, std::uint32_t type_id, const Bytes& value) {
    put_string(metadata_, key);
    put_le(metadata_, type_id);
    metadata_.insert(metadata_.end(), value.begin(), value.end());
    ++metadata_count_;
    return *this;
  }

  template <class Unsigned>
  GgufBuilder& scalar(std::string_view key, std::uint32_t type_id, Unsigned bits) {
    Bytes value;
    put_le(value, bits);
    return raw(key, type_id, value);
  }
  GgufBuilder& u32(std::string_view key, std::uint32_t v) { return scalar(key, value_type::u32, v); }
  GgufBuilder& f32(std::string_view key, float v) {
    Bytes value;
    put_f32(value, v);
    return raw(key, value_type::f32, value);
  }
  GgufBuilder& string(std::string_view key, std::string_view v) {
    Bytes value;
    put_string(value, v);
    return raw(key, value_type::string, value);
  }
  GgufBuilder& string_array(std::string_view key, const std::vector<std::string>& items) {
    Bytes value;
    put_le(value, value_type::string);
    put_le<std::uint64_t>(value, items.size());
    for (const std::string& item : items) put_string(value, item);
    return raw(key, value_type::array, value);
  }
  // An array of fixed-size elements given as raw bit patterns of `element_bytes` bytes each.
  GgufBuilder& scalar_array(std::string_view key, std::uint32_t element_type, std::size_t element_bytes,
                            const std::vector<std::uint64_t>& items) {
    Bytes value;
    put_le(value, element_type);
    put_le<std::uint64_t>(value, items.size());
    for (std::uint64_t item : items) {
      for (std::size_t i = 0; i < element_bytes; ++i) {
        value.push_back(static_cast<std::byte>((item >> (8 * i)) & 0xFF));
      }
    }
    return raw(key, value_type::array, value);
  }

  GgufBuilder& tensor(TensorSpec spec) {
    tensors_.push_back(std::move(spec));
    return *this;
  }

  // The file; the data of the last tensor ends the file (no trailing padding), so any truncation
  // cuts into something the reader needs.
  Bytes build() const {
    Bytes out{std::byte{'G'}, std::byte{'G'}, std::byte{'U'}, std::byte{'F'}};
    put_le(out, version_);
    put_le<std::uint64_t>(out, tensor_count_override_.value_or(tensors_.size()));
    put_le<std::uint64_t>(out, metadata_count_override_.value_or(metadata_count_));
    out.insert(out.end(), metadata_.begin(), metadata_.end());
    Bytes data;
    for (const TensorSpec& spec : tensors_) {
      pad_to_alignment(data);
      put_string(out, spec.name);
      put_le<std::uint32_t>(out, static_cast<std::uint32_t>(spec.dims.size()));
      for (std::uint64_t dim : spec.dims) put_le(out, dim);
      put_le(out, spec.type_id);
      put_le<std::uint64_t>(out, spec.offset.value_or(data.size()));
      data.insert(data.end(), spec.data.begin(), spec.data.end());
    }
    pad_to_alignment(out);
    out.insert(out.end(), data.begin(), data.end());
    return out;
  }

 private:
  void pad_to_alignment(Bytes& bytes) const {
    while (bytes.size() % alignment_ != 0) bytes.push_back(std::byte{0});
  }

  std::uint32_t version_ = 3;
  std::uint64_t alignment_ = 32;  // layout only; add general.alignment to declare another one
  std::optional<std::uint64_t> tensor_count_override_;
  std::optional<std::uint64_t> metadata_count_override_;
  std::uint64_t metadata_count_ = 0;
  Bytes metadata_;
  std::vector<TensorSpec> tensors_;
};

// `count` little-endian f32 values 0, 1, 2, ...: recognisable tensor data.
inline Bytes f32_ramp(std::size_t count) {
  Bytes out;
  for (std::size_t i = 0; i < count; ++i) put_f32(out, static_cast<float>(i));
  return out;
}

}  // namespace act::testing
