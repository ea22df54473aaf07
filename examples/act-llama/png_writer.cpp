// The one translation unit that compiles stb_image_write (Debian libstb-dev).
#include "png_writer.hpp"

#include <act/core/error.hpp>

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

void write_png(const std::filesystem::path& path, const act::eval::RgbImage& image) {
  const int ok = stbi_write_png(path.string().c_str(), static_cast<int>(image.width), static_cast<int>(image.height), 3,
                                image.pixels.data(), static_cast<int>(image.width * 3));
  if (ok == 0) throw act::Error("cannot write " + path.string());
}

}  // namespace act_llama
