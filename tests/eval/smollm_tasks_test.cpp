#include <act/eval/harness/scoring_plan.hpp>
#include <act/model/llama_model.hpp>

#include <catch2/catch.hpp>

#include "test_paths.hpp"

using namespace act::eval;

TEST_CASE("SmolLM2 tokenises every task's label words and the choice letters", "[eval][smollm]") {
  const auto path = act::testing::smollm_path();
  if (!path) return;
  const auto m = act::model::LlamaModel::load(*path);
  const auto& tok = m.tokenizer();
  for (const Task& task : all_tasks()) {
    if (task.kind != TaskKind::classification) continue;
    INFO(task.name);
    const auto ids = label_tokens(tok, task);  // throws on a clash
    CHECK(ids.size() == task.label_words.size());
  }
  // The spec's label words are single tokens for this vocabulary, so "last token" loses nothing.
  for (std::string_view word : find_task("sst2").label_words) CHECK(tok.encode(word, false).size() == 1);
  const auto letters = letter_tokens(tok, 5);
  for (std::size_t i = 0; i < 5; ++i) CHECK(tok.token_text(letters[i].front()) == std::string(" ") + choice_letter(i));
}
