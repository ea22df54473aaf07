#pragma once
// Attention figures a reader can follow without the terminal output, as SVG: text (layer and head
// labels, token text, titles, a colour scale) is vector, and each attention map is a raster image
// embedded as a PNG data URI (one <rect> per weight would make a 270-head overview megabytes).
// The PNG encoder is passed in, so this header needs no image library.
// - overview_svg(): every head's map as a thumbnail, layers down, heads across, calibrated heads
//   outlined, their calibrated sinks marked in the strip above the map;
// - head_svg(): one head before and after ACT side by side, token text on both axes;
// - sink_chart_svg(): the most frequent calibrated sinks away from position 0, as bars.
#include <act/eval/inspect/calibrated_sinks.hpp>
#include <act/eval/inspect/heatmap.hpp>

#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace act::eval {

using PngEncoder = std::function<std::string(const RgbImage&)>;  // returns the PNG file's bytes

namespace svg {

inline std::string escape(std::string_view text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

inline std::string base64(std::string_view bytes) {
  static constexpr char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    std::uint32_t chunk = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (i + 1 < bytes.size()) chunk |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    if (i + 2 < bytes.size()) chunk |= static_cast<unsigned char>(bytes[i + 2]);
    out += digits[(chunk >> 18) & 63];
    out += digits[(chunk >> 12) & 63];
    out += i + 1 < bytes.size() ? digits[(chunk >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? digits[chunk & 63] : '=';
  }
  return out;
}

inline std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", value);
  return text;
}

// "L12": built by appending (GCC 12 warns falsely, -Wrestrict, on "L" + std::to_string(i)).
inline std::string indexed(char prefix, std::size_t index) {
  std::string text(1, prefix);
  text += std::to_string(index);
  return text;
}

inline std::string number3(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", value);
  return text;
}

inline std::string hex(std::array<std::uint8_t, 3> rgb) {
  char text[8];
  std::snprintf(text, sizeof text, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
  return text;
}

// A document built element by element; str() closes it.
class Document {
 public:
  Document(double width, double height) {
    body_ =
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + number(width) + "\" height=\"" + number(height) +
        "\" font-family=\"DejaVu Sans, Arial, sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  }
  void text(double x, double y, std::string_view content, double size = 11, std::string_view anchor = "start",
            std::string_view extra = "") {
    body_ += "<text x=\"" + number(x) + "\" y=\"" + number(y) + "\" font-size=\"" + number(size) + "\" text-anchor=\"" +
             std::string(anchor) + "\" " + std::string(extra) + ">" + escape(content) + "</text>\n";
  }
  void rect(double x, double y, double w, double h, std::string_view fill, std::string_view extra = "") {
    body_ += "<rect x=\"" + number(x) + "\" y=\"" + number(y) + "\" width=\"" + number(w) + "\" height=\"" + number(h) +
             "\" fill=\"" + std::string(fill) + "\" " + std::string(extra) + "/>\n";
  }
  // `png` drawn at its own pixel size (no resampling: rasters are drawn at the size they are shown).
  void image(double x, double y, const RgbImage& raster, const PngEncoder& encode) {
    body_ += "<image x=\"" + number(x) + "\" y=\"" + number(y) + "\" width=\"" + std::to_string(raster.width) +
             "\" height=\"" + std::to_string(raster.height) + "\" href=\"data:image/png;base64," +
             base64(encode(raster)) + "\"/>\n";
  }
  void raw(std::string_view element) { body_ += element; }
  std::string str() const { return body_ + "</svg>\n"; }

 private:
  std::string body_;
};

// The maps' colour scale (log10 weight, heatmap.hpp's colours) as a bar with ticks at 1e-4..1.
inline void colour_scale(Document& doc, double x, double y, double width) {
  std::string stops;
  for (int i = 0; i <= 8; ++i) {
    const float weight = std::pow(10.0f, -4.0f + 0.5f * static_cast<float>(i));
    stops += "<stop offset=\"" + number(12.5 * i) + "%\" stop-color=\"" + hex(detail::log_colour(weight)) + "\"/>";
  }
  doc.raw("<defs><linearGradient id=\"scale\">" + stops + "</linearGradient></defs>\n");
  doc.rect(x, y, width, 12, "url(#scale)", "stroke=\"#444\" stroke-width=\"0.5\"");
  const char* const labels[] = {"1e-4 or less", "0.001", "0.01", "0.1", "1"};
  for (int i = 0; i <= 4; ++i) {
    const double at = x + width * i / 4.0;
    doc.rect(at - 0.5, y + 12, 1, 4, "#444");
    doc.text(at, y + 27, labels[i], 10, i == 0 ? "start" : i == 4 ? "end" : "middle");
  }
  doc.text(x + width / 2, y - 4, "attention weight (log scale); grey: masked (future) positions", 10, "middle");
}

}  // namespace svg

// Token text as an axis label: "index text", spaces shown as a middle dot, cut after 12 characters.
inline std::string token_label(std::string_view printable_text, std::size_t index) {
  std::string label = std::to_string(index) + " ";
  std::size_t characters = 0;
  for (std::size_t i = 0; i < printable_text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(printable_text[i]);
    const bool starts_character = (byte & 0xC0) != 0x80;
    if (starts_character && ++characters > 12) return label + "\u2026";
    label += byte == ' ' ? std::string("\u00b7") : std::string(1, printable_text[i]);
  }
  return label;
}

namespace detail {

inline SinkMarks calibrated_marks(const AttentionMap& calibrated) { return {{}, calibrated.sinks}; }

// One map drawn at `cell` pixels per token with its sink strip, as an embedded raster.
inline void map_image(svg::Document& doc, double x, double y, const AttentionMap& map, const SinkMarks& marks,
                      std::size_t cell, const PngEncoder& encode) {
  doc.image(x, y, heatmap(map, marks, cell), encode);
}

}  // namespace detail

// before[layer][head]: the plain maps drawn; after: the calibrated ones, whose sinks are marked on
// the heads of `heads` (outlined).
inline std::string overview_svg(const std::vector<std::vector<AttentionMap>>& before,
                                const std::vector<std::vector<AttentionMap>>& after, const HeadSet& heads,
                                std::string_view title, const PngEncoder& encode) {
  constexpr double left = 46, top = 114, label_gap = 6;
  constexpr std::size_t tile = 36, strip = 4, gap = 10;
  constexpr int bands_per_decade = 3;  // thumbnails: a third of a decade is what the eye tells apart at 36 px
  const std::size_t layers = before.size(), per_layer = layers == 0 ? 0 : before[0].size();
  const double width = left + static_cast<double>(per_layer * (tile + gap)) + 20;
  const double height = top + static_cast<double>(layers * (tile + strip + 1 + gap)) + 70;
  svg::Document doc(std::max(width, 640.0), height);
  doc.text(8, 18, title, 13, "start", "font-weight=\"bold\"");
  doc.text(8, 36, "Attention of every head in the plain model. Rows: layers; columns: heads;", 11);
  doc.text(8, 52, "each map: query token (down) x key token (across), token 0 top left.", 11);
  doc.text(8, 68, "Red outline: a head ACT calibrates; red in the strip above it: its calibrated sink columns.", 11);
  doc.text(8, 84, "Colours in steps of a third of a decade (the per-head figures are continuous).", 11);
  for (std::size_t h = 0; h < per_layer; ++h)
    doc.text(left + static_cast<double>(h * (tile + gap) + tile / 2), top - label_gap, svg::indexed('H', h), 11,
             "middle");
  for (std::size_t l = 0; l < layers; ++l) {
    const double y = top + static_cast<double>(l * (tile + strip + 1 + gap));
    doc.text(left - label_gap, y + static_cast<double>(tile) / 2 + 6, svg::indexed('L', l), 11, "end");
    for (std::size_t h = 0; h < per_layer; ++h) {
      const double x = left + static_cast<double>(h * (tile + gap));
      const bool calibrated = heads.contains(static_cast<std::uint32_t>(l), static_cast<std::uint32_t>(h));
      const SinkMarks marks = calibrated ? detail::calibrated_marks(after[l][h]) : SinkMarks{};
      RgbImage thumbnail(tile, tile + strip + 1);
      act::eval::detail::draw_map(thumbnail, before[l][h], marks, 0, 0, tile, strip, bands_per_decade);
      doc.image(x, y, thumbnail, encode);
      if (calibrated)
        doc.rect(x - 2.5, y - 2.5, tile + 5.0, static_cast<double>(tile + strip + 1) + 5.0, "none",
                 "stroke=\"#d00\" stroke-width=\"2\"");
    }
  }
  svg::colour_scale(doc, left, height - 44, std::min(300.0, width - left - 20));
  return doc.str();
}

// One head before and after ACT; labels[i]: token_label() of token i; policy: the calibration's text.
inline std::string head_svg(const AttentionMap& before, const AttentionMap& after, HeadId id,
                            const std::vector<std::string>& labels, std::string_view policy, const PngEncoder& encode) {
  const std::size_t n = before.n, cell = std::clamp<std::size_t>(480 / std::max<std::size_t>(n, 1), 6, 16);
  const double map_size = static_cast<double>(n * cell), strip = static_cast<double>(std::max<std::size_t>(4, cell));
  constexpr double label_width = 120, top = 90, gap = 40;
  const double left = label_width + 8, right_map = left + map_size + gap;
  const double label_band = label_width, height = top + strip + map_size + label_band + 70;
  svg::Document doc(std::max(right_map + map_size + 20, 520.0), height);
  doc.text(
      8, 18,
      "Layer " + std::to_string(id.layer) + ", head " + std::to_string(id.head) + ": attention before and after ACT",
      13, "start", "font-weight=\"bold\"");
  doc.text(8, 36, "policy " + std::string(policy) + "; red in the strip above a map: the sink columns ACT calibrates",
           11);
  const SinkMass mass = sink_mass(before, after);
  const double rows = static_cast<double>(std::max<std::size_t>(mass.rows, 1));
  doc.text(8, 52,
           std::to_string(mass.rows) + " of " + std::to_string(n) +
               " rows calibrated; their mean weight on the sinks: " + svg::number3(mass.before / rows) + " before, " +
               svg::number3(mass.after / rows) + " after",
           11);
  const SinkMarks marks = detail::calibrated_marks(after);
  const double map_top = top;
  for (const auto& [x, map, name] :
       {std::tuple{left, &before, "before ACT (plain model)"}, std::tuple{right_map, &after, "after ACT"}}) {
    doc.text(x + map_size / 2, map_top - 8, name, 12, "middle");
    detail::map_image(doc, x, map_top, *map, marks, cell, encode);
    for (std::size_t j = 0; j < n && j < labels.size(); ++j) {  // key tokens below the map, read bottom-up
      const double cx = x + static_cast<double>(j * cell) + static_cast<double>(cell) / 2 + 3.5;
      const double cy = map_top + strip + 1 + map_size + 4;
      doc.text(cx, cy, labels[j], std::min(10.0, static_cast<double>(cell)), "end",
               "transform=\"rotate(-90 " + svg::number(cx) + " " + svg::number(cy) + ")\"");
    }
  }
  for (std::size_t i = 0; i < n && i < labels.size(); ++i)  // query tokens left of the first map
    doc.text(left - 4, map_top + strip + static_cast<double>(i * cell) + static_cast<double>(cell) / 2 + 3.5, labels[i],
             std::min(10.0, static_cast<double>(cell)), "end");
  doc.text(left + map_size / 2, map_top + strip + map_size + label_band + 14, "key (attended) token", 10, "middle");
  svg::colour_scale(doc, right_map, height - 40, std::min(300.0, map_size));
  return doc.str();
}

// Bars of the most frequent calibrated sinks away from position 0 (summary.top_tokens(k, true)).
inline std::string sink_chart_svg(const std::vector<SinkTokenCount>& top, std::string_view title, std::size_t pairs) {
  constexpr double label_width = 150, bar_width = 360, row = 20, top_margin = 48;
  const double height = top_margin + row * static_cast<double>(std::max<std::size_t>(top.size(), 1)) + 30;
  svg::Document doc(label_width + bar_width + 140, height);
  doc.text(8, 18, title, 13, "start", "font-weight=\"bold\"");
  doc.text(8, 34,
           "bar: calibrated sink columns with this token away from position 0, over " + std::to_string(pairs) +
               " (prompt, head) pairs",
           10);
  const double most = top.empty() ? 1.0 : static_cast<double>(top.front().count);
  for (std::size_t i = 0; i < top.size(); ++i) {
    const double y = top_margin + row * static_cast<double>(i);
    const double length = bar_width * static_cast<double>(top[i].count) / most;
    doc.text(label_width - 6, y + 13, "'" + top[i].token + "'", 11, "end");
    doc.rect(label_width, y + 3, length, row - 6, "#c0392b");
    doc.text(label_width + length + 6, y + 13,
             std::to_string(top[i].count) + " (interior " + std::to_string(top[i].interior) + ", last " +
                 std::to_string(top[i].final) + ")",
             10);
  }
  if (top.empty()) doc.text(label_width, top_margin + 13, "no calibrated sink away from position 0", 11);
  return doc.str();
}

}  // namespace act::eval
