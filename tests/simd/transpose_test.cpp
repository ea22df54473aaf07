// The rows-to-panel transpose against its definition, element by element: every row count of a
// block, column counts around the 16-column tiles, and values that include NaN, infinities and
// signed zeros (the same single multiplication must give the same bits).
#include <act/simd/transpose.hpp>

#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace {

bool same_bits(float a, float b) {
  return std::isnan(a) ? std::isnan(b) : std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(b);
}

// Rows of `cols` floats at a stride of cols + 3 (rows need not be contiguous), with special values.
std::vector<float> make_rows(std::size_t cols, std::mt19937& rng) {
  std::vector<float> rows(act::simd::width * (cols + 3));
  std::normal_distribution<float> normal;
  for (float& x : rows) x = normal(rng);
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(),
                            std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(),
                            -0.0f,
                            0.0f,
                            std::numeric_limits<float>::denorm_min()};
  for (std::size_t i = 0; i < std::size(specials); ++i) rows[(i * 37) % rows.size()] = specials[i];
  return rows;
}

}  // namespace

TEST_CASE("simd: transpose_rows equals the element-by-element panel", "[simd]") {
  std::mt19937 rng(11);
  const std::size_t width = act::simd::width;
  for (const std::size_t cols : {1u, 15u, 16u, 17u, 31u, 32u, 64u, 65u, 80u}) {
    const std::vector<float> rows = make_rows(cols, rng);
    const auto row_of = [&](std::size_t t) { return rows.data() + t * (cols + 3); };
    for (std::size_t count = 0; count <= width; ++count) {
      for (const float scale : {0.125f, -1.5f}) {
        std::vector<float> panel(cols * width, 42.0f);
        act::simd::transpose_rows(row_of, count, cols, scale, panel.data());
        std::size_t mismatches = 0;
        for (std::size_t c = 0; c < cols; ++c)
          for (std::size_t t = 0; t < width; ++t) {
            const float expected = t < count ? row_of(t)[c] * scale : 0.0f;
            mismatches += same_bits(panel[c * width + t], expected) ? 0 : 1;
          }
        INFO("cols " << cols << ", rows " << count << ", scale " << scale);
        CHECK(mismatches == 0);
      }
    }
  }
}
