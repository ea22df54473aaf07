// act::ggml: a ggml graph with ggml_flash_attn_ext and with act's custom op, both compared with
// act::attention on the same tensors. Built only when ggml is found (tools/fetch_llama_cpp.sh).
#include <act/act.hpp>
#include <act/ggml/ggml_attention.hpp>

#include <ggml-cpu.h>
#include <ggml.h>

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <memory>
#include <random>
#include <vector>

namespace {

constexpr std::int64_t head_dim = 16, n_q = 24, n_kv = 40, n_head = 4, n_head_kv = 2;

struct ContextFree {
  void operator()(ggml_context* c) const noexcept { ggml_free(c); }
};

struct Graph {
  std::unique_ptr<ggml_context, ContextFree> ctx;
  ggml_tensor *q, *k, *v;
};

Graph random_inputs(std::uint32_t seed) {
  ggml_init_params params{64u << 20, nullptr, false};
  Graph g{std::unique_ptr<ggml_context, ContextFree>(ggml_init(params)), nullptr, nullptr, nullptr};
  g.q = ggml_new_tensor_3d(g.ctx.get(), GGML_TYPE_F32, head_dim, n_q, n_head);
  g.k = ggml_new_tensor_3d(g.ctx.get(), GGML_TYPE_F32, head_dim, n_kv, n_head_kv);
  g.v = ggml_new_tensor_3d(g.ctx.get(), GGML_TYPE_F32, head_dim, n_kv, n_head_kv);
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  for (ggml_tensor* t : {g.q, g.k, g.v})
    for (std::int64_t i = 0; i < ggml_nelements(t); ++i) static_cast<float*>(t->data)[i] = normal(rng);
  // Clear sinks at keys 0 and 5 that every query leans towards: ACT keeps the first and
  // calibrates the second, so it has something to do.
  for (std::int64_t h = 0; h < n_head_kv; ++h)
    for (std::int64_t key : {0, 5}) static_cast<float*>(g.k->data)[(h * n_kv + key) * head_dim] = 8.0f;
  for (std::int64_t i = 0; i < n_q * n_head; ++i) {
    float& first = static_cast<float*>(g.q->data)[i * head_dim];
    first = std::abs(first) + 1.0f;
  }
  return g;
}

// ggml's causal mask for the last n_q positions of n_kv: f16, 0 where visible, -inf elsewhere.
ggml_tensor* causal_mask(ggml_context* ctx) {
  ggml_tensor* mask = ggml_new_tensor_2d(ctx, GGML_TYPE_F16, n_kv, n_q);
  auto* cells = static_cast<ggml_fp16_t*>(mask->data);
  for (std::int64_t i = 0; i < n_q; ++i)
    for (std::int64_t j = 0; j < n_kv; ++j)
      cells[i * n_kv + j] = ggml_fp32_to_fp16(j <= n_kv - n_q + i ? 0.0f : -std::numeric_limits<float>::infinity());
  return mask;
}

// act::attention on the graph's inputs, head-major [n_head, n_q, head_dim].
template <class Cal>
std::vector<float> expected_output(const Graph& g, const Cal& calibration) {
  std::vector<float> out(static_cast<std::size_t>(n_head * n_q * head_dim));
  act::AttentionOptions options;
  options.threads = 1;
  act::attention(act::ggml::heads_view<const float>(*g.q), act::ggml::heads_view<const float>(*g.k),
                 act::ggml::heads_view<const float>(*g.v),
                 act::head_major(out.data(), static_cast<std::size_t>(n_head), static_cast<std::size_t>(n_q),
                                 static_cast<std::size_t>(head_dim)),
                 options, calibration);
  return out;
}

// Largest |result - expected| over every element; result is ggml's permuted [head_dim, n_head, n_q].
double max_difference(const ggml_tensor& result, const std::vector<float>& expected) {
  const act::HeadsView<float> view = act::ggml::permuted_heads_view(result);
  double worst = 0.0;
  for (std::size_t h = 0; h < view.heads; ++h)
    for (std::size_t i = 0; i < view.rows; ++i)
      for (std::size_t c = 0; c < view.cols; ++c)
        worst = std::max(worst,
                         std::abs(double(view.row(h, i)[c]) - double(expected[(h * view.rows + i) * view.cols + c])));
  return worst;
}

}  // namespace

