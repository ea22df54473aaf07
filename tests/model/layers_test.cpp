// The model's building blocks against plain double-precision formulas.
#include <act/io/dequantize.hpp>
#include <act/model/gemm.hpp>
#include <act/model/kv_cache.hpp>
#include <act/model/matmul.hpp>
#include <act/model/quantized_rows.hpp>
#include <act/model/rms_norm.hpp>
#include <act/model/rope.hpp>
#include <act/model/sampler.hpp>
#include <act/model/swiglu.hpp>

#include <catch2/catch.hpp>

#include "random_weights.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

using namespace act::model;
using act::io::GgmlType;
using namespace act::testing;

#ifdef ACT_TEST_WITHOUT_AVX512
static_assert(act::simd::width <= 8, "the no-AVX-512 build must not use 16-lane batches");
#endif

TEST_CASE("decode_row matches the reference dequantisation bit for bit", "[model][quantized]") {
  for (const GgmlType type : {GgmlType::q4_1, GgmlType::q8_0}) {
    const std::size_t cols = 32 * 7;
    const auto bytes = random_blocks(type, 7, 11);
    std::vector<float> expected(cols), actual(cols);
    act::io::dequantize_row(type, bytes, expected);
    decode_row(type, bytes.data(), cols, actual.data());
    CAPTURE(act::io::type_name(type));
    CHECK(std::memcmp(expected.data(), actual.data(), cols * sizeof(float)) == 0);
  }
}

TEST_CASE("dot_rows agrees with a double-precision dot product", "[model][quantized]") {
  // Float32 sums of n terms have error below n * 2^-24 * sum|terms|; with n <= 224 a bound of
  // 2e-5 * sum|terms| holds with margin, and any decoding error would be far larger. The kernel adds
  // scale * (q . x) and min * sum(x) per block rather than w * x, whose absolute sum is a small
  // multiple of sum|w x| here (scales and minima both 0.008..0.03); over 400 random rows the error
  // stayed below 4e-8 sum|w x|. Scaling the min * sum(x) terms by 0.999 fails this test.
  // 7 rows: one group of four and a remainder of three; 1 row: decode's even and odd chains, over
  // 7 blocks (an odd one left).
  for (const GgmlType type : {GgmlType::f32, GgmlType::q4_1, GgmlType::q8_0})
    for (const std::size_t count : {std::size_t{7}, std::size_t{1}}) {
      const std::size_t cols = 224;
      const TestMatrix m(type, 1, cols, 5);
      const auto x = random_floats(cols * count, 9);
      std::vector<float> out(count * 2, -1.0f);
      FloatActivations activations;
      activations.prepare(x.data(), count, cols);
      dot_rows(m.weights.type(), m.weights.row(0), cols, activations, count, out.data(), 2);
      for (std::size_t r = 0; r < count; ++r) {
        CAPTURE(act::io::type_name(type), count, r);
        const float* xr = x.data() + r * cols;
        CHECK(std::abs(out[2 * r] - reference_dot(m.decoded.data(), xr, cols)) <=
              2e-5 * abs_dot(m.decoded.data(), xr, cols));
      }
    }
}

TEST_CASE("matmul: fused, tiled portable and tiled custom GEMM all compute x W^T", "[model][matmul]") {
  const std::size_t rows = 300, cols = 96;  // 300 rows: tiles of unequal luck, a partial last tile
  for (const GgmlType type : {GgmlType::f32, GgmlType::q4_1, GgmlType::q8_0}) {
    const TestMatrix m(type, rows, cols, 21);
    for (const std::size_t n : {std::size_t{1}, std::size_t{5}, std::size_t{8}, std::size_t{19}}) {
      const auto x = random_floats(n * cols, 3);
      std::size_t custom_calls = 0;
      const Gemm counting = [&](const GemmArgs& g) {
#pragma omp atomic
        ++custom_calls;
        portable_gemm_kernel(g);
      };
      for (const int threads : {1, 2}) {
        std::vector<float> y(n * rows, std::nanf(""));
        matmul(m.weights, x.data(), n, y.data(), {&counting, threads});
        for (std::size_t i = 0; i < n; ++i)
          for (std::size_t r = 0; r < rows; ++r) {
            const float* xi = x.data() + i * cols;
            const float* wr = m.decoded.data() + r * cols;
            CAPTURE(act::io::type_name(type), n, threads, i, r);
            REQUIRE(std::abs(y[i * rows + r] - reference_dot(wr, xi, cols)) <= 2e-5 * abs_dot(wr, xi, cols) + 1e-30);
          }
      }
      CHECK((custom_calls > 0) == (n >= 8));  // the GEMM serves prefill-sized batches only
    }
  }
}

