#pragma once
// A 4-token attention map shared by the inspection tests. Column means 0.6, 0.14, 0.55, 0.08:
// columns 0 and 2 draw attention, and the paper's detector (tau 0.1) keeps column 0 and
// calibrates columns 1 and 2.
#include <act/eval/inspect/attention_map.hpp>

namespace act::testing {

inline act::eval::AttentionMap toy_map() {
  return {4,
          {1.0f, 0.0f, 0.0f, 0.0f,  //
           0.7f, 0.3f, 0.0f, 0.0f,  //
           0.4f, 0.1f, 0.5f, 0.0f,  //
           0.3f, 0.02f, 0.6f, 0.08f}};
}

}  // namespace act::testing
