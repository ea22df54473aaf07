#pragma once
// Errors the library throws. Bad input (files, shapes, arguments) is always reported through
// these or std::invalid_argument, never by crashing or returning garbage.
#include <stdexcept>
#include <string>

namespace act {

// Base of everything the library throws about its inputs. A message may quote a string read from a
// file, and a NUL byte in it would end what() there, cutting off the rest: NUL is written as \x00.
struct Error : std::runtime_error {
  explicit Error(const std::string& what) : std::runtime_error(without_nul(what)) {}
  explicit Error(const char* what) : std::runtime_error(what) {}

 private:
  static std::string without_nul(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
      if (c == '\0') {
        out += "\\x00";
      } else {
        out += c;
      }
    }
    return out;
  }
};

// A file or text the library reads is malformed; the message names the source and where.
struct FormatError : Error {
  using Error::Error;
};

// The input is well formed but asks for something this library does not support
// (a tensor type, an architecture, a tokenizer model).
struct UnsupportedError : Error {
  using Error::Error;
};

namespace detail {
// Shapes, strides or sizes of a call that do not fit together: std::invalid_argument, as the
// standard library reports bad arguments.
[[noreturn]] inline void shape_error(const std::string& what) { throw std::invalid_argument("act: " + what); }
}  // namespace detail

}  // namespace act
