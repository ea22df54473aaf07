// Head-set JSON bytes -> HeadSet::from_json_text. Malformed input must end in act::FormatError;
// a set that reads must read back the same from what it writes (to_json).
#include <act/heads/head_set.hpp>

#include "fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace {

bool same_measurements(const act::HeadSet& a, const act::HeadSet& b) {
  if (a.measurements.size() != b.measurements.size()) return false;
  for (std::size_t i = 0; i < a.measurements.size(); ++i)
    if (a.measurements[i].id != b.measurements[i].id || a.measurements[i].values != b.measurements[i].values)
      return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  act::HeadSet set;
  try {
    set = act::HeadSet::from_json_text(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.json");
  } catch (const act::FormatError& error) {
    FUZZ_CHECK(std::string_view(error.what()).starts_with("act: fuzz.json: "));
    return 0;
  }
  const act::HeadSet again = act::HeadSet::from_json_text(set.to_json().dump(), "written");
  FUZZ_CHECK(again.heads() == set.heads() && again.model == set.model && again.beta == set.beta &&
             again.tau == set.tau && again.factors() == set.factors() && same_measurements(again, set));
  return 0;
}
