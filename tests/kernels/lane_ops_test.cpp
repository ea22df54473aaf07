// The lane-parallel building blocks against plain scalar loops, on the SIMD width this build uses.
#include <act/kernels/lane_ops.hpp>

#include "kernel_bounds.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

using namespace act::simd;
using act::testing::error_gamma;  // an FMA chain of k steps errs by at most error_gamma(k) times sum |terms|

namespace {

AlignedVector<float> random_floats(std::size_t count, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  AlignedVector<float> values(count);
  for (float& x : values) x = normal(rng);
  return values;
}

}  // namespace

TEST_CASE("column sums reduce every key's lanes in key order", "[kernels][simd]") {
  // Small integers: every sum is exact, so equality is required (this caught xsimd 8.1's AVX-512
  // haddp, which returns its sums in a permuted order).
  const std::size_t keys = 3 * width + 5;
  AlignedVector<float> weights(keys * width);
  for (std::size_t j = 0; j < keys; ++j)
    for (std::size_t lane = 0; lane < width; ++lane) weights[j * width + lane] = static_cast<float>(j * 3 + lane % 4);
  alignas(alignment) float scales[width];
  for (std::size_t lane = 0; lane < width; ++lane) scales[lane] = static_cast<float>(lane % 3);
  std::vector<float> sums(keys, 1.0f);
  add_column_sums(weights.data(), keys, load(scales), sums.data());
  for (std::size_t j = 0; j < keys; ++j) {
    float expected = 1.0f;
    for (std::size_t lane = 0; lane < width; ++lane) expected += weights[j * width + lane] * scales[lane];
    CHECK(sums[j] == expected);
  }
}

TEST_CASE("score_keys is q . k per lane, masked and summarised", "[kernels][simd]") {
  const std::size_t dim = GENERATE(1, 3, 17, 64);
  const std::size_t keys = 21, unmasked = 13;
  const AlignedVector<float> panel = random_floats(dim * width, 1);
  const AlignedVector<float> k = random_floats(keys * dim, 2);
  alignas(alignment) float visible[width];
  for (std::size_t lane = 0; lane < width; ++lane) visible[lane] = static_cast<float>(unmasked + lane % 9);
  AlignedVector<float> scores(keys * width);
  const ScoreSummary summary =
      score_keys(panel.data(), dim, ConsecutiveRows{k.data(), static_cast<std::ptrdiff_t>(dim)}, keys, unmasked,
                 load(visible), scores.data());
  alignas(alignment) float max[width];
  summary.max.store_aligned(max);
  CHECK(!xsimd::any(summary.bad));
  for (std::size_t lane = 0; lane < width; ++lane) {
    float expected_max = -std::numeric_limits<float>::infinity();
    for (std::size_t j = 0; j < keys; ++j) {
      double dot = 0.0, magnitude = 0.0;
      for (std::size_t c = 0; c < dim; ++c) {
        dot += static_cast<double>(panel[c * width + lane]) * k[j * dim + c];
        magnitude += std::abs(static_cast<double>(panel[c * width + lane]) * k[j * dim + c]);
      }
      const float actual = scores[j * width + lane];
      if (static_cast<float>(j) < visible[lane]) {
        CHECK(std::abs(actual - dot) <= error_gamma(static_cast<double>(dim)) * magnitude);
        expected_max = std::max(expected_max, actual);
      } else {
        CHECK(actual == -std::numeric_limits<float>::infinity());
      }
    }
    CHECK(max[lane] == expected_max);
  }
}

TEST_CASE("the score summary flags NaN and +inf but not -inf", "[kernels][simd]") {
  ScoreSummary summary;
  alignas(alignment) float scores[width];
  for (std::size_t lane = 0; lane < width; ++lane) scores[lane] = static_cast<float>(lane);
  scores[0] = std::numeric_limits<float>::quiet_NaN();
  scores[width - 1] = -std::numeric_limits<float>::infinity();
  if (width > 2) scores[1] = std::numeric_limits<float>::infinity();
  summary.add(load(scores));
  bool bad[width];
  summary.bad.store_unaligned(bad);
  CHECK(bad[0]);
  if (width > 2) CHECK(bad[1]);
  CHECK(!bad[width - 1]);
}

