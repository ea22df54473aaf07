#pragma once
// Writes an RGB image as PNG (stb_image_write; its implementation lives in png_writer.cpp only).
#include <act/eval/inspect/heatmap.hpp>

#include <filesystem>

namespace act_llama {

// Throws act::Error when the file cannot be written.
void write_png(const std::filesystem::path& path, const act::eval::RgbImage& image);

}  // namespace act_llama
