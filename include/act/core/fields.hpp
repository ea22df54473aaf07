#pragma once
// Splitting text at a separator, keeping empty fields: policy text ("column-mean:0.1:first") and
// the runner's comma lists are read with it, and an empty field is for the caller to refuse.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace act {

// The fields of `text` between `separator`s, empty ones included ("a::b" has three, "" has one).
inline std::vector<std::string> split_fields(std::string_view text, char separator) {
  std::vector<std::string> fields;
  std::size_t start = 0;
  for (std::size_t at = text.find(separator); at != std::string_view::npos; at = text.find(separator, start)) {
    fields.emplace_back(text.substr(start, at - start));
    start = at + 1;
  }
  fields.emplace_back(text.substr(start));
  return fields;
}

}  // namespace act
