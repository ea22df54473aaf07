// The bf16 attention path (ProductPrecision::bf16 over a bfloat16 cache: Q and the softmax weights
// rounded to bfloat16, vdpbf16ps products accumulated in float32) and its fallback (fp32 products
// over the same cache, which is also what builds without AVX-512 BF16 run), each against the
// double-precision oracle. The same file is built once more without AVX-512 BF16
// (act_test_isa_fallback), where the request must take the fallback.
//
// Tolerances: the float32 error model of kernel_testing.hpp plus what bfloat16 rounding adds.
// bfloat16 keeps 8 significant bits, so rounding to nearest moves a value by at most u = 2^-8 of
// itself (the unit roundoff, as 2^-24 is float32's).
// - Scores: each element of q * scale is rounded once (relative u); the products of two bfloat16
//   are exact in float32 and vdpbf16ps adds them with float32 rounding (the float model's
//   gamma_{d+1} covers the sum; its flushing of subnormals moves a sum by at most 2^-126 per
//   step, far below these bounds). So the score bound D_i gains u * scale * sum_c |q_c k_c|
//   (BoundOptions::input_rounding), which enters the weights, the lse and the sink masses.
// - P V: each weight is rounded once before its product with V (relative u) while the row sum
//   uses the unrounded weights: relative error u per weight of the output, added to eps_i
//   (BoundOptions::extra_weight_error).
// K and V are on bfloat16 values already (the oracle reads the very cache the kernel reads), so
// nothing else is rounded.
#include "kernel_testing.hpp"

#include <act/simd/bf16_dot.hpp>

using namespace act;
using namespace act::testing;

namespace {

#ifdef ACT_TEST_WITHOUT_BF16_DOT
static_assert(!simd::bf16_dot_compiled, "the fallback build must not have AVX-512 BF16");
#endif

constexpr double bf16_unit_roundoff = 1.0 / 256.0;  // 2^-8

// K and V rounded to bfloat16 in place.
void round_cache(Problem& p) {
  for (auto* tensor : {&p.k, &p.v})
    for (float& x : *tensor) x = bf16_to_f32(f32_to_bf16(x));
}

std::vector<BFloat16> to_bf16(const std::vector<float>& values) {
  std::vector<BFloat16> out;
  for (float x : values) out.push_back(BFloat16{f32_to_bf16(x)});
  return out;
}

template <class Cal>
Result run_bf16_cache(const Problem& p, const Cal& calibration, ProductPrecision products) {
  const std::vector<BFloat16> k = to_bf16(p.k), v = to_bf16(p.v);
  Result r{std::vector<float>(p.q.size()), std::vector<float>(p.shape.q_heads * p.shape.q_len), {}, {}, {}};
  const AttentionExtras extras = extras_for(r, {}, p.shape.q_heads);
  AttentionOptions options = p.options;
  options.products = products;
  const Shape& s = p.shape;
  r.report = attention(p.queries(), head_major<const BFloat16>(k.data(), s.kv_heads, s.kv_len, s.dim),
                       head_major<const BFloat16>(v.data(), s.kv_heads, s.kv_len, s.dim),
                       head_major(r.out.data(), s.q_heads, s.q_len, s.dim), options, calibration, extras);
  return r;
}

Expectations bf16_expectations() {
  Expectations expect;
  expect.bounds.input_rounding = bf16_unit_roundoff;
  expect.bounds.extra_weight_error = bf16_unit_roundoff;
  return expect;
}

// Whether this build's kernel honours a bf16 request for a head dimension.
bool takes_bf16_path(std::size_t dim) { return simd::bf16_dot_compiled && dim % simd::bf16_chunk == 0; }

double max_abs_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double worst = 0.0;
  for (std::size_t e = 0; e < a.size(); ++e)
    if (std::isfinite(b[e])) worst = std::max(worst, std::abs(static_cast<double>(a[e]) - b[e]));
  return worst;
}