TEST_CASE("the custom op equals act::attention and ggml_flash_attn_ext in one ggml graph", "[ggml]") {
  const int threads = GENERATE(1, 2, 3);
  CAPTURE(threads);
  Graph g = random_inputs(7);
  const float scale = 1.0f / std::sqrt(float(head_dim));
  ggml_tensor* flash = ggml_flash_attn_ext(g.ctx.get(), g.q, g.k, g.v, causal_mask(g.ctx.get()), scale, 0.0f, 0.0f);
  act::ggml::AttentionOp plain_op;
  act::ggml::AttentionOp act_op(act::paper_calibration(0.4f, 0.1f));
  ggml_tensor* plain = act::ggml::attention(g.ctx.get(), g.q, g.k, g.v, plain_op);
  ggml_tensor* calibrated = act::ggml::attention(g.ctx.get(), g.q, g.k, g.v, act_op);
  ggml_cgraph* graph = ggml_new_graph(g.ctx.get());
  for (ggml_tensor* t : {flash, plain, calibrated}) ggml_build_forward_expand(graph, t);
  REQUIRE(ggml_graph_compute_with_ctx(g.ctx.get(), graph, threads) == GGML_STATUS_SUCCESS);
  CHECK(plain_op.finish().rows_calibrated == 0);
  const act::CalibrationReport report = act_op.finish();
  CHECK(report.rows_calibrated > 0);

  // The op runs act::attention per slice of heads with the same float code: heads are computed
  // independently, so the slices must reproduce the whole call bit for bit.
  const std::vector<float> expected_plain = expected_output(g, act::NoCalibration{});
  CHECK(max_difference(*plain, expected_plain) == 0.0);
  CHECK(max_difference(*calibrated, expected_output(g, act::paper_calibration(0.4f, 0.1f))) == 0.0);
  // ggml's flash attention (f32 K and V here) differs from act's float kernel only by rounding:
  // both outputs are within about (2 d + 2 n + 16) u relative of the exact convex combination of
  // value rows (scores over d = 16 terms, sums over n <= 40 keys, exp within 2 ulp), so
  // |difference| <= 2 * max|v| * 128 * 2^-24.
  double max_v = 0.0;
  for (std::int64_t i = 0; i < ggml_nelements(g.v); ++i)
    max_v = std::max(max_v, double(std::abs(static_cast<float*>(g.v->data)[i])));
  CHECK(max_difference(*flash, expected_plain) <= 2.0 * max_v * 128.0 / 16777216.0);
  // ACT moved the output by far more than that: the comparison above can tell the two apart.
  CHECK(max_difference(*calibrated, expected_plain) > 1e-2);
}

TEST_CASE("the custom op rejects tensors it cannot view", "[ggml]") {
  Graph g = random_inputs(3);
  act::ggml::AttentionOp op;
  ggml_tensor* half_k = ggml_new_tensor_3d(g.ctx.get(), GGML_TYPE_F16, head_dim, n_kv, n_head_kv);
  CHECK_THROWS_AS(act::ggml::attention(g.ctx.get(), g.q, half_k, g.v, op), std::invalid_argument);
  ggml_tensor* three_kv = ggml_new_tensor_3d(g.ctx.get(), GGML_TYPE_F32, head_dim, n_kv, 3);
  CHECK_THROWS_AS(act::ggml::attention(g.ctx.get(), g.q, three_kv, three_kv, op), std::invalid_argument);
  act::ggml::AttentionOp wrong_mask(act::paper_calibration(), {}, std::vector<std::uint8_t>{1, 0});
  CHECK_THROWS_AS(act::ggml::attention(g.ctx.get(), g.q, g.k, g.v, wrong_mask), std::invalid_argument);
}