TEST_CASE("matmul: a GEMM that throws inside the parallel region reaches the caller", "[model][matmul]") {
  // An exception may not leave an OpenMP region (the program would terminate): it is carried out.
  const TestMatrix m(GgmlType::q8_0, 300, 96, 4);
  const auto x = random_floats(16 * 96, 8);
  std::vector<float> y(16 * 300);
  const Gemm failing = [](const GemmArgs&) { throw std::runtime_error("user GEMM failed"); };
  for (const int threads : {1, 2})
    CHECK_THROWS_WITH(matmul(m.weights, x.data(), 16, y.data(), {&failing, threads}), "user GEMM failed");
}

TEST_CASE("WeightMatrix checks the tensor's shape", "[model][matmul]") {
  const TestMatrix m(GgmlType::f32, 4, 32, 1);
  CHECK_THROWS_WITH(WeightMatrix::from_gguf(m.file, m.file.tensor("w"), 32, 4),
                    Catch::Matchers::Contains("'w' has shape [32, 4], expected [4, 32]"));
}

TEST_CASE("RotaryAngles rotates adjacent pairs by position * base^(-2i/d)", "[model][rope]") {
  const std::size_t heads = 2, head_dim = 8, rope_dim = 6;  // the last pair of each head is not rotated
  const float base = 10000.0f;
  const auto x = random_floats(heads * head_dim, 4);
  const RotaryAngles angles(rope_dim, base, 5, 3);  // positions 5, 6, 7
  for (std::size_t p = 0; p < 3; ++p) {
    std::vector<float> y = x;
    angles.apply(y.data(), heads, head_dim, p);
    for (std::size_t h = 0; h < heads; ++h)
      for (std::size_t i = 0; i < head_dim / 2; ++i) {
        const std::size_t a = h * head_dim + 2 * i;
        double ea = x[a], eb = x[a + 1];
        if (2 * i < rope_dim) {
          const double theta = static_cast<double>(5 + p) * std::pow(base, -2.0 * static_cast<double>(i) / rope_dim);
          ea = x[a] * std::cos(theta) - x[a + 1] * std::sin(theta);
          eb = x[a] * std::sin(theta) + x[a + 1] * std::cos(theta);
        }
        CHECK(y[a] == Approx(ea).margin(1e-6));
        CHECK(y[a + 1] == Approx(eb).margin(1e-6));
      }
  }
}

TEST_CASE("RoPE makes q.k depend only on the distance between positions", "[model][rope]") {
  const auto q = random_floats(16, 1), k = random_floats(16, 2);
  const auto score = [&](std::size_t pq, std::size_t pk) {
    std::vector<float> a = q, b = k;
    RotaryAngles(16, 10000.0f, pq, 1).apply(a.data(), 1, 16, 0);
    RotaryAngles(16, 10000.0f, pk, 1).apply(b.data(), 1, 16, 0);
    return reference_dot(a.data(), b.data(), 16);
  };
  CHECK(score(10, 7) == Approx(score(103, 100)).margin(1e-4));
  CHECK(score(0, 0) == Approx(reference_dot(q.data(), k.data(), 16)).margin(1e-5));
}

