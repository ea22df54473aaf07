// The whole model: parity with transformers (golden logits), KV-cache consistency, ACT settings.
#include <act/model/llama_model.hpp>
#include <act/model/llama_session.hpp>
#include <act/model/sampler.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "../io/gguf_builder.hpp"
#include "same_bits.hpp"
#include "test_paths.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>

using namespace act::model;
using act::testing::same_bits;

namespace {

// Models are loaded once per test binary: SmolLM2 takes a moment.
const LlamaModel& load_cached(const std::filesystem::path& path) {
  static std::map<std::filesystem::path, std::unique_ptr<LlamaModel>> models;
  auto& slot = models[path];
  if (!slot) slot = std::make_unique<LlamaModel>(LlamaModel::load(path));
  return *slot;
}

const LlamaModel& stories() {
  const auto path = act::testing::stories_path();
  if (!path) FAIL("stories260K.gguf not found in ../shared/models");
  return load_cached(*path);
}

nlohmann::json golden(const char* name) {
  std::ifstream in(std::filesystem::path(ACT_SOURCE_DIR) / "tests" / "data" / name);
  REQUIRE(in);
  return nlohmann::json::parse(in);
}

std::vector<std::int32_t> golden_tokens(const nlohmann::json& prompt) {
  return prompt["tokens"].get<std::vector<std::int32_t>>();
}

double logsumexp(const float* row, std::size_t n) {
  const double top = *std::max_element(row, row + n);
  double sum = 0.0;
  for (std::size_t i = 0; i < n; ++i) sum += std::exp(row[i] - top);
  return top + std::log(sum);
}

// Golden files hold transformers' float32 logits (GGUF dequantised) at a few positions of each
// prompt: the top 20 ids and values and the log-sum-exp. Our float32 forward differs from it only
// by summation order: measured max |diff| is 4e-5 (stories260K) and 8e-5 (SmolLM2, 30 layers) on
// logits up to ~20, so 1e-3 leaves a 10x margin while any real error (a wrong RoPE layout, a
// missed norm, a transposed weight) moves logits by whole units.
void check_against_golden(const LlamaModel& model, const nlohmann::json& file) {
  constexpr double tolerance = 1e-3;
  for (const auto& prompt : file["prompts"]) {
    const auto tokens = golden_tokens(prompt);
    const Activations logits = model.forward(tokens);
    for (const auto& at : prompt["positions"]) {
      const auto position = at["position"].get<std::size_t>();
      const float* row = logits.row(position);
      const auto ids = at["top_ids"].get<std::vector<std::int32_t>>();
      const auto values = at["top_logits"].get<std::vector<double>>();
      CAPTURE(tokens.size(), position);
      for (std::size_t i = 0; i < ids.size(); ++i) CHECK(std::abs(row[ids[i]] - values[i]) <= tolerance);
      CHECK(std::abs(logsumexp(row, logits.cols) - at["logsumexp"].get<double>()) <= tolerance);
      if (values[0] - values[1] > 2 * tolerance) CHECK(Sampler::argmax({row, logits.cols}) == ids[0]);
    }
  }
}

double max_abs_diff(std::span<const float> a, std::span<const float> b) {
  REQUIRE(a.size() == b.size());
  double worst = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, static_cast<double>(std::abs(a[i] - b[i])));
  return worst;
}

std::span<const float> row_of(const Activations& a, std::size_t i) { return {a.row(i), a.cols}; }

// Heads of stories260K that have sinks beyond the first candidate on this prompt, so calibrating
// them must change something.
act::HeadSet heads_with_sinks(const LlamaModel& model, std::span<const std::int32_t> tokens, float tau) {
  act::HeadSet with_sinks;
  for (const HeadSinks& h : model.observe_sinks(tokens, tau))
    if (!h.sinks.empty()) with_sinks.add(h.id);
  return with_sinks;
}

}  // namespace

TEST_CASE("stories260K matches transformers' logits", "[model][shared]") {
  check_against_golden(stories(), golden("golden_logits_stories.json"));
}

