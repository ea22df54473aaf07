// The one translation unit that compiles stb_image_write (Debian libstb-dev).
#include "png_writer.hpp"

#include <act/core/error.hpp>
#include <act/core/files.hpp>

#include <string>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wpedantic"
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

namespace act_llama {

namespace {

// stb hands the encoded PNG over in pieces; they are collected in memory.
void append_bytes(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<std::size_t>(size));
}

}  // namespace

// Encoded in memory, then written atomically: a full disk is an error and never leaves half a PNG.
void write_png(const std::filesystem::path& path, const act::eval::RgbImage& image) {
  std::string encoded;
  const int ok =
      stbi_write_png_to_func(append_bytes, &encoded, static_cast<int>(image.width), static_cast<int>(image.height), 3,
                             image.pixels.data(), static_cast<int>(image.width * 3));
  if (ok == 0) throw act::Error("cannot encode " + path.string() + " as PNG");
  act::write_file_atomically(path, encoded);
}

}  // namespace act_llama