TEST_CASE("rms_norm and swiglu follow their formulas", "[model][layers]") {
  const std::size_t n = 37;  // not a multiple of any SIMD width
  const auto x = random_floats(2 * n, 7, 3.0f), w = random_floats(n, 8);
  std::vector<float> y(2 * n);
  rms_norm(x.data(), w.data(), y.data(), 2, n, 1e-5f);
  for (std::size_t r = 0; r < 2; ++r) {
    const double rms = std::sqrt(reference_dot(x.data() + r * n, x.data() + r * n, n) / n + 1e-5);
    for (std::size_t i = 0; i < n; ++i) CHECK(y[r * n + i] == Approx(x[r * n + i] / rms * w[i]).epsilon(1e-5));
  }
  std::vector<float> gate = random_floats(n, 9, 4.0f);
  const auto up = random_floats(n, 10);
  const std::vector<float> original = gate;
  swiglu(gate.data(), up.data(), n);
  for (std::size_t i = 0; i < n; ++i)
    CHECK(gate[i] ==
          Approx(original[i] / (1.0 + std::exp(-static_cast<double>(original[i]))) * up[i]).epsilon(1e-5).margin(1e-7));
}

TEST_CASE("KvCache holds up to its capacity and reports overflow", "[model][kv]") {
  KvCache cache(2, 4, 1, 3);
  cache.commit(3);
  CHECK(cache.size() == 3);
  CHECK(cache.bytes_per_token_and_layer() == 2 * 3 * 4);
  CHECK_THROWS_AS(cache.check_room(2), ContextOverflow);
  CHECK_THROWS_WITH(cache.commit(2), Catch::Matchers::Contains("exceed the context of 4"));
  CHECK(cache.size() == 3);
  cache.commit(1);
  cache.clear();
  CHECK(cache.size() == 0);
}

// Every element type stores rounded values at the right rows and layers and views them in place.
template <class Element>
void check_store(KvType type) {
  KvCache cache(2, 4, 2, 3, type);
  CHECK(cache.bytes_per_token_and_layer() == 2 * 6 * sizeof(Element));
  const std::vector<float> keys = {1.0f, -2.5f, 3.0f, 0.1f, 65504.0f, -0.0f, 7.0f, 8.0f, 9.0f, 10.0f, 11.0f, 12.0f};
  std::vector<float> values(keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) values[i] = -keys[i];
  cache.store(1, 2, keys.data(), values.data(), 2);
  const auto views = std::get<KvViews<Element>>(cache.views(1, 4));
  REQUIRE(views.keys.heads == 2);
  REQUIRE(views.keys.rows == 4);
  for (std::size_t token = 0; token < 2; ++token)
    for (std::size_t head = 0; head < 2; ++head)
      for (std::size_t c = 0; c < 3; ++c) {
        const float x = keys[token * 6 + head * 3 + c];
        CHECK(act::to_float(views.keys.row(head, 2 + token)[c]) == act::to_float(act::from_float<Element>(x)));
        CHECK(act::to_float(views.values.row(head, 2 + token)[c]) == act::to_float(act::from_float<Element>(-x)));
      }
}

TEST_CASE("KvCache stores f32, f16 and bf16 and views them in place", "[model][kv]") {
  check_store<float>(KvType::f32);
  check_store<act::Half>(KvType::f16);
  check_store<act::BFloat16>(KvType::bf16);
  CHECK(kv_type_name(KvType::f16) == "f16");
  CHECK(kv_type_name(KvType::bf16) == "bf16");
}

