// Decode's 8-bit activations (int8_activations.hpp): the rounding against its rule in double
// precision, the Q4_1 and Q8_0 dot products against a double-precision oracle on the same rounded
// values, the AVX2 path (with VNNI where the build has it; act_test_isa_fallback builds it without)
// against the portable one, and the mode in matmul and the whole model.
#include <act/core/half.hpp>
#include <act/model/int8_activations.hpp>
#include <act/model/llama_model.hpp>
#include <act/model/llama_session.hpp>
#include <act/model/matmul.hpp>

#include <catch2/catch.hpp>

#include "../runner/tiny_llama.hpp"
#include "random_weights.hpp"
#include "test_paths.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

using namespace act::model;
using namespace act::testing;
using act::io::GgmlType;

#ifdef ACT_TEST_WITHOUT_VNNI
static_assert(!act::model::detail::int8_dot_uses_vnni, "the fallback build must not have VNNI");
#endif

namespace {

constexpr std::size_t block = 32;
constexpr double eps = 0x1p-24;

struct Rounded {
  std::vector<std::int8_t> quants;
  std::vector<float> scales, sums;
};

Rounded rounded(const std::vector<float>& x) {
  Int8Activations a;
  a.quantize(x.data(), 1, x.size());
  const Int8Row row = a.row(0);
  const std::size_t blocks = x.size() / block;
  return {{row.quants, row.quants + x.size()}, {row.scales, row.scales + blocks}, {row.sums, row.sums + blocks}};
}

// Checks one block of the rounding against the rule, computed in double: d = max|x| / 127 (float
// division is correctly rounded, and so is double's rounded to float: they agree), q within half a
// unit of x / d (ties may go either way by a rounding of the quotient), s = d * sum(q).
void check_block(const float* x, const std::int8_t* q, float scale, float sum) {
  double amax = 0.0;
  for (std::size_t i = 0; i < block; ++i) amax = std::max(amax, std::abs(static_cast<double>(x[i])));
  REQUIRE(scale == static_cast<float>(amax / 127.0));
  long total = 0;
  for (std::size_t i = 0; i < block; ++i) {
    const double quotient = scale > 0.0f ? x[i] / static_cast<double>(scale) : 0.0;
    CAPTURE(i, x[i], quotient, int{q[i]});
    REQUIRE(std::abs(q[i] - quotient) <= 0.5 + 1e-5);
    REQUIRE(std::abs(int{q[i]}) <= 127);
    total += q[i];
  }
  REQUIRE(sum == static_cast<float>(static_cast<double>(scale) * static_cast<double>(total)));
}

// One weight block decoded independently of the library: value = d * q + m.
struct WeightBlock {
  double d = 0.0, m = 0.0;
  int q[block] = {};
};

WeightBlock weight_block(GgmlType type, const std::byte* bytes) {
  const auto half = [](const std::byte* p) {
    return act::f16_to_f32(static_cast<std::uint16_t>(int(p[0]) | int(p[1]) << 8));
  };
  WeightBlock w;
  w.d = half(bytes);
  if (type == GgmlType::q4_1) {
    w.m = half(bytes + 2);
    for (std::size_t j = 0; j < 16; ++j) {
      w.q[j] = int(bytes[4 + j]) & 0x0F;
      w.q[j + 16] = int(bytes[4 + j]) >> 4;
    }
  } else {
    for (std::size_t j = 0; j < block; ++j) w.q[j] = static_cast<std::int8_t>(bytes[2 + j]);
  }
  return w;
}

// The dot product of a weight row with rounded activations, in double, and the magnitude float
// rounding errors scale with: sum |d_w d q_w q| over the elements (the AVX2 path sums a block in
// eight partial lanes, which may cancel) plus sum |m_w s| over the blocks.
struct Oracle {
  double value = 0.0, magnitude = 0.0;
};

Oracle oracle(GgmlType type, const std::vector<std::byte>& row, const Rounded& x) {
  const std::size_t block_bytes = act::io::type_traits(type).block_bytes;
  Oracle o;
  for (std::size_t b = 0; b < x.scales.size(); ++b) {
    const WeightBlock w = weight_block(type, row.data() + b * block_bytes);
    long sum = 0, abs_sum = 0;
    for (std::size_t i = 0; i < block; ++i) {
      sum += long{w.q[i]} * x.quants[b * block + i];
      abs_sum += std::abs(long{w.q[i]} * x.quants[b * block + i]);
    }
    const double scale = w.d * x.scales[b], offset = w.m * x.sums[b];
    o.value += scale * static_cast<double>(sum) + offset;
    o.magnitude += std::abs(scale) * static_cast<double>(abs_sum) + std::abs(offset);
  }
  return o;
}

// Float32 accumulation of exact integer sums: each term is rounded at most twice (the scale
// product, the scaled sum), the running sums once per block, and the eight lanes of the AVX2 path
// three times more when they are added up, so the error stays below (blocks + 6) * 2^-24 times
// the magnitude.
double tolerance(std::size_t blocks, const Oracle& o) { return static_cast<double>(blocks + 6) * eps * o.magnitude; }

template <class Format>
float dot_scalar(const std::vector<std::byte>& row, std::size_t cols, const Int8Activations& x) {
  return act::model::detail::dot_int8<Format, act::model::detail::ScalarBlockSums>(row.data(), cols, x.row(0));
}

float dot_library(GgmlType type, const std::vector<std::byte>& row, std::size_t cols, const Int8Activations& x) {
  float out = 0.0f;
  dot_rows_int8(type, row.data(), cols, x, 1, &out, 1);
  return out;
}

float dot_portable(GgmlType type, const std::vector<std::byte>& row, std::size_t cols, const Int8Activations& x) {
  return type == GgmlType::q4_1 ? dot_scalar<act::model::detail::Q4_1Int8>(row, cols, x)
                                : dot_scalar<act::model::detail::Q8_0Int8>(row, cols, x);
}

}  // namespace

