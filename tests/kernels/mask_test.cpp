// Additive masks and explicit query positions (llama.cpp's KQ mask: padded cache cells, several
// sequences in one batch, sliding windows), fused and correct() against the double oracle.
#include "kernel_testing.hpp"

using namespace act;
using namespace act::testing;

namespace {

constexpr float hidden = -std::numeric_limits<float>::infinity();

// A mask of `heads` x [q_len][kv_len] floats, stored with a padded row stride like ggml's.
struct Mask {
  std::size_t heads, rows, cols, stride;
  std::vector<float> f32;
  std::vector<std::uint16_t> f16;

  Mask(std::size_t h, std::size_t r, std::size_t c)
      : heads(h), rows(r), cols(c), stride(c + 3), f32(h * r * stride, 0.0f) {}
  float& at(std::size_t h, std::size_t i, std::size_t j) { return f32[(h * rows + i) * stride + j]; }
  MaskView view(MaskType type) {
    if (type == MaskType::f32) return mask_view(f32.data(), heads, rows, cols, stride);
    f16.clear();
    for (float x : f32) f16.push_back(exact_half(x));
    return mask_view(f16.data(), heads, rows, cols, stride);
  }
};

// Two sequences in one batch over a 40-cell cache (cells 0-15: sequence A, 16-29: B, 30-39 padding);
// rows 0-5 are A's tokens at cells 10-15, rows 6-11 B's at cells 24-29; each sees its own
// sequence's cells up to its own.
Mask two_sequences() {
  Mask mask(1, 12, 40);
  for (std::size_t i = 0; i < 12; ++i) {
    const std::size_t begin = i < 6 ? 0 : 16, own = i < 6 ? 10 + i : 18 + i;
    for (std::size_t j = 0; j < 40; ++j) mask.at(0, i, j) = j >= begin && j <= own ? 0.0f : hidden;
  }
  return mask;
}

// Per head: random hidden keys (some rows hide everything) and small finite biases (multiples of
// 1/8, exact in half precision).
Mask random_mask(std::size_t heads, std::size_t rows, std::size_t cols, std::uint32_t seed) {
  Mask mask(heads, rows, cols);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> eighths(-16, 16), percent(0, 99);
  for (std::size_t h = 0; h < heads; ++h)
    for (std::size_t i = 0; i < rows; ++i) {
      const bool row_hidden = percent(rng) < 5;
      for (std::size_t j = 0; j < cols; ++j)
        mask.at(h, i, j) = row_hidden || percent(rng) < 30 ? hidden : static_cast<float>(eighths(rng)) / 8.0f;
    }
  return mask;
}

// Fused against the oracle, including each head's seen_by (the statistics' denominators).
template <class Cal>
void check_masked(const Problem& p, const Cal& calibration) {
  check_against_reference(p, calibration);
  RunOptions collect;
  collect.collect_running = true;
  const Result fused = run_fused(p, calibration, collect), ref = run_reference(p, calibration, collect);
  for (std::size_t h = 0; h < p.shape.q_heads; ++h) CHECK(fused.running[h].seen_by == ref.running[h].seen_by);
}

}  // namespace

TEST_CASE("a mask of several sequences over a padded cache matches the oracle", "[kernels][mask]") {
  const MaskType type = GENERATE(MaskType::f32, MaskType::f16);
  const std::size_t dim = GENERATE(8, 64);
  CAPTURE(type == MaskType::f16, dim);
  Mask mask = two_sequences();
  AttentionOptions options;
  options.masking = Masking::none;
  Problem p = random_problem({6, 2, 12, 40, dim}, options, static_cast<std::uint32_t>(dim));
  plant_sinks(p, {0, 3, 16, 20}, 3.0f * std::sqrt(static_cast<float>(dim)));
  p.options.mask = mask.view(type);
  check_masked(p, paper_calibration(0.4f, 0.1f));
  check_masked(p, NoCalibration{});
  // Key 16 is seen by B's 6 rows only: its mean is over those rows, not n - j.
  RunOptions collect;
  collect.collect_running = true;
  const Result r = run_fused(p, paper_calibration(), collect);
  CHECK(r.running[0].seen_by[16] == 6);
  CHECK(r.running[0].seen_by[3] == 6);
  CHECK(r.running[0].seen_by[35] == 0);
}

