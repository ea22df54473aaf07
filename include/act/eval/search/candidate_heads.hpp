#pragma once
// Which heads may be calibrated at all, and the control head sets of the evaluation: every
// candidate, or a seeded random draw of as many candidates as a searched set has.
#include <act/eval/tasks/seeded_draw.hpp>
#include <act/heads/head_set.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace act::eval {

// The reference's choice: layers 0, 1 and the last are never calibrated.
inline std::vector<std::uint32_t> default_excluded_layers(std::size_t layers) {
  std::vector<std::uint32_t> out = {0, 1};
  if (layers > 0) out.push_back(static_cast<std::uint32_t>(layers - 1));
  return out;
}

// Heads outside the excluded layers (and, when `only` is non-empty, among `only`), in (layer, head) order.
inline std::vector<HeadId> candidate_heads(std::size_t layers, std::size_t heads,
                                           const std::vector<std::uint32_t>& excluded,
                                           const std::vector<HeadId>& only = {}) {
  std::vector<HeadId> out;
  for (std::uint32_t l = 0; l < layers; ++l) {
    if (std::find(excluded.begin(), excluded.end(), l) != excluded.end()) continue;
    for (std::uint32_t h = 0; h < heads; ++h) {
      const HeadId id{l, h};
      if (only.empty() || std::find(only.begin(), only.end(), id) != only.end()) out.push_back(id);
    }
  }
  return out;
}

// `count` distinct heads of `candidates` drawn from a seed, in (layer, head) order.
inline std::vector<HeadId> random_heads(const std::vector<HeadId>& candidates, std::size_t count, std::uint64_t seed) {
  std::vector<HeadId> out;
  for (std::size_t i : seeded_draw(count, candidates.size(), seed)) out.push_back(candidates[i]);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace act::eval
