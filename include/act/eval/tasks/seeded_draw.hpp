#pragma once
// `count` distinct indices of [0, n) in draw order, from a seed. A partial Fisher-Yates shuffle on
// mt19937_64, whose output the C++ standard fixes, so a seed names the same draw on every
// platform (std::uniform_int_distribution would not; the modulo bias is below 1e-15 here).
#include <act/core/error.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace act::eval {

inline std::vector<std::size_t> seeded_draw(std::size_t count, std::size_t n, std::uint64_t seed) {
  if (count > n) throw Error("act: cannot draw " + std::to_string(count) + " distinct items from " + std::to_string(n));
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  std::mt19937_64 engine(seed);
  for (std::size_t i = 0; i < count; ++i) std::swap(order[i], order[i + static_cast<std::size_t>(engine() % (n - i))]);
  order.resize(count);
  return order;
}

}  // namespace act::eval