TEST_CASE("int8 activations: random rows follow the rounding rule", "[model][int8]") {
  for (const float spread : {1e-3f, 1.0f, 300.0f}) {
    const std::vector<float> x = random_floats(1536, 3, spread);
    const Rounded r = rounded(x);
    for (std::size_t b = 0; b < r.scales.size(); ++b)
      check_block(x.data() + b * block, r.quants.data() + b * block, r.scales[b], r.sums[b]);
  }
}

TEST_CASE("int8 activations: zero, huge, extreme and tiny blocks", "[model][int8]") {
  std::vector<float> x(6 * block, 0.0f);
  x[block] = 1e30f;  // block 1: one huge value among small ones
  for (std::size_t i = 1; i < block; ++i) x[block + i] = 1.0f;
  for (std::size_t i = 0; i < block; ++i) x[2 * block + i] = -std::numeric_limits<float>::max();  // all -127
  x[3 * block] = -127.0f;  // block 3: d = 1 exactly, so halves are exact ties (to even)
  for (std::size_t i = 1; i < block; ++i) x[3 * block + i] = i % 3 == 0 ? 63.5f : (i % 3 == 1 ? 62.5f : -0.5f);
  x[4 * block + 7] = std::numeric_limits<float>::denorm_min();  // d underflows to 0: a zero block
  for (std::size_t i = 0; i < block; ++i) x[5 * block + i] = -0.0f;
  const Rounded r = rounded(x);
  for (std::size_t b = 0; b < 6; ++b) {
    CAPTURE(b);
    check_block(x.data() + b * block, r.quants.data() + b * block, r.scales[b], r.sums[b]);
  }
  CHECK(r.scales[0] == 0.0f);
  CHECK(r.quants[block] == 127);
  CHECK(std::all_of(r.quants.begin() + block + 1, r.quants.begin() + 2 * block, [](std::int8_t q) { return q == 0; }));
  CHECK(
      std::all_of(r.quants.begin() + 2 * block, r.quants.begin() + 3 * block, [](std::int8_t q) { return q == -127; }));
  CHECK(r.scales[3] == 1.0f);
  CHECK(r.quants[3 * block + 3] == 64);  // 63.5, 62.5 and -0.5 round to their even neighbours
  CHECK(r.quants[3 * block + 1] == 62);
  CHECK(r.quants[3 * block + 2] == 0);
  CHECK(r.scales[4] == 0.0f);
  CHECK(r.sums[4] == 0.0f);
  CHECK(std::all_of(r.quants.begin() + 4 * block, r.quants.end(), [](std::int8_t q) { return q == 0; }));
}

TEST_CASE("int8 activations: NaN or infinity makes the block's scale and sum NaN", "[model][int8]") {
  for (const float bad :
       {std::nanf(""), std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()}) {
    std::vector<float> x = random_floats(2 * block, 5);
    x[block + 3] = bad;
    const Rounded r = rounded(x);
    CAPTURE(bad);
    check_block(x.data(), r.quants.data(), r.scales[0], r.sums[0]);  // the other block is untouched
    CHECK(std::isnan(r.scales[1]));
    CHECK(std::isnan(r.sums[1]));
    CHECK(std::all_of(r.quants.begin() + block, r.quants.end(), [](std::int8_t q) { return q == 0; }));
    Int8Activations a;
    a.quantize(x.data(), 1, x.size());
    for (const GgmlType type : {GgmlType::q4_1, GgmlType::q8_0})
      CHECK(std::isnan(dot_library(type, random_blocks(type, 2, 9), 2 * block, a)));
  }
}