TEST_CASE("SmolLM2 matches transformers' logits", "[model][smollm]") {
  const auto path = act::testing::smollm_path();
  REQUIRE(path);
  check_against_golden(load_cached(*path), golden("golden_logits_smollm.json"));
}

TEST_CASE("SmolLM2: prefill then decode reproduce the whole-prompt logits", "[model][smollm]") {
  const auto path = act::testing::smollm_path();
  REQUIRE(path);
  const LlamaModel& model = load_cached(*path);
  const auto tokens = model.tokenizer().encode("The capital of France is Paris, and the capital of Italy is", true);
  const Activations full = model.forward(tokens);
  Session session(model, {256, 1, {}});
  const std::size_t split = tokens.size() - 4;
  CHECK(max_abs_diff(session.prefill(std::span(tokens).first(split)), row_of(full, split - 1)) < 1e-3);
  for (std::size_t i = split; i < tokens.size(); ++i)
    CHECK(max_abs_diff(session.decode(tokens[i]), row_of(full, i)) < 1e-3);
}

TEST_CASE("KV cache: prefill, chunked prefill and decode agree with the whole-prompt pass", "[model][shared]") {
  const LlamaModel& model = stories();
  const auto tokens = golden_tokens(golden("golden_logits_stories.json")["prompts"][2]);  // 77 tokens
  const Activations full = model.forward(tokens);
  // Decode multiplies by the weights with fused dot products, prefill with GEMM tiles: the same
  // sums in another order, so float32 rounding differs slightly (measured < 1e-5).
  constexpr double tolerance = 1e-4;
  Session session(model, {128, 1, {}});
  CHECK(max_abs_diff(session.prefill(std::span(tokens).first(30)), row_of(full, 29)) < tolerance);
  CHECK(max_abs_diff(session.prefill(std::span(tokens).subspan(30, 20)), row_of(full, 49)) < tolerance);
  for (std::size_t i = 50; i < tokens.size(); ++i) {
    CAPTURE(i);
    REQUIRE(max_abs_diff(session.decode(tokens[i]), row_of(full, i)) < tolerance);
  }
  CHECK(session.position() == tokens.size());

  session.reset();
  CHECK(session.position() == 0);
  CHECK(same_bits(session.prefill(std::span(tokens).first(30)),
                  Session(model, {128, 1, {}}).prefill(std::span(tokens).first(30))));
}

TEST_CASE("Threads do not change the result beyond rounding", "[model][shared]") {
  const LlamaModel& model = stories();
  const auto tokens = golden_tokens(golden("golden_logits_stories.json")["prompts"][2]);
  CHECK(max_abs_diff(model.forward(tokens, {}, 1).data, model.forward(tokens, {}, 2).data) < 1e-4);
}

TEST_CASE("An empty head set is bit-identical to plain attention", "[model][shared]") {
  const LlamaModel& model = stories();
  const auto tokens = golden_tokens(golden("golden_logits_stories.json")["prompts"][2]);
  const ActSettings empty(act::HeadSet{}, 0.2f, 0.05f);
  CHECK_FALSE(empty.enabled());
  CHECK(same_bits(model.forward(tokens, empty).data, model.forward(tokens).data));

  Session plain(model, {128, 1, {}}), with_empty(model, {128, 1, empty});
  CHECK(same_bits(plain.prefill(tokens), with_empty.prefill(tokens)));
  CHECK(same_bits(plain.decode(7), with_empty.decode(7)));
}

