#pragma once
// Policies written as text, "name:arg1:arg2" (e.g. "column-mean:0.1:first", "scale-only:0.5"), as
// the runner's flags and the head-set file spell them. Each policy parses its own arguments from a
// PolicyArguments and writes them back with text(); errors are std::invalid_argument naming the
// policy, the argument and the accepted form, in one line.
#include <act/policies/keep_sink.hpp>

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace act {

class PolicyArguments {
 public:
  // `usage` is the accepted form shown in errors, e.g. "column-mean:TAU[:first|token0|none]".
  PolicyArguments(std::string_view usage, std::vector<std::string> values)
      : usage_(usage), values_(std::move(values)) {}

  std::size_t size() const noexcept { return values_.size(); }
  bool has(std::size_t i) const noexcept { return i < values_.size(); }

  void expect_count(std::size_t minimum, std::size_t maximum) const {
    if (values_.size() < minimum || values_.size() > maximum)
      fail("takes " + count_text(minimum, maximum) + " (got " + std::to_string(values_.size()) + ")");
  }

  // A finite real number in [low, high].
  float real(std::size_t i, std::string_view what, double low, double high) const {
    const std::string& text = values_.at(i);
    char* end = nullptr;
    const double value = text.empty() ? NAN : std::strtod(text.c_str(), &end);
    const bool whole_text = end != nullptr && *end == '\0';
    if (!whole_text || !std::isfinite(value) || value < low || value > high)
      fail(std::string(what) + " must be a finite number in [" + number(low) + ", " + number(high) + "] (got '" + text +
           "')");
    return static_cast<float>(value);
  }

  // A whole number >= minimum.
  std::size_t whole(std::size_t i, std::string_view what, std::size_t minimum) const {
    const std::string& text = values_.at(i);
    std::size_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc{} || end != text.data() + text.size() || value < minimum)
      fail(std::string(what) + " must be a whole number >= " + std::to_string(minimum) + " (got '" + text + "')");
    return value;
  }

  // first | token0 | none, or `fallback` when absent.
  KeepSink keep(std::size_t i, KeepSink fallback) const {
    if (!has(i)) return fallback;
    const std::string& text = values_[i];
    if (text == "first") return KeepSink::first_candidate;
    if (text == "token0") return KeepSink::token_zero;
    if (text == "none") return KeepSink::none;
    fail("the kept sink must be first, token0 or none (got '" + text + "')");
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw std::invalid_argument("policy '" + std::string(usage_) + "': " + what);
  }

 private:
  static std::string count_text(std::size_t minimum, std::size_t maximum) {
    if (maximum == 0) return "no arguments";
    return minimum == maximum ? std::to_string(minimum) + " argument(s)"
                              : std::to_string(minimum) + " to " + std::to_string(maximum) + " arguments";
  }
  // The shortest decimal that reads back as the same double, as the user would type it.
  static std::string number(double value) {
    char text[32];
    return std::string(text, std::to_chars(text, text + sizeof text, value).ptr);
  }

  std::string_view usage_;
  std::vector<std::string> values_;
};

inline std::string_view keep_text(KeepSink keep) {
  switch (keep) {
    case KeepSink::first_candidate: return "first";
    case KeepSink::token_zero: return "token0";
    case KeepSink::none: return "none";
  }
  return "first";
}

// A float as its shortest round-tripping decimal, so text() reads back as the same policy.
inline std::string float_text(float value) {
  char text[32];
  return std::string(text, std::to_chars(text, text + sizeof text, value).ptr);
}

}  // namespace act