TEST_CASE("int8 dot products agree with a double-precision oracle on the same rounded values", "[model][int8]") {
  for (const GgmlType type : {GgmlType::q4_1, GgmlType::q8_0})
    for (const std::size_t cols : {std::size_t{32}, std::size_t{64}, std::size_t{576}, std::size_t{1536}}) {
      const std::vector<float> x = random_floats(cols, 11);
      Int8Activations a;
      a.quantize(x.data(), 1, cols);
      const Rounded r = rounded(x);
      for (std::uint32_t seed = 0; seed < 8; ++seed) {
        const std::vector<std::byte> row = random_blocks(type, cols / block, seed);
        const Oracle o = oracle(type, row, r);
        CAPTURE(act::io::type_name(type), cols, seed);
        CHECK(std::abs(dot_library(type, row, cols, a) - o.value) <= tolerance(cols / block, o));
        CHECK(std::abs(dot_portable(type, row, cols, a) - o.value) <= tolerance(cols / block, o));
      }
    }
}

TEST_CASE("int8 Q8_0 dot products: weight quant -128 against activations +-127", "[model][int8]") {
  std::vector<float> x(3 * block);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = i % 3 == 0 ? -1.0f : 1.0f;  // every quant +-127
  Int8Activations a;
  a.quantize(x.data(), 1, x.size());
  std::vector<std::byte> row = random_blocks(GgmlType::q8_0, 3, 4);
  for (std::size_t b = 0; b < 2; ++b)  // blocks 0 and 1 all -128; block 2 random
    std::fill_n(row.begin() + static_cast<std::ptrdiff_t>(b * 34 + 2), block, std::byte{0x80});
  const Oracle o = oracle(GgmlType::q8_0, row, rounded(x));
  CHECK(std::abs(dot_library(GgmlType::q8_0, row, x.size(), a) - o.value) <= tolerance(3, o));
  CHECK(std::abs(dot_portable(GgmlType::q8_0, row, x.size(), a) - o.value) <= tolerance(3, o));
}

#ifdef __AVX2__
TEST_CASE("int8 dot products: the AVX2 (or VNNI) integer sums equal the portable ones exactly", "[model][int8]") {
  const auto lanes_total = [](__m256i lanes) {
    alignas(32) std::int32_t v[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(v), lanes);
    std::int32_t total = 0;
    for (const std::int32_t lane : v) total += lane;
    return total;
  };
  std::vector<float> x = random_floats(48 * block, 21);
  for (std::size_t i = 0; i < block; ++i) x[i] = i % 2 ? 127.0f : -127.0f;  // extremes in block 0
  Int8Activations a;
  a.quantize(x.data(), 1, x.size());
  const std::int8_t* q = a.row(0).quants;
  std::vector<std::byte> q8 = random_blocks(GgmlType::q8_0, 48, 22);
  std::fill_n(q8.begin() + 2, block, std::byte{0x80});
  const std::vector<std::byte> q4 = random_blocks(GgmlType::q4_1, 48, 23);
  for (std::size_t b = 0; b < 48; ++b) {
    CAPTURE(b);
    using act::model::detail::Q4_1Int8, act::model::detail::Q8_0Int8;
    CHECK(lanes_total(act::model::detail::lane_sums<Q8_0Int8>(&q8[b * 34], q + b * block)) ==
          Q8_0Int8::block_sum(&q8[b * 34], q + b * block));
    CHECK(lanes_total(act::model::detail::lane_sums<Q4_1Int8>(&q4[b * 20], q + b * block)) ==
          Q4_1Int8::block_sum(&q4[b * 20], q + b * block));
  }
}
#endif

TEST_CASE("int8 dot products: the build's path and the portable one agree for rows of any length", "[model][int8]") {
  for (const GgmlType type : {GgmlType::q4_1, GgmlType::q8_0})
    for (const std::size_t cols : {std::size_t{32}, std::size_t{96}, std::size_t{576}, std::size_t{1536}})
      for (std::uint32_t seed = 0; seed < 16; ++seed) {
        const std::vector<float> x = random_floats(cols, 100 + seed);
        Int8Activations a;
        a.quantize(x.data(), 1, cols);
        const std::vector<std::byte> row = random_blocks(type, cols / block, 200 + seed);
        const Oracle o = oracle(type, row, rounded(x));
        CAPTURE(act::io::type_name(type), cols, seed);
        CHECK(std::abs(dot_library(type, row, cols, a) - dot_portable(type, row, cols, a)) <=
              2 * tolerance(cols / block, o));
      }
}

