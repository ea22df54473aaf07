#pragma once
// The tiny stories260K model, loaded once per test program; nullptr when ../shared is absent.
#include <act/model/llama_model.hpp>

#include "test_paths.hpp"

namespace act::testing {

inline const act::model::LlamaModel* stories_model() {
  static const auto path = stories_path();
  if (!path) return nullptr;
  static const act::model::LlamaModel model = act::model::LlamaModel::load(*path);
  return &model;
}

}  // namespace act::testing
