#pragma once
// Where the threads of an evaluation go. With a 135M-parameter model and prompts of a few dozen
// tokens, one forward pass is too small to keep several cores busy through its matrix products,
// so running independent prompts (or heads) side by side, each single-threaded, is usually
// faster; `model` keeps the work items in order and gives the threads to the model instead.
#include <act/core/error.hpp>

#include <string>
#include <string_view>

namespace act::eval {

enum class WorkSplit {
  prompts,  // work items (prompts, or (head, prompt) pairs) side by side
  heads,    // head search: the heads of a layer side by side, each over all prompts
  model,    // one item at a time, the model's matrix products on all threads
};

inline std::string_view work_split_name(WorkSplit split) {
  switch (split) {
    case WorkSplit::prompts: return "prompts";
    case WorkSplit::heads: return "heads";
    case WorkSplit::model: return "model";
  }
  return "?";
}

inline WorkSplit parse_work_split(std::string_view name) {
  for (WorkSplit s : {WorkSplit::prompts, WorkSplit::heads, WorkSplit::model})
    if (work_split_name(s) == name) return s;
  throw Error("act: unknown work split '" + std::string(name) + "' (known: prompts, heads, model)");
}

// Threads for the loop over work items and for each item's forward pass.
struct ThreadShare {
  int items;
  int per_item;
};

// `heads` means side by side too; the search decides what its items are.
inline ThreadShare share_threads(WorkSplit split, int threads) {
  return split == WorkSplit::model ? ThreadShare{1, threads} : ThreadShare{threads, 1};
}

}  // namespace act::eval
