#pragma once
// Keys and values of every layer for up to `capacity` tokens, chosen when a session is created, in
// the element type the model was loaded with (KvType: float32, IEEE half or bfloat16; the 16-bit
// types halve the cache and are read in place by the attention kernels). Layout per layer:
// head-major, [kv_heads][capacity][head_dim], so each KV head's keys (and values) are contiguous
// and decode attention, which walks one head's keys at a time, streams them in order (token-major
// storage put one head's consecutive keys kv_dim elements apart: measured slower end to end,
// docs/results.md). Appending tokens writes one contiguous run per head. Memory is reserved
// uninitialised, so only the positions actually used become resident: each head's region is
// touched from its start, and the untouched pages at the end of every head's region stay
// non-resident too.
#include <act/core/attention_options.hpp>
#include <act/core/error.hpp>
#include <act/core/half.hpp>
#include <act/core/heads_view.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

namespace act::model {

// More tokens than the session's context can hold.
struct ContextOverflow : Error {
  using Error::Error;
};

// Element type of stored keys and values. New keys and values are computed in float32 and rounded
// (to nearest even) when stored; attention reads them widened exactly.
enum class KvType { f32, f16, bf16 };

inline std::size_t kv_type_bytes(KvType type) noexcept { return type == KvType::f32 ? 4 : 2; }

inline std::string_view kv_type_name(KvType type) noexcept {
  switch (type) {
    case KvType::f16: return "f16";
    case KvType::bf16: return "bf16";
    case KvType::f32: break;
  }
  return "f32";
}

// How a model stores keys and values and multiplies over them: products = bf16 applies to a bf16
// cache only (ProductPrecision in act/core/attention_options.hpp).
struct KvSettings {
  KvType type = KvType::f32;
  ProductPrecision products = ProductPrecision::fp32;
};

// One layer's keys and values as the attention kernels read them.
template <class Element>
struct KvViews {
  HeadsView<const Element> keys, values;
};
using AnyKvViews = std::variant<KvViews<float>, KvViews<Half>, KvViews<BFloat16>>;

namespace detail {

// Rounds `rows` rows of `cols` floats, `source_stride` floats apart, into a buffer of `type`
// at element offset `offset`, where they become contiguous.
inline void store_rows_as(KvType type, void* base, std::size_t offset, const float* source, std::size_t source_stride,
                          std::size_t rows, std::size_t cols) noexcept {
  const auto copy = [&](auto* out) {
    using Element = std::remove_pointer_t<decltype(out)>;
    out += offset;
    for (std::size_t r = 0; r < rows; ++r, source += source_stride)
      for (std::size_t c = 0; c < cols; ++c) *out++ = from_float<Element>(source[c]);
  };
  if (type == KvType::f16) return copy(static_cast<Half*>(base));
  if (type == KvType::bf16) return copy(static_cast<BFloat16*>(base));
  copy(static_cast<float*>(base));
}

// Views of the first `tokens` rows of keys/values buffers of `type`, head-major with room for
// `capacity` rows per head, starting at element `offset`.
inline AnyKvViews views_of(KvType type, const void* keys, const void* values, std::size_t offset, std::size_t heads,
                           std::size_t tokens, std::size_t capacity, std::size_t head_dim) noexcept {
  const auto make = [&](const auto* typed_keys) -> AnyKvViews {
    using Element = std::remove_cv_t<std::remove_pointer_t<decltype(typed_keys)>>;
    const auto* typed_values = static_cast<const Element*>(values);
    return KvViews<Element>{head_major_in(typed_keys + offset, heads, tokens, capacity, head_dim),
                            head_major_in(typed_values + offset, heads, tokens, capacity, head_dim)};
  };
  if (type == KvType::f16) return make(static_cast<const Half*>(keys));
  if (type == KvType::bf16) return make(static_cast<const BFloat16*>(keys));
  return make(static_cast<const float*>(keys));
}

// An uninitialised buffer of `count` elements of `type`.
inline std::unique_ptr<std::byte[]> kv_buffer(KvType type, std::size_t count) {
  return std::unique_ptr<std::byte[]>(new std::byte[count * kv_type_bytes(type)]);
}

}  // namespace detail

class KvCache {
 public:
  KvCache(std::size_t layers, std::size_t capacity, std::size_t kv_heads, std::size_t head_dim,
          KvType type = KvType::f32)
      : capacity_(capacity),
        kv_heads_(kv_heads),
        head_dim_(head_dim),
        type_(type),
        keys_(detail::kv_buffer(type, layers * capacity * kv_dim())),
        values_(detail::kv_buffer(type, layers * capacity * kv_dim())) {}

  std::size_t capacity() const noexcept { return capacity_; }
  std::size_t size() const noexcept { return size_; }  // tokens stored
  std::size_t kv_dim() const noexcept { return kv_heads_ * head_dim_; }
  KvType type() const noexcept { return type_; }
  // Bytes one token occupies in one layer (keys and values).
  std::size_t bytes_per_token_and_layer() const noexcept { return 2 * kv_dim() * kv_type_bytes(type_); }

  // Throws ContextOverflow unless `count` more tokens fit.
  void check_room(std::size_t count) const {
    if (count > capacity_ - size_)
      throw ContextOverflow("context overflow: " + std::to_string(size_) + " cached + " + std::to_string(count) +
                            " new tokens exceed the context of " + std::to_string(capacity_) + " tokens");
  }

  // Stores `count` tokens' keys and values ([count][kv_dim] floats) of a layer from `position` on,
  // rounded to the cache's type: one contiguous run of `count` rows per head. The caller checked
  // the room.
  void store(std::size_t layer, std::size_t position, const float* keys, const float* values,
             std::size_t count) noexcept {
    for (std::size_t head = 0; head < kv_heads_; ++head) {
      const std::size_t offset = head_offset(layer, head) + position * head_dim_;
      const std::size_t column = head * head_dim_;
      detail::store_rows_as(type_, keys_.get(), offset, keys + column, kv_dim(), count, head_dim_);
      detail::store_rows_as(type_, values_.get(), offset, values + column, kv_dim(), count, head_dim_);
    }
  }

  // A layer's first `tokens` rows (rows [0, size()) are committed).
  AnyKvViews views(std::size_t layer, std::size_t tokens) const noexcept {
    return detail::views_of(type_, keys_.get(), values_.get(), head_offset(layer, 0), kv_heads_, tokens, capacity_,
                            head_dim_);
  }

  // Marks `count` more tokens as stored, once every layer has written them.
  void commit(std::size_t count) {
    check_room(count);
    size_ += count;
  }
  void clear() noexcept { size_ = 0; }

 private:
  // Element offset of a layer's KV head's first row.
  std::size_t head_offset(std::size_t layer, std::size_t head) const noexcept {
    return (layer * kv_heads_ + head) * capacity_ * head_dim_;
  }

  std::size_t capacity_, kv_heads_, head_dim_;
  KvType type_;
  std::size_t size_ = 0;
  std::unique_ptr<std::byte[]> keys_, values_;
};

}  // namespace act::model
