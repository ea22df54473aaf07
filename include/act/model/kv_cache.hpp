#pragma once
// Keys and values of every layer for up to `capacity` tokens, chosen when a session is created.
// Layout per layer: [capacity, kv_heads * head_dim], token-major, so appending a token's K/V is one
// contiguous write and the attention kernels read it through a strided HeadsView. Memory is
// reserved uninitialised, so only the positions actually used become resident.
#include <act/core/error.hpp>

#include <cstddef>
#include <memory>
#include <string>

namespace act::model {

// More tokens than the session's context can hold.
struct ContextOverflow : Error {
  using Error::Error;
};

class KvCache {
 public:
  KvCache(std::size_t layers, std::size_t capacity, std::size_t kv_dim)
      : capacity_(capacity),
        kv_dim_(kv_dim),
        keys_(new float[layers * capacity * kv_dim]),
        values_(new float[layers * capacity * kv_dim]) {}

  std::size_t capacity() const noexcept { return capacity_; }
  std::size_t size() const noexcept { return size_; }  // tokens stored
  std::size_t kv_dim() const noexcept { return kv_dim_; }

  // Throws ContextOverflow unless `count` more tokens fit.
  void check_room(std::size_t count) const {
    if (count > capacity_ - size_)
      throw ContextOverflow("context overflow: " + std::to_string(size_) + " cached + " + std::to_string(count) +
                            " new tokens exceed the context of " + std::to_string(capacity_) + " tokens");
  }

  // Row `position` of a layer's keys / values (rows [0, size()) are filled).
  float* keys(std::size_t layer, std::size_t position = 0) noexcept { return at(keys_.get(), layer, position); }
  float* values(std::size_t layer, std::size_t position = 0) noexcept { return at(values_.get(), layer, position); }

  // Marks `count` more tokens as stored, once every layer has written them.
  void commit(std::size_t count) {
    check_room(count);
    size_ += count;
  }
  void clear() noexcept { size_ = 0; }

 private:
  float* at(float* base, std::size_t layer, std::size_t position) const noexcept {
    return base + (layer * capacity_ + position) * kv_dim_;
  }

  std::size_t capacity_, kv_dim_;
  std::size_t size_ = 0;
  std::unique_ptr<float[]> keys_, values_;
};

}  // namespace act::model
