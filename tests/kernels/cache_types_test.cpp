// KV caches in IEEE half and bfloat16, read in place: the result must be exactly that of float32
// K and V holding the same values (widening is exact and the arithmetic is the same), which the
// float32 kernel is checked against the double oracle for.
#include "kernel_testing.hpp"

#include <utility>

using namespace act;
using namespace act::testing;

namespace {

// K and V on a grid of sixteenths in [-4, 4] (exact in half and bfloat16), Q normal.
Problem grid_problem(const Shape& shape, const AttentionOptions& options, std::uint32_t seed) {
  Problem p = random_problem(shape, options, seed);
  std::mt19937 rng(seed + 1);
  std::uniform_int_distribution<int> sixteenths(-64, 64);
  for (auto* tensor : {&p.k, &p.v})
    for (float& x : *tensor) x = static_cast<float>(sixteenths(rng)) / 16.0f;
  return p;
}

template <class Element, class Cal>
Result run_narrow(const Problem& p, const Cal& calibration) {
  const std::vector<Element> k = narrow<Element>(p.k), v = narrow<Element>(p.v);
  Result r{std::vector<float>(p.q.size()), std::vector<float>(p.shape.q_heads * p.shape.q_len), {}, {}, {}};
  const AttentionExtras extras = extras_for(r, {}, p.shape.q_heads);
  const Shape& s = p.shape;
  r.report = attention(p.queries(), head_major<const Element>(k.data(), s.kv_heads, s.kv_len, s.dim),
                       head_major<const Element>(v.data(), s.kv_heads, s.kv_len, s.dim),
                       head_major(r.out.data(), s.q_heads, s.q_len, s.dim), p.options, calibration, extras);
  return r;
}

// `queries` 37 is a prefill (block kernel), 1 a decode step (the split-K path unless masked).
// Sinks get key component `sink` (more keys need a stronger one for a sink to stand out).
template <class Element>
void check_type(std::size_t dim, bool masked, std::size_t queries, std::size_t keys = 37, float sink = 4.0f) {
  AttentionOptions options;
  Problem p = grid_problem({6, 2, queries, keys, dim}, options, static_cast<std::uint32_t>(dim + queries));
  plant_sinks(p, {0, 5}, sink);
  std::vector<float> mask(queries * keys);
  if (masked) {
    for (std::size_t i = 0; i < queries; ++i)
      for (std::size_t j = 0; j < keys; ++j) mask[i * keys + j] = j + 10 < keys - queries + i ? -INFINITY : 0.0f;
    p.options.mask = mask_view(mask.data(), 1, queries, keys, keys);
  }
  const auto calibration = paper_calibration();
  check_against_reference(p, calibration);
  const Result wide = run_fused(p, calibration), narrowed = run_narrow<Element>(p, calibration);
  CHECK(narrowed.out == wide.out);
  CHECK(narrowed.lse == wide.lse);
  CHECK(narrowed.sinks == wide.sinks);
  CHECK(narrowed.report == wide.report);
  CHECK(narrowed.report.rows_calibrated > 0);
}

}  // namespace

TEST_CASE("half and bfloat16 caches give exactly the float32 result", "[kernels][cache]") {
  const std::size_t dim = GENERATE(5, 16, 64, 80);
  const bool masked = GENERATE(false, true);
  const std::size_t queries = GENERATE(37, 1);
  CAPTURE(dim, masked, queries);
  SECTION("half") { check_type<Half>(dim, masked, queries); }
  SECTION("bfloat16") { check_type<BFloat16>(dim, masked, queries); }
}

// The block kernel widens a thread's leading 16-bit keys once (detail::key_prefix_budget floats)
// and widens the keys past them group by group: both parts, and the boundary between them.
TEST_CASE("16-bit caches longer than the widened key prefix", "[kernels][cache]") {
  constexpr std::size_t dim = 256;
  const std::size_t keys = detail::key_prefix_budget / dim + 21;
  const bool masked = GENERATE(false, true);
  CAPTURE(masked, keys);
  SECTION("half") { check_type<Half>(dim, masked, 37, keys, 64.0f); }
  SECTION("bfloat16") { check_type<BFloat16>(dim, masked, 37, keys, 64.0f); }
}