TEST_CASE("exponentiate keeps only the chosen lanes and returns their sums", "[kernels][simd]") {
  const std::size_t keys = 7;
  AlignedVector<float> weights = random_floats(keys * width, 3);
  weights[1] = std::numeric_limits<float>::quiet_NaN();  // lane 1 of key 0, dropped below
  const AlignedVector<float> scores = weights;
  alignas(alignment) float shift[width];
  bool keep[width];
  for (std::size_t lane = 0; lane < width; ++lane) {
    shift[lane] = 0.5f * static_cast<float>(lane);
    keep[lane] = lane != 1;
  }
  alignas(alignment) float sums[width];
  exponentiate(weights.data(), keys, load(shift), Lanes::load_unaligned(keep)).store_aligned(sums);
  for (std::size_t lane = 0; lane < width; ++lane) {
    double sum = 0.0;
    for (std::size_t j = 0; j < keys; ++j) {
      const float weight = weights[j * width + lane];
      sum += weight;
      if (!keep[lane]) {
        CHECK(weight == 0.0f);
        continue;
      }
      const double difference = static_cast<double>(scores[j * width + lane]) - shift[lane];
      // xsimd's exp is within 2 ulp (measured 1.34) of exp of the rounded difference (u |difference|).
      CHECK(std::abs(weight - std::exp(difference)) <=
            error_gamma(3.0) * std::exp(difference) * (1.0 + std::abs(difference)));
    }
    CHECK(std::abs(sums[lane] - sum) <= error_gamma(static_cast<double>(keys)) * sum);
  }
}

TEST_CASE("P V accumulates into both layouts for every head dimension", "[kernels][simd]") {
  const std::size_t dim = GENERATE(1, 3, 5, 17, 64, 80, 128);
  const std::size_t keys = 11;
  const AlignedVector<float> weights = random_floats(keys * width, 4);
  const AlignedVector<float> values = random_floats(keys * dim, 5);
  AlignedVector<float> panel(dim * width, 1.0f);
  const std::uint32_t chosen[] = {1, 4, 5, 10};
  // panel starts at 1; expected = 1 + sum_j v[row_j][c] w[j][lane], within error_gamma(count) sum |terms|.
  const auto check_panel = [&](std::size_t count, auto row_of) {
    for (std::size_t c = 0; c < dim; ++c)
      for (std::size_t lane = 0; lane < width; ++lane) {
        double expected = 1.0, magnitude = 1.0;
        for (std::size_t j = 0; j < count; ++j) {
          const double term = static_cast<double>(values[row_of(j) * dim + c]) * weights[j * width + lane];
          expected += term;
          magnitude += std::abs(term);
        }
        CHECK(std::abs(panel[c * width + lane] - expected) <= error_gamma(static_cast<double>(count)) * magnitude);
      }
  };
  SECTION("consecutive rows") {
    accumulate_values(weights.data(), keys, ConsecutiveRows{values.data(), static_cast<std::ptrdiff_t>(dim)}, 0, dim,
                      panel.data());
    check_panel(keys, [](std::size_t j) { return j; });
  }
  SECTION("row layout for the columns that fill whole vectors") {
    const std::size_t length = vector_columns(dim);
    CHECK(length % width == 0);
    CHECK(dim - length < width);
    AlignedVector<float> rows(width * length, 1.0f);
    accumulate_value_rows(weights.data(), keys, ConsecutiveRows{values.data(), static_cast<std::ptrdiff_t>(dim)}, dim,
                          rows.data());
    for (std::size_t lane = 0; lane < width; ++lane)
      for (std::size_t c = 0; c < length; ++c) {
        double expected = 1.0, magnitude = 1.0;
        for (std::size_t j = 0; j < keys; ++j) {
          const double term = static_cast<double>(values[j * dim + c]) * weights[j * width + lane];
          expected += term;
          magnitude += std::abs(term);
        }
        CHECK(std::abs(rows[lane * length + c] - expected) <= error_gamma(static_cast<double>(keys)) * magnitude);
      }
  }
  SECTION("chosen rows") {
    accumulate_values(weights.data(), 4, ChosenRows{values.data(), static_cast<std::ptrdiff_t>(dim), chosen}, 0, dim,
                      panel.data());
    check_panel(4, [&](std::size_t j) { return std::size_t{chosen[j]}; });
  }
}