TEST_CASE("random per-head masks with biases, causal and positioned, match the oracle", "[kernels][mask]") {
  const MaskType type = GENERATE(MaskType::f32, MaskType::f16);
  const bool causal = GENERATE(false, true);
  const std::size_t dim = GENERATE(3, 16, 64);
  CAPTURE(type == MaskType::f16, causal, dim);
  AttentionOptions options;
  options.masking = causal ? Masking::causal : Masking::none;
  options.valid_keys = 45;
  if (causal) options.query_position = 20;  // 27 queries at positions 20..46 of a 50-cell cache
  Problem p = random_problem({6, 3, 27, 50, dim}, options, static_cast<std::uint32_t>(dim + causal));
  plant_sinks(p, {0, 7, 30}, 3.0f * std::sqrt(static_cast<float>(dim)));
  Mask mask = random_mask(6, 27, 50, static_cast<std::uint32_t>(dim));
  p.options.mask = mask.view(type);
  check_masked(p, paper_calibration(0.4f, 0.1f));
  check_masked(p, Calibration{ColumnMeanThreshold(0.05f, KeepSink::none), ScaleOnly(0.5f)});
  check_masked(p, NoCalibration{});
  // correct() after plain masked attention sees the same mask.
  Result given = run_fused(p, NoCalibration{});
  AttentionExtras extras;
  extras.sinks = &given.sinks;
  correct(p.queries(), p.keys(), p.values(), head_major(given.out.data(), 6, 27, dim), given.lse, p.options,
          paper_calibration(), extras);
  const Result ref = run_reference(p, paper_calibration());
  CHECK(given.sinks == ref.sinks);
}

TEST_CASE("a sliding window through the mask equals the oracle and hides values", "[kernels][mask]") {
  Problem p = random_problem({4, 2, 30, 30, 16}, {}, 77);
  plant_sinks(p, {0, 4}, 10.0f);
  Mask mask(1, 30, 30);
  for (std::size_t i = 0; i < 30; ++i)
    for (std::size_t j = 0; j < 30; ++j) mask.at(0, i, j) = j + 8 <= i ? hidden : 0.0f;  // window of 8
  p.options.mask = mask.view(MaskType::f32);
  p.v_at(0, 2, 1) = std::numeric_limits<float>::infinity();  // seen by rows 2..9 only
  check_masked(p, paper_calibration());
  const Result r = run_fused(p, paper_calibration());
  for (std::size_t i = 0; i < 30; ++i) CHECK(std::isfinite(r.out[i * 16 + 1]) == (i < 2 || i >= 10));
}

TEST_CASE("masks that do not fit the call are rejected", "[kernels][mask][errors]") {
  AttentionOptions options;
  options.masking = Masking::none;
  Problem p = random_problem({4, 2, 6, 9, 4}, options, 5);
  std::vector<float> out(p.q.size());
  const auto output = head_major(out.data(), 4, 6, 4);
  Mask wrong_heads(2, 6, 9), wrong_rows(1, 5, 9), wrong_cols(4, 6, 8);
  for (Mask* mask : {&wrong_heads, &wrong_rows, &wrong_cols}) {
    p.options.mask = mask->view(MaskType::f32);
    CHECK_THROWS_WITH(attention(p.queries(), p.keys(), p.values(), output, p.options), Catch::Contains("mask"));
  }
  Mask fits(4, 6, 9);
  p.options.mask = fits.view(MaskType::f32);
  p.options.mask.type = static_cast<MaskType>(7);
  CHECK_THROWS_AS(attention(p.queries(), p.keys(), p.values(), output, p.options), std::invalid_argument);
}
