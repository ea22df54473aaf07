#pragma once
// k-shot demonstrations: one fixed, seeded draw from a pool (the calib split) shared by every
// query, so a seed names one prompt prefix. The draw holds k + 1 rows; a query that is itself
// among them gets the other k, so a row never demonstrates its own answer.
#include <act/eval/tasks/example.hpp>
#include <act/eval/tasks/seeded_draw.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace act::eval {

class Demonstrations {
 public:
  Demonstrations() = default;  // zero-shot

  // Throws act::Error when the pool is too small for k distinct demonstrations.
  Demonstrations(std::span<const Example> pool, std::size_t k, std::uint64_t seed) : k_(k) {
    if (k == 0) return;
    if (pool.size() < k + 1)
      throw Error("act: " + std::to_string(k) + "-shot prompts need at least " + std::to_string(k + 1) +
                  " rows in the demonstration pool (it has " + std::to_string(pool.size()) + ")");
    for (std::size_t i : seeded_draw(k + 1, pool.size(), seed)) drawn_.push_back(pool[i]);
  }

  std::size_t shots() const noexcept { return k_; }

  std::vector<Example> for_query(const Example& query) const {
    std::vector<Example> out;
    for (const Example& d : drawn_) {
      if (out.size() == k_) break;
      if (d.id != query.id) out.push_back(d);
    }
    return out;
  }

 private:
  std::size_t k_ = 0;
  std::vector<Example> drawn_;
};

}  // namespace act::eval
