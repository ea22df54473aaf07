#pragma once
// Encodes an RGB image as PNG bytes in memory (stb_image_write; its implementation lives in
// png_writer.cpp only), for the SVG figures' embedded rasters.
#include <act/eval/inspect/heatmap.hpp>

#include <string>

namespace act_llama {

// Throws act::Error when encoding fails.
std::string encode_png(const act::eval::RgbImage& image);

}  // namespace act_llama
