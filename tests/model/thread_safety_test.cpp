// One loaded model used from several std::threads at once (a Session each, the stateless forward
// pass, the tokenizer) gives bitwise the tokens and logits one thread gets.
#include <act/model/llama_model.hpp>
#include <act/model/llama_session.hpp>

#include <catch2/catch.hpp>

#include "../runner/tiny_llama.hpp"
#include "run_concurrently.hpp"
#include "test_paths.hpp"

#include <span>
#include <string>
#include <vector>

using namespace act::model;

namespace {

// Everything one prompt produces: its tokens, the logits of a session that prefills the first half
// and decodes the rest one token at a time, and the whole-prompt logits of forward().
struct Conversation {
  std::vector<std::int32_t> tokens;
  std::vector<float> session_logits;
  std::vector<float> forward_logits;
  friend bool operator==(const Conversation&, const Conversation&) = default;
};

Conversation converse(const LlamaModel& model, const std::string& prompt, const ActSettings& act) {
  Conversation c;
  c.tokens = model.tokenizer().encode(prompt, true);
  Session session(model, {c.tokens.size(), 1, act});
  const std::size_t half = c.tokens.size() / 2;
  c.session_logits = session.prefill(std::span(c.tokens).first(half));
  for (std::size_t i = half; i < c.tokens.size(); ++i) {
    const std::vector<float> step = session.decode(c.tokens[i]);
    c.session_logits.insert(c.session_logits.end(), step.begin(), step.end());
  }
  c.forward_logits = model.forward(c.tokens, act, 1).data;
  return c;
}

// Several threads converse about every prompt at once and must match the conversations of one
// thread exactly (the logits hold no NaN, so == is bitwise here).
void check_concurrent_use(const LlamaModel& model, const ActSettings& act) {
  const std::vector<std::string> prompts = {"Once upon a time", "The cat sat on the mat.", "a b c", "Tom and Lily"};
  std::vector<Conversation> expected;
  for (const std::string& prompt : prompts) expected.push_back(converse(model, prompt, act));
  const auto mismatches = act::testing::run_concurrently(
      prompts.size(), [&](std::size_t prompt) { return converse(model, prompts[prompt], act) == expected[prompt]; });
  for (const act::testing::Mismatch& m : mismatches)
    FAIL_CHECK("thread " << m.thread << ", prompt '" << prompts[m.job] << "' differs from one thread's");
  for (const Conversation& c : expected)
    for (const float logit : c.forward_logits) REQUIRE(std::isfinite(logit));
}

}  // namespace

TEST_CASE("one model serves several threads at once: a tiny llama built in memory", "[model][threads]") {
  const LlamaModel model(act::io::GgufFile::parse(act::testing::TinyLlama{}.build(), "tiny.gguf"), portable_gemm());
  check_concurrent_use(model, {});
  check_concurrent_use(model, ActSettings({{{0, 1}, {0, 3}}, 0.4f, 0.1f}, 0.4f, 0.1f));
}

TEST_CASE("one model serves several threads at once: stories260K", "[model][threads][shared]") {
  const auto path = act::testing::stories_path();
  REQUIRE(path);
  const LlamaModel model = LlamaModel::load(*path);
  check_concurrent_use(model, ActSettings({{{1, 2}, {3, 5}, {4, 0}}, 0.4f, 0.1f}, 0.4f, 0.1f));
}