TEST_CASE("vector widening matches the scalar conversions", "[kernels][cache][simd]") {
  std::vector<Half> halves;
  std::vector<BFloat16> bfloats;
  for (std::uint32_t bits = 0; bits < 65536; bits += 7) {
    halves.push_back(Half{static_cast<std::uint16_t>(bits)});
    bfloats.push_back(BFloat16{static_cast<std::uint16_t>(bits)});
  }
  for (std::size_t first = 0; first + simd::width <= halves.size(); first += simd::width) {
    alignas(64) float wide_half[simd::width], wide_bf16[simd::width];
    simd::widen(halves.data() + first).store_aligned(wide_half);
    simd::widen(bfloats.data() + first).store_aligned(wide_bf16);
    for (std::size_t lane = 0; lane < simd::width; ++lane) {
      const float expected_half = f16_to_f32(halves[first + lane].bits);
      const float expected_bf16 = bf16_to_f32(bfloats[first + lane].bits);
      CHECK((std::bit_cast<std::uint32_t>(wide_half[lane]) == std::bit_cast<std::uint32_t>(expected_half) ||
             (std::isnan(wide_half[lane]) && std::isnan(expected_half))));
      CHECK(std::bit_cast<std::uint32_t>(wide_bf16[lane]) == std::bit_cast<std::uint32_t>(expected_bf16));
    }
  }
}

namespace {

// SlicedAttention in three slices, each phase's slices in turn; returns the output and the report.
template <class Element, class Cal>
std::pair<std::vector<float>, CalibrationReport> sliced_run(const Problem& p, HeadsView<const Element> keys,
                                                            HeadsView<const Element> values, const Cal& calibration) {
  const Shape& s = p.shape;
  std::vector<float> out(p.q.size());
  SlicedAttention<Cal, Element> call(p.queries(), keys, values, head_major(out.data(), s.q_heads, s.q_len, s.dim),
                                     p.options, calibration, {}, 3);
  for (std::size_t phase = 0; phase < call.phases(); ++phase)
    for (std::size_t ith = 0; ith < call.slices(); ++ith) REQUIRE(call.run(phase, ith).ok());
  return {out, call.report()};
}

// correct() (after plain attention) and SlicedAttention (slice by slice) over 16-bit caches:
// exactly their float32 results, which the float32 tests hold to the oracle.
template <class Element>
void check_engine_paths(bool masked) {
  Problem p = grid_problem({6, 2, 21, 37, 24}, {}, 41);
  plant_sinks(p, {0, 5}, 4.0f);
  std::vector<float> mask(21 * 37, 0.0f);
  for (std::size_t i = 0; i < 21; ++i)
    for (std::size_t j = 0; j < 37; ++j) mask[i * 37 + j] = masked && (i + j) % 5 == 0 ? -INFINITY : 0.0f;
  p.options.mask = mask_view(mask.data(), 1, 21, 37, 37);
  const auto calibration = paper_calibration();
  const std::vector<Element> k = narrow<Element>(p.k), v = narrow<Element>(p.v);
  const auto keys = head_major<const Element>(k.data(), 2, 37, 24),
             values = head_major<const Element>(v.data(), 2, 37, 24);
  const Result plain = run_fused(p, NoCalibration{});
  std::vector<float> wide = plain.out, narrowed = plain.out;
  const CalibrationReport wide_report =
      correct(p.queries(), p.keys(), p.values(), head_major(wide.data(), 6, 21, 24), plain.lse, p.options, calibration);
  const CalibrationReport narrow_report =
      correct(p.queries(), keys, values, head_major(narrowed.data(), 6, 21, 24), plain.lse, p.options, calibration);
  CHECK(narrowed == wide);
  CHECK(narrow_report == wide_report);
  CHECK(wide_report.rows_calibrated > 0);
  CHECK(sliced_run<Element>(p, keys, values, calibration) == sliced_run<float>(p, p.keys(), p.values(), calibration));
}

}  // namespace

TEST_CASE("correct() and SlicedAttention read half and bfloat16 caches", "[kernels][cache][engine]") {
  const bool masked = GENERATE(false, true);
  CAPTURE(masked);
  SECTION("half") { check_engine_paths<Half>(masked); }
  SECTION("bfloat16") { check_engine_paths<BFloat16>(masked); }
}