TEST_CASE("ACT on heads with sinks changes the logits and keeps them finite", "[model][shared]") {
  const LlamaModel& model = stories();
  const auto tokens = golden_tokens(golden("golden_logits_stories.json")["prompts"][2]);
  const act::HeadSet heads = heads_with_sinks(model, tokens, 0.1f);
  REQUIRE(heads.size() > 0);
  const ActSettings act(heads, 0.4f, 0.1f);

  const Activations plain = model.forward(tokens);
  Activations hidden = model.embed(tokens);
  const act::CalibrationReport report = model.run_layers(hidden, 0, model.config().layers, act);
  const Activations calibrated = model.logits(hidden, 0, hidden.rows);
  CHECK(report.rows_calibrated > 0);
  CHECK(report.sinks_selected > 0);
  CHECK(std::all_of(calibrated.data.begin(), calibrated.data.end(), [](float x) { return std::isfinite(x); }));
  CHECK(max_abs_diff(calibrated.data, plain.data) > 1e-3);

  // A session's prefill uses prefill semantics (its running statistics start empty)...
  Session session(model, {128, 1, act});
  CHECK(max_abs_diff(session.prefill(tokens), row_of(calibrated, tokens.size() - 1)) < 1e-4);
  CHECK(session.report().rows_calibrated > 0);
  // ...and decode keeps calibrating from the running statistics.
  Session plain_session(model, {128, 1, {}});
  plain_session.prefill(tokens);
  const auto decoded = session.decode(tokens[5]);
  CHECK(std::all_of(decoded.begin(), decoded.end(), [](float x) { return std::isfinite(x); }));
  CHECK(max_abs_diff(decoded, plain_session.decode(tokens[5])) > 1e-4);
}

TEST_CASE("A factor per head: prefill and decode agree with the whole-prompt pass", "[model][shared][factors]") {
  const LlamaModel& model = stories();
  const auto tokens = golden_tokens(golden("golden_logits_stories.json")["prompts"][2]);
  const act::HeadSet with_sinks = heads_with_sinks(model, tokens, 0.1f);
  act::HeadSet heads;
  std::size_t i = 0;
  for (const act::HeadId& id : with_sinks.heads()) {
    if (i % 3 == 0) heads.add(id);  // the set's scale-only 0.5
    if (i % 3 != 0) heads.add(id, i % 3 == 1 ? 0.25f : 2.0f);
    ++i;
  }
  REQUIRE(heads.factors().size() >= 2);
  heads.set_calibration(act::AnyCalibration::initial_token_scaling(0.5f));
  const ActSettings act = ActSettings::from_head_set(heads);
  const Activations full = model.forward(tokens, act);
  // Without the factors (every head at 0.5) the logits differ: the factors are applied.
  act::HeadSet one_factor(heads.heads(), 0.4f, 0.1f);
  one_factor.set_calibration(heads.calibration());
  CHECK(max_abs_diff(model.forward(tokens, ActSettings::from_head_set(one_factor)).data, full.data) > 1e-4);

  // As in the plain KV-cache test: decode and prefill sum in another order (measured < 1e-5).
  constexpr double tolerance = 1e-4;
  Session session(model, {128, 1, act});
  CHECK(max_abs_diff(session.prefill(std::span(tokens).first(30)), row_of(full, 29)) < tolerance);
  for (std::size_t t = 30; t < tokens.size(); ++t) {
    CAPTURE(t);
    REQUIRE(max_abs_diff(session.decode(tokens[t]), row_of(full, t)) < tolerance);
  }
  CHECK(session.report().rows_calibrated > 0);
}

TEST_CASE("run_layers composes over layer ranges", "[model][shared]") {
  const LlamaModel& model = stories();
  const auto tokens = golden_tokens(golden("golden_logits_stories.json")["prompts"][1]);
  Activations whole = model.embed(tokens), split = model.embed(tokens);
  model.run_layers(whole, 0, model.config().layers);
  model.run_layers(split, 0, 2);
  model.run_layers(split, 2, model.config().layers);
  CHECK(same_bits(whole.data, split.data));
  CHECK(same_bits(model.logits(whole, 3, 2).data,
                  std::span<const float>(model.forward(tokens).row(3), 2 * model.config().vocab_size)));
  CHECK_THROWS_AS(model.run_layers(whole, 3, 2), std::out_of_range);
  CHECK_THROWS_AS(model.run_layers(whole, 0, 99), std::out_of_range);
  CHECK_THROWS_AS(model.logits(whole, tokens.size() - 1, 2), std::out_of_range);
  CHECK_THROWS_AS(model.embed(std::vector<std::int32_t>{1, 512}), std::out_of_range);
  CHECK_THROWS_AS(model.embed(std::vector<std::int32_t>{-1}), std::out_of_range);
}