// Both paths against the oracle on one problem; the bf16 one must differ from the fallback where
// it runs (the instructions did run) and equal it bitwise where it does not.
template <class Cal>
void check_both_paths(const Problem& p, const Cal& calibration) {
  const Result ref = run_reference(p, calibration);
  const Result bf16 = run_bf16_cache(p, calibration, ProductPrecision::bf16);
  const Result fallback = run_bf16_cache(p, calibration, ProductPrecision::fp32);
  check_result(p, calibration, fallback, ref, {});
  if (!takes_bf16_path(p.shape.dim)) {
    CHECK(bf16.out == fallback.out);
    CHECK(bf16.lse == fallback.lse);
    return;
  }
  check_result(p, calibration, bf16, ref, bf16_expectations());
  CHECK(bf16.out != fallback.out);
  CHECK(bf16.sinks == ref.sinks);  // planted sinks sit far from the threshold
  // The largest output error against the largest row bound (shown with -s, for the record; each
  // row's own bound and the lse's were checked by check_result).
  const OutputBounds bounds = output_bounds(p, calibration.rescaler, ref.sinks, bf16_expectations().bounds);
  const double largest_bound = *std::max_element(bounds.row.begin(), bounds.row.end());
  CAPTURE(p.shape.dim, p.shape.kv_len, largest_bound);
  CHECK(max_abs_difference(bf16.out, ref.out) <= largest_bound);
}

}  // namespace

TEST_CASE("bf16 attention: both paths against the oracle, causal prefill with ACT", "[kernels][bf16]") {
  // 8/1 heads over 130 x 200 have 9 blocks times 8 query heads per KV head: Q K^T reads the key
  // pairs panel (detail::uses_key_pairs), 200 keys end in a partial group; the others read rows.
  const Shape shape = GENERATE(Shape{9, 3, 100, 100, 64}, Shape{4, 2, 77, 77, 128}, Shape{4, 1, 33, 65, 32},
                               Shape{2, 2, 40, 40, 40}, Shape{8, 1, 130, 200, 64});
  CAPTURE(shape.q_heads, shape.kv_heads, shape.q_len, shape.kv_len, shape.dim);
  Problem p = random_problem(shape, {}, static_cast<std::uint32_t>(shape.dim + shape.kv_len));
  plant_sinks(p, {0, 7}, 4.0f);
  round_cache(p);
  check_both_paths(p, paper_calibration());
  check_both_paths(p, NoCalibration{});
}

TEST_CASE("bf16 attention: masked calls and non-finite values", "[kernels][bf16]") {
  // 24/1 heads: 3 blocks times 24 query heads per KV head read the key pairs panel.
  const Shape shape = GENERATE(Shape{6, 2, 40, 70, 64}, Shape{24, 1, 40, 70, 64});
  CAPTURE(shape.q_heads, shape.kv_heads);
  Problem p = random_problem(shape, {}, 5);
  plant_sinks(p, {0, 3}, 4.0f);
  round_cache(p);
  std::vector<float> mask(40 * 70);
  for (std::size_t i = 0; i < 40; ++i)
    for (std::size_t j = 0; j < 70; ++j) mask[i * 70 + j] = j > 30 + i ? -INFINITY : (j % 5 == 1 ? -0.5f : 0.0f);
  p.options.masking = Masking::none;
  p.options.mask = mask_view(mask.data(), 1, 40, 70, 70);
  check_both_paths(p, paper_calibration());
  // An infinite value seen by some rows only: their outputs are non-finite as in the oracle, the
  // rows that cannot see it stay finite (0 * inf never leaks into them).
  p.v[(0 * 70 + 60) * 64 + 3] = INFINITY;
  check_both_paths(p, NoCalibration{});
}

TEST_CASE("bf16 attention: decode steps and other caches take the float path", "[kernels][bf16]") {
  Problem p = random_problem({4, 2, 1, 50, 64}, {}, 9);
  round_cache(p);
  const Result bf16 = run_bf16_cache(p, paper_calibration(), ProductPrecision::bf16);
  const Result fallback = run_bf16_cache(p, paper_calibration(), ProductPrecision::fp32);
  CHECK(bf16.out == fallback.out);  // one query row: the split-K decode kernel, float32 products
  Problem prefill = random_problem({4, 2, 20, 20, 64}, {}, 10);
  Result plain = run_fused(prefill, NoCalibration{});
  prefill.options.products = ProductPrecision::bf16;
  CHECK(run_fused(prefill, NoCalibration{}).out == plain.out);  // float32 cache: the request is ignored
}
