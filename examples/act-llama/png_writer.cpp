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

std::string encode_png(const act::eval::RgbImage& image) {
  std::string bytes;
  const auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<std::size_t>(size));
  };
  const int ok = stbi_write_png_to_func(append, &bytes, static_cast<int>(image.width), static_cast<int>(image.height),
                                        3, image.pixels.data(), static_cast<int>(image.width * 3));
  if (ok == 0)
    throw act::Error("cannot encode a " + std::to_string(image.width) + "x" + std::to_string(image.height) + " PNG");
  return bytes;
}

}  // namespace act_llama