TEST_CASE("observe_sinks reports every head's sinks and column means", "[model][shared]") {
  const LlamaModel& model = stories();
  const auto tokens = golden_tokens(golden("golden_logits_stories.json")["prompts"][2]);
  const auto observed = model.observe_sinks(tokens, 0.1f);
  const auto& c = model.config();
  REQUIRE(observed.size() == c.layers * c.heads);
  std::size_t with_first_token_sink = 0;
  for (std::size_t i = 0; i < observed.size(); ++i) {
    const HeadSinks& h = observed[i];
    CHECK(h.id.layer == i / c.heads);
    CHECK(h.id.head == i % c.heads);
    REQUIRE(h.column_means.size() == tokens.size());
    // Means are attention weights averaged over the queries that see the column.
    CHECK(std::all_of(h.column_means.begin(), h.column_means.end(), [](float m) { return m >= 0.0f && m <= 1.0f; }));
    for (const auto s : h.sinks) CHECK(h.column_means[s] > 0.1f);
    with_first_token_sink += h.column_means[0] > 0.1f;
  }
  CHECK(with_first_token_sink > 0);  // the classic initial sink exists somewhere
}

TEST_CASE("Session limits: context overflow, bad settings", "[model][shared]") {
  const LlamaModel& model = stories();
  const std::vector<std::int32_t> tokens = {1, 400, 300, 20, 55, 66};
  Session session(model, {8, 1, {}});
  CHECK(session.context() == 8);
  const auto first = session.prefill(tokens);
  CHECK_THROWS_AS(session.prefill(std::vector<std::int32_t>{1, 2, 3}), ContextOverflow);
  CHECK(session.position() == tokens.size());  // unchanged by the failed call
  session.decode(5);
  session.decode(6);
  CHECK_THROWS_WITH(session.decode(7), Catch::Matchers::Contains("context overflow"));
  CHECK_THROWS_AS(session.prefill(std::vector<std::int32_t>{}), std::invalid_argument);

  CHECK_THROWS_AS(Session(model, {model.config().context_length + 1, 1, {}}), std::invalid_argument);
  CHECK_THROWS_AS(Session(model, {8, 0, {}}), std::invalid_argument);
  const act::HeadSet outside({{99, 0}}, 0.4f, 0.1f);
  CHECK_THROWS_AS(Session(model, {8, 1, ActSettings::from_head_set(outside)}), act::FormatError);
  CHECK(Session(model, {}).context() == model.config().context_length);
}

TEST_CASE("LlamaModel reports a missing or misshapen tensor by name", "[model]") {
  using Catch::Matchers::Contains;
  const auto metadata = [] {
    act::testing::GgufBuilder b;
    b.string("general.architecture", "llama").u32("llama.block_count", 1).u32("llama.embedding_length", 32);
    b.u32("llama.feed_forward_length", 64).u32("llama.attention.head_count", 4).u32("llama.context_length", 16);
    b.u32("llama.vocab_size", 8).f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
    return b;
  };
  const auto load = [](const act::testing::GgufBuilder& b) {
    return LlamaModel(act::io::GgufFile::parse(b.build(), "tiny.gguf"), portable_gemm());
  };
  CHECK_THROWS_WITH(load(metadata()), Contains("tiny.gguf") && Contains("'token_embd.weight'"));
  auto misshapen = metadata();
  misshapen.tensor({"token_embd.weight", 0, {8, 32}, act::testing::f32_ramp(8 * 32), std::nullopt});
  CHECK_THROWS_WITH(load(misshapen), Contains("'token_embd.weight' has shape [8, 32], expected [32, 8]"));
  CHECK_THROWS_AS(LlamaModel::load("/nonexistent/model.gguf"), act::Error);
}
