// The model's own GEMMs (model/row_gemm.hpp), float32 and bf16, against double-precision dot
// products, on every edge of their register blocks and register-wide chunks, with leading
// dimensions wider than the rows, and with infinities and NaN. The same file is built once more
// without AVX-512 BF16 (act_test_isa_fallback), where bf16_gemm's float-FMA fallback must meet the
// same bounds.
//
// Tolerances. Let a^, b^ be the operands as the GEMM multiplies them: themselves for f32_gemm,
// rounded to bfloat16 for bf16_gemm (8 significant bits: each moves by at most u_b = 2^-8 of
// itself). Products of two bfloat16 are exact in float32, and an FMA rounds once; however the k
// products are added (per lane and register step, then the lanes folded), each partial sum is
// rounded at most once per addition on a path of at most k additions, and a float32 product is
// rounded at most once more: |C - sum a^ b^| <= gamma_{k+1} * sum |a^ b^|, gamma_n = n u / (1 - n u),
// u = 2^-24 (Higham, Accuracy and Stability, 3.1). vdpbf16ps flushes subnormals, which moves a sum
// by at most 2^-126 per addition: k * 2^-126 is added. Against the unrounded operands each product
// of bf16_gemm moves by at most (2 u_b + u_b^2) |a b| on top.
#include <act/model/row_gemm.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstddef>
#include <limits>
#include <random>
#include <vector>

using namespace act;
using namespace act::model;

namespace {

#ifdef ACT_TEST_WITHOUT_BF16_DOT
static_assert(!bf16_gemm_native, "the fallback build must not have AVX-512 BF16");
#endif

constexpr double u = 1.0 / 16777216.0;            // 2^-24
constexpr double bf16_u = 1.0 / 256.0;            // 2^-8
constexpr double flush = 1.1754943508222875e-38;  // 2^-126

double rounded(float x) { return bf16_to_f32(f32_to_bf16(x)); }

std::vector<float> normal_values(std::size_t count, unsigned seed) {
  std::mt19937 engine(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> values(count);
  for (float& x : values) x = normal(engine);
  return values;
}

struct Shape {
  std::size_t m, n, k, pad;  // pad: extra elements per row in every leading dimension
};

// One GEMM under test and how it rounds its operands.
struct Arithmetic {
  const char* name;
  Gemm gemm;
  double (*operand)(float);  // the value the GEMM multiplies
  double operand_roundoff;   // |operand(x) - x| <= this * |x|
};

double as_is(float x) { return x; }

std::vector<Arithmetic> arithmetics() {
  return {{"f32", f32_gemm(), as_is, 0.0}, {"bf16", bf16_gemm(), rounded, bf16_u}};
}

// C from the GEMM, with a sentinel in the cells between rows that must stay untouched.
std::vector<float> run_gemm(const Gemm& gemm, const std::vector<float>& a, const std::vector<float>& b,
                            const Shape& s) {
  const std::size_t ldc = s.n + s.pad;
  std::vector<float> c(s.m * ldc, -7.0f);
  gemm({s.m, s.n, s.k, a.data(), s.k + s.pad, b.data(), s.k + s.pad, c.data(), ldc});
  return c;
}

void check_against_double(const Arithmetic& arithmetic, const Shape& s, unsigned seed) {
  const std::size_t lda = s.k + s.pad, ldc = s.n + s.pad;
  const auto a = normal_values(s.m * lda, seed), b = normal_values(s.n * lda, seed + 1);
  const auto c = run_gemm(arithmetic.gemm, a, b, s);
  const double steps = static_cast<double>(s.k + 1);
  const double gamma = steps * u / (1.0 - steps * u);
  const double product_roundoff =
      2 * arithmetic.operand_roundoff + arithmetic.operand_roundoff * arithmetic.operand_roundoff;
  for (std::size_t i = 0; i < s.m; ++i)
    for (std::size_t j = 0; j < ldc; ++j) {
      if (j >= s.n) {
        REQUIRE(c[i * ldc + j] == -7.0f);
        continue;
      }
      double exact = 0, of_rounded = 0, magnitude = 0, rounded_magnitude = 0;
      for (std::size_t t = 0; t < s.k; ++t) {
        const float x = a[i * lda + t], w = b[j * lda + t];
        exact += double{x} * w;
        of_rounded += arithmetic.operand(x) * arithmetic.operand(w);
        magnitude += std::abs(double{x} * w);
        rounded_magnitude += std::abs(arithmetic.operand(x) * arithmetic.operand(w));
      }
      const double accumulation = gamma * rounded_magnitude + static_cast<double>(s.k) * flush;
      INFO(arithmetic.name << ": m " << s.m << " n " << s.n << " k " << s.k << " at " << i << "," << j);
      REQUIRE(std::abs(c[i * ldc + j] - of_rounded) <= accumulation);
      REQUIRE(std::abs(c[i * ldc + j] - exact) <= product_roundoff * magnitude + accumulation);
    }
}

// Row 2 of A holds +inf against positive weights, row 4 of B a NaN: C[2][j] = +inf except column 4,
// column 4 is NaN, every other cell finite.
void check_special_values(const std::vector<float>& c, std::size_t m, std::size_t n) {
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      INFO("at " << i << "," << j);
      if (j == 4)
        REQUIRE(std::isnan(c[i * n + j]));
      else if (i == 2)
        REQUIRE(c[i * n + j] == std::numeric_limits<float>::infinity());
      else
        REQUIRE(std::isfinite(c[i * n + j]));
    }
}

}  // namespace

TEST_CASE("row GEMMs: every block and chunk edge within the error bound", "[model][gemm][bf16]") {
  for (const Arithmetic& arithmetic : arithmetics()) {
    unsigned seed = 1;
    for (const std::size_t m : {1u, 3u, 4u, 5u, 9u})
      for (const std::size_t n : {1u, 2u, 4u, 6u, 13u})
        for (const std::size_t k : {1u, 15u, 16u, 31u, 32u, 33u, 100u})
          for (const std::size_t pad : {0u, 3u}) check_against_double(arithmetic, {m, n, k, pad}, seed++);
  }
}

TEST_CASE("row GEMMs: the model's shapes (a prompt against a tile of SmolLM2 rows)", "[model][gemm][bf16]") {
  for (const Arithmetic& arithmetic : arithmetics()) {
    check_against_double(arithmetic, {37, 128, 576, 0}, 7);
    check_against_double(arithmetic, {9, 64, 1536, 0}, 8);
  }
}

TEST_CASE("row GEMMs: no inner dimension gives zeros", "[model][gemm][bf16]") {
  for (const Arithmetic& arithmetic : arithmetics()) {
    const std::vector<float> none;
    std::vector<float> c(6, 5.0f);
    arithmetic.gemm({2, 3, 0, none.data(), 0, none.data(), 0, c.data(), 3});
    for (const float x : c) REQUIRE(x == 0.0f);
  }
}

TEST_CASE("row GEMMs: an infinity or NaN reaches only its own row or column", "[model][gemm][bf16]") {
  const std::size_t m = 6, n = 7, k = 40;
  auto a = normal_values(m * k, 3), b = normal_values(n * k, 4);
  for (std::size_t j = 0; j < n; ++j) b[j * k + 5] = 1.0f;  // column 5 of every weight row positive
  a[2 * k + 5] = std::numeric_limits<float>::infinity();
  b[4 * k + 9] = std::numeric_limits<float>::quiet_NaN();
  for (const Arithmetic& arithmetic : arithmetics()) {
    const auto c = run_gemm(arithmetic.gemm, a, b, {m, n, k, 0});
    check_special_values(c, m, n);
  }
}
