#pragma once
// Pictures of attention maps as RGB pixel buffers (a PNG writer turns them into files):
// - heatmap(): one head's map, log-scaled colours, with a strip above the map marking the sink
//   columns (orange: the kept first candidate, red: the sinks ACT rescales);
// - overview(): every head of the model as a thumbnail, layers top to bottom, heads left to
//   right, each with its own sink strip.
#include <act/eval/inspect/attention_map.hpp>
#include <act/policies/column_mean_threshold.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

namespace act::eval {

struct RgbImage {
  std::size_t width = 0;
  std::size_t height = 0;
  std::vector<std::uint8_t> pixels;  // row-major RGB

  RgbImage(std::size_t w, std::size_t h, std::array<std::uint8_t, 3> fill = {255, 255, 255})
      : width(w), height(h), pixels(w * h * 3) {
    for (std::size_t i = 0; i < w * h; ++i)
      std::copy(fill.begin(), fill.end(), pixels.begin() + static_cast<std::ptrdiff_t>(3 * i));
  }
  void set(std::size_t x, std::size_t y, std::array<std::uint8_t, 3> rgb) {
    std::copy(rgb.begin(), rgb.end(), pixels.begin() + static_cast<std::ptrdiff_t>(3 * (y * width + x)));
  }
  std::array<std::uint8_t, 3> get(std::size_t x, std::size_t y) const {
    const std::size_t at = 3 * (y * width + x);
    return {pixels[at], pixels[at + 1], pixels[at + 2]};
  }
};

// Which columns of a map are marked, and how.
struct SinkMarks {
  std::vector<std::uint32_t> kept;        // candidates ACT leaves alone (the first one)
  std::vector<std::uint32_t> calibrated;  // the sinks ACT rescales
};

// Candidates of a map (column mean > tau); the paper's detector decides which one is kept.
inline SinkMarks sink_marks(const AttentionMap& map, float tau) {
  ColumnStats stats;
  stats.extend_to(map.n);
  SinkMarks marks;
  for (std::size_t j = 0; j < map.n; ++j) stats.received[j] = map.column_mean(j);
  stats.seen_by.add_row(map.n);  // the means as if one row saw every column
  ColumnMeanThreshold{tau}.select(stats.view(), marks.calibrated);
  for (std::size_t j = 0; j < map.n; ++j)
    if (stats.received[j] > tau && !std::binary_search(marks.calibrated.begin(), marks.calibrated.end(), j))
      marks.kept.push_back(static_cast<std::uint32_t>(j));
  return marks;
}

namespace detail {

inline constexpr std::array<std::uint8_t, 3> kept_colour = {255, 160, 0};
inline constexpr std::array<std::uint8_t, 3> calibrated_colour = {220, 0, 0};
inline constexpr std::array<std::uint8_t, 3> strip_colour = {60, 60, 60};
inline constexpr std::array<std::uint8_t, 3> masked_colour = {240, 240, 240};

// Dark blue (weight 1e-4 and below) through teal and green to yellow (weight 1), on a log scale.
inline std::array<std::uint8_t, 3> log_colour(float weight) {
  static constexpr std::array<std::array<float, 3>, 5> stops = {
      {{13, 8, 135}, {42, 120, 142}, {34, 168, 132}, {122, 209, 81}, {253, 231, 37}}};
  const float t = std::clamp((std::log10(std::max(weight, 1e-12f)) + 4.0f) / 4.0f, 0.0f, 1.0f);
  const float scaled = t * static_cast<float>(stops.size() - 1);
  const std::size_t low = std::min(static_cast<std::size_t>(scaled), stops.size() - 2);
  const float f = scaled - static_cast<float>(low);
  std::array<std::uint8_t, 3> rgb{};
  for (std::size_t c = 0; c < 3; ++c)
    rgb[c] = static_cast<std::uint8_t>(std::lround(stops[low][c] + f * (stops[low + 1][c] - stops[low][c])));
  return rgb;
}

// The strip's colour over columns [first, end): a pixel of a shrunk map covers several columns,
// and a sink among them must still show.
inline std::array<std::uint8_t, 3> strip_colour_of(const SinkMarks& marks, std::size_t first, std::size_t end) {
  const auto has = [&](const std::vector<std::uint32_t>& list) {
    return std::any_of(list.begin(), list.end(), [&](std::uint32_t c) { return c >= first && c < end; });
  };
  if (has(marks.kept)) return kept_colour;
  if (has(marks.calibrated)) return calibrated_colour;
  return strip_colour;
}

// A weight rounded to `per_decade` steps per decade of the log scale (0: unchanged). Banded
// thumbnails compress several times better as PNG, which keeps a 270-head overview small.
inline float banded(float weight, int per_decade) {
  if (per_decade <= 0 || !(weight > 0.0f)) return weight;
  const float steps = std::round(std::log10(weight) * static_cast<float>(per_decade));
  return std::pow(10.0f, steps / static_cast<float>(per_decade));
}

// Draws `map` scaled to size x size pixels at (x0, y0 + strip), with a `strip`-pixel marker row above.
inline void draw_map(RgbImage& image, const AttentionMap& map, const SinkMarks& marks, std::size_t x0, std::size_t y0,
                     std::size_t size, std::size_t strip, int bands_per_decade = 0) {
  for (std::size_t x = 0; x < size; ++x) {
    const std::size_t j = x * map.n / size;
    const auto mark = strip_colour_of(marks, j, std::max(j + 1, (x + 1) * map.n / size));
    for (std::size_t y = 0; y < strip; ++y) image.set(x0 + x, y0 + y, mark);
    for (std::size_t y = 0; y < size; ++y) {
      const std::size_t i = y * map.n / size;
      image.set(x0 + x, y0 + strip + y, j <= i ? log_colour(banded(map.at(i, j), bands_per_decade)) : masked_colour);
    }
  }
}

}  // namespace detail

// One head, `cell` pixels per token.
inline RgbImage heatmap(const AttentionMap& map, const SinkMarks& marks, std::size_t cell = 8) {
  const std::size_t size = map.n * cell, strip = std::max<std::size_t>(4, cell);
  RgbImage image(size, size + strip + 1);
  detail::draw_map(image, map, marks, 0, 0, size, strip);
  return image;
}

// Every head as a `tile`-pixel thumbnail; marks[layer][head] as for heatmap().
inline RgbImage overview(const std::vector<std::vector<AttentionMap>>& maps,
                         const std::vector<std::vector<SinkMarks>>& marks, std::size_t tile = 48) {
  constexpr std::size_t gap = 4, strip = 3;
  const std::size_t layers = maps.size(), heads = layers == 0 ? 0 : maps[0].size();
  RgbImage image(heads * (tile + gap) + gap, layers * (tile + strip + gap) + gap);
  for (std::size_t l = 0; l < layers; ++l)
    for (std::size_t h = 0; h < heads; ++h)
      detail::draw_map(image, maps[l][h], marks[l][h], gap + h * (tile + gap), gap + l * (tile + strip + gap), tile,
                       strip);
  return image;
}

}  // namespace act::eval