TEST_CASE("Sampler: greedy, nucleus and seeded sampling", "[model][sampler]") {
  const std::vector<float> logits = {1.0f, 3.0f, 2.9f, -1.0f};
  CHECK(Sampler({}).sample(logits) == 1);
  Sampler narrow({1.0f, 0.01f, 7});  // top-p so small only the most likely token survives
  for (int i = 0; i < 20; ++i) CHECK(narrow.sample(logits) == 1);

  Sampler a({1.0f, 1.0f, 42}), b({1.0f, 1.0f, 42});
  std::vector<int> counts(4, 0);
  for (int i = 0; i < 4000; ++i) {
    const auto t = a.sample(logits);
    CHECK(t == b.sample(logits));
    ++counts[static_cast<std::size_t>(t)];
  }
  // Softmax probabilities: 0.066, 0.486, 0.439, 0.009. Binomial 4000 draws: sd <= 32 counts,
  // so 5 sd margins.
  CHECK(counts[1] == Approx(0.486 * 4000).margin(160));
  CHECK(counts[2] == Approx(0.439 * 4000).margin(160));
  CHECK(counts[0] == Approx(0.066 * 4000).margin(80));

  CHECK_THROWS_AS(Sampler({-1.0f, 1.0f, 0}), std::invalid_argument);
  CHECK_THROWS_AS(Sampler({1.0f, 0.0f, 0}), std::invalid_argument);
  CHECK_THROWS_AS(Sampler({1.0f, 1.5f, 0}), std::invalid_argument);
}

TEST_CASE("Sampler: non-finite logits are an error naming the token, greedy or sampled", "[model][sampler]") {
  // The old sampler read order[-1] here (NaN made the nucleus empty) and greedy returned token 0.
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  for (const float temperature : {0.0f, 1.0f}) {
    Sampler sampler({temperature, 0.9f, 3});
    CHECK_THROWS_WITH(sampler.sample(std::vector<float>{1.0f, nan, 2.0f}), Catch::Contains("logit of token 1 is nan"));
    CHECK_THROWS_WITH(sampler.sample(std::vector<float>{inf, 0.0f}), Catch::Contains("logit of token 0 is inf"));
    CHECK_THROWS_WITH(sampler.sample(std::vector<float>{0.0f, -inf}), Catch::Contains("token 1"));
    CHECK_THROWS_AS(sampler.sample(std::vector<float>{}), std::invalid_argument);
  }
}

TEST_CASE("Sampler: extreme but finite logits and temperatures keep a token", "[model][sampler]") {
  const float big = std::numeric_limits<float>::max();
  // Ties: every token equally likely and the greedy pick the first; a denormal temperature makes
  // the weights of all but the best 0, so the best is drawn every time.
  Sampler tiny({1e-40f, 0.5f, 1});
  for (int i = 0; i < 10; ++i) CHECK(tiny.sample(std::vector<float>{-big, big, 0.0f}) == 1);
  CHECK(Sampler({}).sample(std::vector<float>{2.0f, 2.0f}) == 0);
  Sampler ties({1.0f, 1.0f, 5});
  std::vector<int> counts(3, 0);
  for (int i = 0; i < 300; ++i) ++counts[static_cast<std::size_t>(ties.sample(std::vector<float>{0.5f, 0.5f, 0.5f}))];
  for (const int c : counts) CHECK(c > 50);  // 100 expected each; binomial sd 8
}

TEST_CASE("matmul of a group sharing the input equals one product per matrix", "[model][matmul]") {
  const TestMatrix a(GgmlType::q4_1, 40, 64, 31), b(GgmlType::q8_0, 24, 64, 32), c(GgmlType::f32, 8, 64, 33);
  for (const std::size_t n : {std::size_t{1}, std::size_t{3}, std::size_t{9}}) {
    const auto x = random_floats(n * 64, 34);
    std::vector<float> ya(n * 40), yb(n * 24), yc(n * 8);
    const MatmulOutput group[] = {{&a.weights, ya.data()}, {&b.weights, yb.data()}, {&c.weights, yc.data()}};
    matmul(group, x.data(), n, {nullptr, 2});
    for (const auto& [m, y] : {std::pair{&a, &ya}, std::pair{&b, &yb}, std::pair{&c, &yc}}) {
      std::vector<float> alone(y->size());
      matmul(m->weights, x.data(), n, alone.data(), {nullptr, 1});
      CAPTURE(n, m->weights.rows());
      CHECK(alone == *y);  // the same dot products, whichever thread computes them
    }
  }
}