TEST_CASE("matmul with int8 decode activations: quantised weights only, decode only", "[model][int8][matmul]") {
  const TestMatrix a(GgmlType::q4_1, 40, 64, 31), b(GgmlType::q8_0, 24, 64, 32), c(GgmlType::f32, 8, 64, 33);
  for (const std::size_t n : {std::size_t{1}, std::size_t{3}, std::size_t{9}}) {
    const auto x = random_floats(n * 64, 34);
    Int8Activations quantised;
    quantised.quantize(x.data(), n, 64);
    for (const TestMatrix* m : {&a, &b, &c}) {
      const std::size_t rows = m->weights.rows();
      std::vector<float> f32(n * rows), int8(n * rows), expected(n * rows);
      matmul(m->weights, x.data(), n, f32.data(), {nullptr, 2, DecodeActivations::f32});
      matmul(m->weights, x.data(), n, int8.data(), {nullptr, 2, DecodeActivations::int8});
      for (std::size_t r = 0; r < rows; ++r)
        dot_rows_int8(m->weights.type(), m->weights.row(r), 64, quantised, n, expected.data() + r, rows);
      CAPTURE(n, act::io::type_name(m->weights.type()));
      // F32 weights and prefill-sized batches (n >= 8) keep float activations, bit for bit.
      const bool rounds = n < 8 && m->weights.type() != GgmlType::f32;
      CHECK(int8 == (rounds ? expected : f32));
    }
  }
}

namespace {

// Logits of `tokens` fed one per decode step.
std::vector<float> decode_steps(const LlamaModel& model, const std::vector<std::int32_t>& tokens) {
  Session session(model, {tokens.size(), 1, {}});
  std::vector<float> all;
  for (const std::int32_t t : tokens) {
    const std::vector<float> step = session.decode(t);
    all.insert(all.end(), step.begin(), step.end());
  }
  return all;
}

LlamaModel load_with(const std::filesystem::path& path, DecodeActivations decode) {
  return LlamaModel::load(path, portable_gemm(), {}, decode);
}

}  // namespace

TEST_CASE("int8 decode activations leave a model of F32 weights unchanged: tiny llama", "[model][int8]") {
  const auto build = [](DecodeActivations decode) {
    return LlamaModel(act::io::GgufFile::parse(TinyLlama{}.build(), "tiny.gguf"), portable_gemm(), {}, decode);
  };
  const LlamaModel f32 = build(DecodeActivations::f32), int8 = build(DecodeActivations::int8);
  const auto tokens = f32.tokenizer().encode("Once upon a time the cat", true);
  CHECK(decode_steps(int8, tokens) == decode_steps(f32, tokens));
}

TEST_CASE("int8 decode activations leave a model of F32 weights unchanged: stories260K", "[model][int8][shared]") {
  const auto path = stories_path();
  REQUIRE(path);
  const LlamaModel f32 = load_with(*path, DecodeActivations::f32), int8 = load_with(*path, DecodeActivations::int8);
  const auto tokens = f32.tokenizer().encode("Once upon a time, there was a little girl named Lily.", true);
  CHECK(decode_steps(int8, tokens) == decode_steps(f32, tokens));
}

// Rounding SmolLM2's decode activations to int8 moves its logits (up to ~20 in size) measurably:
// over 417 decode steps of 16 prompts (tools/compare_arithmetic.py --one-at-a-time) the largest
// difference from float activations was 2.0, the mean 0.20, the top-1 token the same at 95%; on
// this prompt 1.16 and 0.22, every top-1 the same. The bounds leave about a 2x margin; a wrong
// nibble order, sign or scale would move every logit by whole units.
TEST_CASE("SmolLM2: int8 decode activations stay close to float ones", "[model][int8][smollm]") {
  const auto path = smollm_path();
  REQUIRE(path);
  const LlamaModel f32 = load_with(*path, DecodeActivations::f32), int8 = load_with(*path, DecodeActivations::int8);
  const auto tokens = f32.tokenizer().encode("The capital of France is Paris, and the capital of Italy is Rome.", true);
  const std::vector<float> a = decode_steps(f32, tokens), b = decode_steps(int8, tokens);
  const std::size_t vocab = f32.config().vocab_size;
  double max_diff = 0.0, sum_diff = 0.0;
  std::size_t same_top = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    max_diff = std::max(max_diff, static_cast<double>(std::abs(a[i] - b[i])));
    sum_diff += std::abs(a[i] - b[i]);
  }
  for (std::size_t p = 0; p < tokens.size(); ++p) {
    const auto top = [&](const std::vector<float>& v) {
      return std::max_element(v.begin() + p * vocab, v.begin() + (p + 1) * vocab) - v.begin();
    };
    same_top += top(a) == top(b);
  }
  CAPTURE(max_diff, sum_diff / static_cast<double>(a.size()), same_top, tokens.size());
  CHECK(max_diff < 4.0);
  CHECK(sum_diff / static_cast<double>(a.size()) < 0.5);
  CHECK(same_top * 10 >= tokens.size() * 8);
}
