#pragma once
// std::vector with storage aligned for the widest SIMD loads (64 bytes), for scratch panels that
// are read with aligned loads.
#include <act/simd/batch.hpp>

#include <cstddef>
#include <new>
#include <vector>

namespace act::simd {

// Allocates through the aligned global operator new, so allocation counters see kernel scratch.
template <class T>
struct AlignedAllocator {
  using value_type = T;
  AlignedAllocator() = default;
  template <class U>
  AlignedAllocator(const AlignedAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{alignment})); }
  // Unsized: clang declares sized deallocation only with -fsized-deallocation.
  void deallocate(T* p, std::size_t) noexcept { ::operator delete (p, std::align_val_t{alignment}); }
  friend bool operator==(const AlignedAllocator&, const AlignedAllocator&) noexcept { return true; }
};

template <class T>
using AlignedVector = std::vector<T, AlignedAllocator<T>>;

}  // namespace act::simd
